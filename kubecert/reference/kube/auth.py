"""Who is asking and what they may do: x509 client-certificate authentication and authorization.

As kube-apiserver's x509 authenticator: the TLS layer has already verified that the certificate
chains to the --client-ca-file; the user is the subject's CN, the groups its O values. Authorization
stands in for kubeadm's RBAC bindings: kubeadm:cluster-admins and system:masters may do everything,
system:nodes may read nodes and ConfigMaps, every authenticated user may read discovery, /version and
the health endpoints; beyond that, what the Roles and bindings clients created grant (rbac.py), and
nothing else. The anonymous user does not exist here
(``--anonymous-auth=false``): a request without a valid certificate is 401, an expired one too (the
handshake checks only its chain, as kube-apiserver's does).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from kubecert.layout import CLUSTER_ADMINS, SYSTEM_MASTERS
from kubecert.reference.kube.discovery import CONFIGMAPS, NODES, Resource
from kubecert.reference.kube.objects import ApiError, bounded
from kubecert.reference.kube.rbac import Rbac

ADMIN_GROUPS = frozenset({CLUSTER_ADMINS, SYSTEM_MASTERS})
NODES_GROUP = "system:nodes"
_NODE_READABLE = frozenset({NODES.name, CONFIGMAPS.name})
_READ_VERBS = frozenset({"get", "list", "watch"})
_NAME_LIMIT = 253  # the longest name Kubernetes accepts (a DNS subdomain)


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()


def identity_of(der: bytes | None, now: dt.datetime | None = None) -> Identity | None:
    """The identity a client certificate whose chain TLS verified (DER, as ``SSLSocket.getpeercert(True)``
    gives it) carries, when it is inside its validity ``now``."""
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    moment = now or dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
        return None  # kube-apiserver: "x509: certificate has expired or is not yet valid", answered 401
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names:
        return None  # kube-apiserver refuses a client certificate without a CN
    groups = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return Identity(user=str(names[0].value), groups=groups)


def authenticated(identity: Identity | None) -> Identity:
    if identity is None:
        raise ApiError(401, "Unauthorized")
    return identity


class Authorizer:
    """kubeadm's fixed bindings, then ``rbac`` (the RBAC objects clients made)."""

    def __init__(self, rbac: Rbac | None = None) -> None:
        self.rbac = rbac

    def allowed(self, identity: Identity, verb: str, resource: Resource, *, name: str | None = None,
                namespace: str | None = None) -> bool:
        if ADMIN_GROUPS.intersection(identity.groups):
            return True
        if NODES_GROUP in identity.groups and resource.name in _NODE_READABLE and verb in _READ_VERBS:
            return True
        return self.rbac is not None and self.rbac.allows(identity.user, identity.groups, verb, resource,
                                                          namespace=namespace, name=name)

    def authorize(self, identity: Identity, verb: str, resource: Resource, *, name: str | None,
                  namespace: str | None) -> None:
        """Raise kube-apiserver's 403 when ``identity`` may not ``verb`` the resource."""
        if not self.allowed(identity, verb, resource, name=name, namespace=namespace):
            raise forbidden(identity, verb, resource, name=name, namespace=namespace)


def forbidden(identity: Identity, verb: str, resource: Resource, *, name: str | None, namespace: str | None
              ) -> ApiError:
    # Names come from the request path: repeated at most as long as a valid name can be.
    shown = bounded(name, _NAME_LIMIT) if name else None
    plural = resource.qualified.split("/")[0]  # pods/log is asked of a pod
    subject = f'{plural} "{shown}"' if shown else plural
    scope = f'in the namespace "{bounded(namespace, _NAME_LIMIT)}"' if namespace else "at the cluster scope"
    message = (f'{subject} is forbidden: User "{bounded(identity.user, _NAME_LIMIT)}" cannot {verb} resource '
               f'"{resource.name}" in API group "{resource.group}" {scope}')
    details = {"name": shown, "group": resource.group, "kind": resource.name.split("/")[0]}
    return ApiError(403, message, {key: value for key, value in details.items() if value})
