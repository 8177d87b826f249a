"""Reading a target's files defensively: bounded, non-blocking, every failure a Problem, never an exception."""

from __future__ import annotations

import errno
import functools
import grp
import itertools
import os
import pwd
import re
import stat
import warnings
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning

from kubecert.inventory.keymaterial import KeyTraces
from kubecert.inventory.model import FileFacts, KeyFacts, Problem, ProblemKind, PublicKeyFacts

# kubeadm's largest file is a kubeconfig of a few KiB; anything this big is not one of them.
MAX_FILE_BYTES = 1 << 20

_PEM_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")


class ReadFailure(Exception):
    """A file could not be turned into what was expected; carries the Problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.describe())
        self.problem = problem


def file_facts(path: Path, tree: tuple[Path, ...] = (), *, via_link: bool = False) -> FileFacts | None:
    """Mode and owner of what ``path`` leads to, after every symlink; None if nothing is there.

    A symlink is judged by the file it resolves to (its own mode is always 0777 and means nothing), and
    says so (``link``); ``tree`` are the target's real folders, and a path that resolves outside them is
    marked ``outside``. ``via_link``: the path lies below a symlinked folder.
    """
    try:
        own = os.lstat(path)
    except OSError:
        return None
    linked = via_link or stat.S_ISLNK(own.st_mode)
    try:
        st = os.stat(path) if stat.S_ISLNK(own.st_mode) else own
    except OSError:  # a dangling link, or a loop
        st, kind = own, "dangling"
    else:
        kind = "dir" if stat.S_ISDIR(st.st_mode) else "file" if stat.S_ISREG(st.st_mode) else "other"
    real = os.path.realpath(path) if linked else None
    outside = real is not None and bool(tree) and not any(_within(real, root) for root in tree)
    return FileFacts(
        path=str(path), mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
        owner=_user_name(st.st_uid), group=_group_name(st.st_gid), kind=kind, link=real, outside=outside,
    )


def _within(path: str, root: Path) -> bool:
    return path == str(root) or path.startswith(str(root).rstrip("/") + "/")


def real_folders(*folders: Path) -> tuple[Path, ...]:
    """The real paths of a target's folders: what "inside the tree" means for its files."""
    return tuple(dict.fromkeys(Path(os.path.realpath(folder)) for folder in folders))


# Each file's owner and group are named, 50 times per node: NSS reads /etc/passwd and /etc/group on every call.
@functools.lru_cache(maxsize=1024)
def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@functools.lru_cache(maxsize=1024)
def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


MAX_WALK_ENTRIES = 50_000  # a PKI folder holds a few dozen; a bound, not a guess at what is normal


class TooManyEntries(Exception):
    """The folder holds more than MAX_WALK_ENTRIES entries; those seen so far were yielded."""


def walk(root: Path, tree: tuple[Path, ...] = (), skip_links: frozenset[str] = frozenset()) -> Iterator[FileFacts]:
    """Every entry below ``root`` (root included), through symlinks: a symlinked folder is walked too
    (each real folder once, so a loop ends), and every entry is described by what it resolves to.
    Symlinks named in ``skip_links`` are neither followed nor described: their reader judges them.

    Past MAX_WALK_ENTRIES entries it raises TooManyEntries, having read no more of any folder than that: a
    folder of millions of names costs no more than the bound."""
    facts = file_facts(root, tree)
    if facts is None:
        return
    yield facts
    seen = {os.path.realpath(root)}
    folders: deque[tuple[Path, bool]] = deque([(root, False)])
    count = 0
    while folders:
        folder, via_link = folders.popleft()
        names = _names(folder, MAX_WALK_ENTRIES - count)
        for name in names:
            count += 1
            if count > MAX_WALK_ENTRIES:
                raise TooManyEntries(f"{root} holds more than {MAX_WALK_ENTRIES} entries, kubecert's bound for a "
                                     "folder it walks")
            if name in skip_links and os.path.islink(folder / name):
                continue
            entry = file_facts(folder / name, tree, via_link=via_link)
            if entry is None:
                continue
            yield entry
            if entry.kind == "dir":
                real = os.path.realpath(folder / name)
                if real not in seen:
                    seen.add(real)
                    folders.append((folder / name, entry.link is not None))


def _names(folder: Path, budget: int) -> list[str]:
    """Up to ``budget + 1`` names of ``folder``'s entries, sorted; none when it cannot be listed (the files in
    it are then reported by whoever needed them)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(itertools.islice((entry.name for entry in entries), budget + 1))
    except OSError:
        return []


def walk_bounded(root: Path, subject: str, tree: tuple[Path, ...] = (),
                 skip_links: frozenset[str] = frozenset()) -> tuple[list[FileFacts], Problem | None]:
    """What ``walk`` reaches below ``root``, and the Problem (named ``subject``) when the folder is over the
    bound: what was seen before it is kept, for the rules to judge beside their error."""
    entries: list[FileFacts] = []
    try:
        for entry in walk(root, tree, skip_links):
            entries.append(entry)
    except TooManyEntries as exc:
        message = (f"{exc}: the {len(entries)} entries seen and the files known by name are judged, the others "
                   "are not")
        return entries, Problem(subject, str(root), ProblemKind.UNREADABLE, message)
    return entries, None


def add_named(entries: list[FileFacts], paths: Iterable[Path], tree: tuple[Path, ...] = ()) -> None:
    """Add the facts of ``paths`` (files known by name) that ``entries`` lacks: what an incomplete walk must
    still judge."""
    have = {entry.path for entry in entries}
    for path in paths:
        if str(path) not in have:
            facts = file_facts(path, tree)
            if facts is not None:
                entries.append(facts)
                have.add(facts.path)


def entries_below(roots: Sequence[tuple[Path, bool]]) -> tuple[list[Path], list[Path], str | None]:
    """The folders and the other entries (files, links, ...) in each root folder, and below it when its flag
    says so, symlinks not followed; and why that is not all of them (None when it is): no more than
    MAX_WALK_ENTRIES entries are read in all, however large a folder is."""
    folders: list[Path] = []
    others: list[Path] = []
    seen = 0
    pending = list(reversed(roots))
    while pending:
        folder, descend = pending.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    seen += 1
                    if seen > MAX_WALK_ENTRIES:
                        return folders, others, f"more than {MAX_WALK_ENTRIES} entries, kubecert's bound for a walk"
                    if not entry.is_dir(follow_symlinks=False):
                        others.append(Path(entry.path))
                    elif descend:
                        folders.append(Path(entry.path))
                        pending.append((Path(entry.path), True))
        except OSError:
            continue  # not there, or not listable: whoever needed its files says so
    return folders, others, None


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
        raise fail(ProblemKind.UNREADABLE, os_reason(exc)) from None
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
        raise fail(ProblemKind.UNREADABLE, os_reason(exc)) from None
    if len(data) > MAX_FILE_BYTES:
        raise fail(ProblemKind.UNREADABLE, f"grew over the {MAX_FILE_BYTES}-byte limit while read; not read")
    return data


def os_reason(exc: OSError) -> str:
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
    """The first certificate in ``data``: the one kubeadm uses (pkiutil takes the first of a file's
    certificates) and the one a component presents first."""
    return parse_certificates(data, path, subject)[0]


MAX_CERTIFICATES_PER_FILE = 64  # a bundle of a few CAs is plausible; thousands is a parsing-cost attack


def parse_certificates(data: bytes, path: Path, subject: str) -> list[x509.Certificate]:
    """Every certificate in ``data``, in order; ReadFailure when there is none or one is broken."""
    if data.count(b"-----BEGIN CERTIFICATE-----") > MAX_CERTIFICATES_PER_FILE:
        message = f"holds more than {MAX_CERTIFICATES_PER_FILE} certificates, kubecert's bound for one file; not read"
        raise ReadFailure(Problem(subject, str(path), ProblemKind.UNREADABLE, message))
    try:
        with warnings.catch_warnings():
            # Serial 0 (old kubeadm and kind CAs) is tolerated by kubecert; cryptography warns about it.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            certs = x509.load_pem_x509_certificates(data)
            for cert in certs:  # force the lazily-parsed fields the rules read to fail here, not later
                cert.extensions  # noqa: B018
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        message = _content_problem(data, "CERTIFICATE")
        if message.startswith("malformed"):
            message += f": {exc}"
        raise ReadFailure(Problem(subject, str(path), ProblemKind.INVALID, message)) from None
    for cert in certs:
        try:
            cert.public_key()
        except (ValueError, UnsupportedAlgorithm) as exc:
            message = f"the certificate's public key cannot be read: {exc}"
            raise ReadFailure(Problem(subject, str(path), ProblemKind.INVALID, message)) from None
    return certs


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
    # A file may hold certificates beside its key (the kubelet's dated files): the key's own label counts.
    pem_type = next((label for label in labels if "PRIVATE KEY" in label), labels[0] if labels else "")
    return KeyFacts(path=str(path), pem_type=pem_type, public=PublicKeyFacts.of(key.public_key()), file=facts,
                    traces=KeyTraces.of(key))


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
