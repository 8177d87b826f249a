"""The floor of checking a fleet's certificates: read, parse and signature-verify every certificate of every
tree in one Python process, with `cryptography`, and nothing else (no rules, no reports).

    python benchmarks/_floor.py FILES.txt    # one certificate file per line (fleet.py writes it)

Each tree's kubeconfigs are read for their embedded client certificates too, as kubecert reads them. A leaf
is verified with the CA of its tree whose subject is its issuer; a self-signed certificate with itself.
"""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

_EMBEDDED = re.compile(rb"client-certificate-data:\s*(\S+)")


def certificates(files: list[Path]) -> dict[Path, list[x509.Certificate]]:
    """Per tree (its kubernetes folder), every certificate it holds."""
    trees: dict[Path, list[x509.Certificate]] = {}
    for path in files:
        tree = next(folder for folder in path.parents if folder.name == "kubernetes")  # fleet.py's trees
        found = trees.get(tree)
        if found is None:
            found = trees[tree] = []
            for kubeconfig in tree.glob("*.conf"):
                for data in _EMBEDDED.findall(kubeconfig.read_bytes()):
                    found.append(x509.load_pem_x509_certificate(base64.b64decode(data)))
        found.append(x509.load_pem_x509_certificate(path.read_bytes()))
    return trees


def verified(chain: list[x509.Certificate]) -> int:
    by_subject = {cert.subject: cert for cert in chain}
    bad = 0
    for cert in chain:
        issuer = by_subject.get(cert.issuer)
        if issuer is None:
            continue
        try:
            cert.verify_directly_issued_by(issuer)
        except (InvalidSignature, ValueError, TypeError):
            bad += 1
    return bad


def main() -> int:
    files = [Path(line) for line in Path(sys.argv[1]).read_text().splitlines() if line]
    trees = certificates(files)
    bad = sum(verified(chain) for chain in trees.values())
    print(f"{sum(len(c) for c in trees.values())} certificates in {len(trees)} trees, {bad} not verified")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
