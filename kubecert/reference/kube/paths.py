"""Which object a request path names within one group version: ``RESOURCE`` (every object, in every
namespace), ``RESOURCE/NAME`` (cluster-scoped), ``namespaces/NS/RESOURCE[/NAME[/SUBRESOURCE]]``; anything
else is kube-apiserver's 404."""

from __future__ import annotations

from dataclasses import dataclass

from kubecert.reference.kube.discovery import Resource
from kubecert.reference.kube.objects import ApiError


@dataclass(frozen=True)
class Location:
    resource: Resource
    namespace: str | None  # None: cluster-scoped, or every namespace
    name: str | None  # None: the collection
    subresource: str | None = None  # "log" of pods/log


def _no_route() -> ApiError:
    return ApiError(404, "the server could not find the requested resource")


def locate(resources: tuple[Resource, ...], rest: list[str]) -> Location:
    """The location ``rest`` (the path after the group version) names among ``resources``."""
    by_name = {resource.name: resource for resource in resources}

    def found(plural: str, *, namespaced: bool | None = None) -> Resource:
        resource = by_name.get(plural)
        if resource is None or "/" in plural or (namespaced is not None and resource.namespaced != namespaced):
            raise _no_route()
        return resource

    if len(rest) == 1:
        return Location(found(rest[0]), None, None)
    if len(rest) == 2:
        return Location(found(rest[0], namespaced=False), None, rest[1])
    if rest[0] != "namespaces" or len(rest) > 5:
        raise _no_route()
    resource = found(rest[2], namespaced=True)
    if len(rest) == 5:
        if f"{rest[2]}/{rest[4]}" not in by_name:
            raise _no_route()
        return Location(resource, rest[1], rest[3], rest[4])
    return Location(resource, rest[1], rest[3] if len(rest) == 4 else None)
