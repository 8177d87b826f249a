"""Reading a target's files defensively: bounded, non-blocking, every failure a Problem, never an exception."""

from __future__ import annotations

import errno
import grp
import os
import pwd
import re
import stat
import warnings
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning

from kubecert.inventory.model import FileFacts, KeyFacts, Problem, ProblemKind, PublicKeyFacts

# kubeadm's largest file is a kubeconfig of a few KiB; anything this big is not one of them.
MAX_FILE_BYTES = 1 << 20

_PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")


class ReadFailure(Exception):
    """A file could not be turned into what was expected; carries the Problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.describe())
        self.problem = problem


def file_facts(path: Path) -> FileFacts | None:
    """Mode and owner of ``path`` itself (a symlink is described, not followed); None if absent."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    kind = "file"
    if stat.S_ISDIR(st.st_mode):
        kind = "dir"
    elif stat.S_ISLNK(st.st_mode):
        kind = "symlink"
    elif not stat.S_ISREG(st.st_mode):
        kind = "other"
    return FileFacts(
        path=str(path), mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
        owner=_user_name(st.st_uid), group=_group_name(st.st_gid), kind=kind,
    )


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def walk(root: Path) -> Iterator[FileFacts]:
    """Every entry below ``root`` (root included), without following symlinks."""
    facts = file_facts(root)
    if facts is None:
        return
    yield facts
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False, onerror=lambda _err: None):
        for name in sorted(dirnames) + sorted(filenames):
            entry = file_facts(Path(dirpath) / name)
            if entry is not None:
                yield entry


def read_bytes(path: Path, subject: str) -> bytes:
    """The content of a regular file, or ReadFailure naming the file and what went wrong."""

    def fail(kind: ProblemKind, message: str) -> ReadFailure:
        return ReadFailure(Problem(subject, str(path), kind, message))

    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise fail(ProblemKind.INVALID, "dangling symlink") from None
        raise fail(ProblemKind.MISSING, "missing") from None
    except OSError as exc:
        raise fail(ProblemKind.UNREADABLE, _os_reason(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise fail(ProblemKind.INVALID, "is a directory, expected a file")
    if not stat.S_ISREG(st.st_mode):
        raise fail(ProblemKind.INVALID, "is not a regular file (device, socket or FIFO); not read")
    if st.st_size > MAX_FILE_BYTES:
        raise fail(ProblemKind.UNREADABLE, f"is {st.st_size} bytes, over the {MAX_FILE_BYTES}-byte limit; not read")
    try:
        # O_NONBLOCK: a FIFO swapped in after the stat must not hang the run.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise fail(ProblemKind.UNREADABLE, _os_reason(exc)) from None
    if len(data) > MAX_FILE_BYTES:
        raise fail(ProblemKind.UNREADABLE, f"grew over the {MAX_FILE_BYTES}-byte limit while read; not read")
    return data


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (run as a user that can read the PKI, usually root)"
    return exc.strerror or type(exc).__name__


def pem_labels(data: bytes) -> list[str]:
    return [m.group(1).decode() for m in _PEM_LABEL.finditer(data)]


def _content_problem(data: bytes, expected: str) -> str:
    """Why ``data`` is not a PEM ``expected``: the wording a user needs to find the fault."""
    if not data.strip():
        return "empty file"
    labels = pem_labels(data)
    if not labels:
        if b"\0" in data or not data.isascii():
            return f"binary data, not a PEM {expected}"
        return f"no PEM block, expected {expected}"
    if all(expected not in label for label in labels):
        return f"holds {labels[0]}, expected {expected}"
    if b"-----END " not in data.split(b"-----BEGIN ", 1)[1]:
        return f"truncated PEM {expected} (no END line)"
    return f"malformed PEM {expected}"


def parse_certificate(data: bytes, path: Path, subject: str) -> x509.Certificate:
    """The first certificate in ``data``; kubeadm writes one per file (a CA file may hold a bundle)."""
    try:
        with warnings.catch_warnings():
            # Serial 0 (old kubeadm and kind CAs) is tolerated by kubecert; cryptography warns about it.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            certs = x509.load_pem_x509_certificates(data)
            for cert in certs:  # force the lazily-parsed fields the rules read to fail here, not later
                cert.extensions  # noqa: B018
    except ValueError as exc:
        message = _content_problem(data, "CERTIFICATE")
        if message.startswith("malformed"):
            message += f": {exc}"
        raise ReadFailure(Problem(subject, str(path), ProblemKind.INVALID, message)) from None
    return certs[0]


def parse_private_key(data: bytes, path: Path, subject: str, facts: FileFacts | None) -> KeyFacts:
    labels = pem_labels(data)
    try:
        # OpenSSL's RSA validation tests primality (~60 ms a key); kubecert never signs with these keys,
        # it only compares public halves, so the arithmetic check below is enough to catch corruption.
        key = serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
    except TypeError:
        message = "encrypted private key; kubeadm writes unencrypted keys"
        raise ReadFailure(Problem(subject, str(path), ProblemKind.INVALID, message)) from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        message = _content_problem(data, "PRIVATE KEY")
        if message.startswith("malformed"):
            message += f": {exc}"
        raise ReadFailure(Problem(subject, str(path), ProblemKind.INVALID, message)) from None
    if isinstance(key, rsa.RSAPrivateKey) and not _rsa_consistent(key.private_numbers()):
        message = "corrupt RSA private key: its primes and exponents do not belong to its modulus"
        raise ReadFailure(Problem(subject, str(path), ProblemKind.INVALID, message))
    return KeyFacts(
        path=str(path), pem_type=labels[0] if labels else "", public=PublicKeyFacts.of(key.public_key()), file=facts,
    )


def _rsa_consistent(numbers: rsa.RSAPrivateNumbers) -> bool:
    p, q, d, e, n = numbers.p, numbers.q, numbers.d, numbers.public_numbers.e, numbers.public_numbers.n
    if p < 2 or q < 2 or p * q != n:
        return False
    # The private exponent inverts the public one modulo p−1 and q−1, and the CRT values follow from it.
    return (
        (e * d) % (p - 1) == 1 and (e * d) % (q - 1) == 1
        and numbers.dmp1 == d % (p - 1) and numbers.dmq1 == d % (q - 1) and (numbers.iqmp * q) % p == 1
    )


def parse_public_key(data: bytes, path: Path, subject: str) -> PublicKeyFacts:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        message = _content_problem(data, "PUBLIC KEY")
        if message.startswith("malformed"):
            message += f": {exc}"
        raise ReadFailure(Problem(subject, str(path), ProblemKind.INVALID, message)) from None
    return PublicKeyFacts.of(key)
