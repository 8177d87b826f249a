"""A stand-in for ``kubeadm certs generate-csr --cert-dir D/pki --kubeconfig-dir D`` (v1.28.7, as observed on a
node it made), for the tests that judge its real layout through ``--csr-command``:

- ``D/pki/{apiserver,apiserver-kubelet-client,apiserver-etcd-client,front-proxy-client}.{csr,key}`` and
  ``D/pki/etcd/{server,peer,healthcheck-client}.{csr,key}``;
- for admin, controller-manager, scheduler and kubelet a ``D/<name>.conf.csr`` beside a ``D/<name>.conf`` that
  holds only the private key (``client-key-data``; no certificate, no CA);
- the key first (keyutil.WriteKey makes a missing folder 0755), then the CSR (pkiutil.WriteCSR's 0700 then finds
  the folder there); files 0600; folders 0755 less the umask (022 as on a root shell unless ``--umask`` says), so
  never writable by group or others. ``--folder-mode 775`` stands for a renewer that is not kubeadm.

kubeadm takes names and addresses from its configuration; the stand-in takes them from the node's certificates
(``--node``), which is what a configuration that made the node says. Keys are of the node's algorithm, as
kubeadm's encryptionAlgorithm makes them. ``--copy-to`` keeps a copy of what was written (the check removes its
folder), so a test can look for the keys in a report.

    python kubeadm_generate_csr.py --node NODE --cert-dir D/pki --kubeconfig-dir D [--umask 077] [--folder-mode 775]
                                   [--copy-to DIR]
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

LEAVES = ("apiserver", "apiserver-kubelet-client", "apiserver-etcd-client", "front-proxy-client",
          "etcd/server", "etcd/peer", "etcd/healthcheck-client")
KUBECONFIGS = ("admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf")

Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _new_key(like: x509.Certificate) -> Key:
    public = like.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        return ec.generate_private_key(public.curve)
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: Key) -> bytes:
    # PKCS#1 for RSA, SEC 1 for EC: what keyutil.MarshalPrivateKeyToPEM writes
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _csr(cert: x509.Certificate, key: Key) -> bytes:
    """pkiutil.NewCSR: the subject's CN and O and the SANs, no usages."""
    names = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(o.value))
             for o in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    names += [x509.NameAttribute(NameOID.COMMON_NAME, str(a.value))
              for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names))
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        builder = builder.add_extension(san, critical=False)
    except x509.ExtensionNotFound:
        pass
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _mkdir_all(folder: Path, mode: int) -> None:
    """Go's os.MkdirAll: every missing folder down to ``folder`` made with ``mode`` (less the umask)."""
    if folder.is_dir():
        return
    _mkdir_all(folder.parent, mode)
    folder.mkdir(mode)


def _write_pair(folder: Path, name: str, key_bytes: bytes, csr: bytes, key_file: Path, folder_mode: int) -> None:
    """The key (or the kubeconfig that holds it) first, its folders made 0755 less the umask, then the CSR."""
    _mkdir_all(key_file.parent, folder_mode)
    _write(key_file, key_bytes)
    _mkdir_all((folder / f"{name}.csr").parent, 0o700)  # pkiutil.WriteCSR: the folder is there by now
    _write(folder / f"{name}.csr", csr)


def _write(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # generate-csr never overwrites
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)


def _key_only_kubeconfig(node_kubeconfig: Path, key: Key) -> bytes:
    """kubeconfigutil.CreateWithCerts with an empty CA and an empty client certificate: only the key is there."""
    source = yaml.safe_load(node_kubeconfig.read_bytes())
    server = source["clusters"][0]["cluster"]["server"]
    user = source["contexts"][0]["context"]["user"]
    document = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "kubernetes", "cluster": {"server": server}}],
        "contexts": [{"name": f"{user}@kubernetes", "context": {"cluster": "kubernetes", "user": user}}],
        "current-context": f"{user}@kubernetes",
        "users": [{"name": user, "user": {"client-key-data": base64.b64encode(_key_pem(key)).decode()}}],
    }
    return yaml.safe_dump(document, sort_keys=False).encode()


def _embedded_or_named(node: Path, name: str) -> x509.Certificate:
    """The client certificate a node's kubeconfig embeds, or the file its user names (kubelet.conf after
    kubelet-finalize names the kubelet's rotating file, which a copy of the node keeps beside it)."""
    user = yaml.safe_load((node / name).read_bytes())["users"][0]["user"]
    if "client-certificate-data" in user:
        return x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))
    current = node / "kubelet" / "pki" / "kubelet-client-current.pem"  # an absolute link to the node's own folder
    return x509.load_pem_x509_certificate((current.parent / Path(os.readlink(current)).name).read_bytes())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--node", type=Path, required=True)
    parser.add_argument("--cert-dir", type=Path, required=True)
    parser.add_argument("--kubeconfig-dir", type=Path, required=True)
    parser.add_argument("--umask", default="022")
    # What kubeadm never does (its 0755 has no write bit for others to keep): a renewer that makes its folders
    # writable by their group, for the failing side of KC-CSR-02.
    parser.add_argument("--folder-mode", default="755")
    parser.add_argument("--copy-to", type=Path)
    args = parser.parse_args()
    os.umask(int(args.umask, 8))
    folder_mode = int(args.folder_mode, 8)
    for stem in LEAVES:
        cert = x509.load_pem_x509_certificate((args.node / "pki" / f"{stem}.crt").read_bytes())
        key = _new_key(cert)
        _write_pair(args.cert_dir, stem, _key_pem(key), _csr(cert, key), args.cert_dir / f"{stem}.key", folder_mode)
        print(f"[certs] Generating CSR for {stem} instead of certificate")
    for name in KUBECONFIGS:
        cert = _embedded_or_named(args.node, name)
        key = _new_key(cert)
        _write_pair(args.kubeconfig_dir, name, _key_only_kubeconfig(args.node / name, key), _csr(cert, key),
                    args.kubeconfig_dir / name, folder_mode)
        print(f"[kubeconfig] Generating CSR for {name}")
    if args.copy_to is not None:
        shutil.copytree(args.kubeconfig_dir, args.copy_to)


if __name__ == "__main__":
    main()
