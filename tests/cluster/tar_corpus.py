"""Hostile tar streams, built in code, each a named case with what kubecert must make of it: the notes that
name what was left out, or the error that refuses the whole copy, and what the copy must still hold.

A stream that tries to escape aims at ``aim``, a folder outside every copy, or climbs from the copy itself;
after any case nothing may be there. ``{folder}`` in expected words is the copied folder (the container's
path: /etc/kubernetes, /var/lib/kubelet, a CSR scratch folder)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kubecert.targets.cluster import tarcopy

KEY = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
ESCAPED = "ESCAPED"


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], bytes]  # aim -> the stream
    notes: tuple[str, ...] = ()  # words some note must hold, each
    error: str | None = None  # words the refusal must hold
    holds: Callable[[Path], None] | None = None  # what the copy must hold (legitimate parts kept)


class Stream:
    """A tar stream written member by member, as tar would (tarfile's writer, so every header is valid)."""

    def __init__(self, fmt: int = tarfile.PAX_FORMAT) -> None:
        self.buffer = io.BytesIO()
        self.archive = tarfile.open(fileobj=self.buffer, mode="w:", format=fmt)  # noqa: SIM115 - closed by bytes()

    def add(self, name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", *, mode: int = 0o600,
            link: str = "", **attributes: object) -> Stream:
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.linkname = kind, mode, link
        for key, value in attributes.items():
            setattr(info, key, value)
        if kind in tarfile.REGULAR_TYPES:
            info.size = len(data)
            self.archive.addfile(info, io.BytesIO(data))
        else:
            self.archive.addfile(info)
        return self

    def file(self, name: str, data: bytes = KEY, mode: int = 0o600, **attributes: object) -> Stream:
        return self.add(name, tarfile.REGTYPE, data, mode=mode, **attributes)

    def folder(self, name: str, mode: int = 0o755) -> Stream:
        return self.add(name, tarfile.DIRTYPE, mode=mode)

    def symlink(self, name: str, target: str) -> Stream:
        return self.add(name, tarfile.SYMTYPE, mode=0o777, link=target)

    def hard_link(self, name: str, target: str) -> Stream:
        return self.add(name, tarfile.LNKTYPE, link=target)

    def bytes(self) -> bytes:
        self.archive.close()
        return self.buffer.getvalue()


def _header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    """One ustar header block as tarfile writes it, for streams that lie."""
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mode = size, kind, 0o600
    return info.tobuf(tarfile.USTAR_FORMAT)


def _with_size_field(header: bytes, field: bytes) -> bytes:
    """``header`` with another 12-byte size field, its checksum made right again."""
    block = bytearray(header)
    block[124:136] = field
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


END = b"\0" * 2 * tarfile.BLOCKSIZE


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % tarfile.BLOCKSIZE)


def _climb(levels: int) -> Stream:
    """``l0 -> .``, ``l0/l1 -> ..``, ``l1/l2 -> ..``, ``l1/l2/l3 -> ..``, ...: unpacked by following links, the
    chain ``l1/l2/.../lN`` leads ``levels`` folders above the copy."""
    stream = Stream().symlink("l0", ".").symlink("l0/l1", "..")
    for level in range(2, levels + 1):
        stream.symlink("/".join(f"l{i}" for i in range(1, level + 1)), "..")
    return stream


def _chain_path(levels: int) -> str:
    return "/".join(f"l{i}" for i in range(1, levels + 1))


def _modes(copy: Path) -> None:
    def mode(name: str) -> int:
        return stat.S_IMODE(os.lstat(copy / name).st_mode)
    assert mode("pki/ca.key") == 0o600
    assert mode("pki/world.key") == 0o666  # exactly the node's: tarfile's data filter would drop o+w
    assert mode("pki/setuid") == 0o755  # only the permission bits are copied
    assert mode("admin.conf") == 0o640
    assert mode("pki") == (0o500 if os.geteuid() == 0 else 0o700)  # kubecert keeps its own access when not root
    if os.geteuid() == 0:
        assert (os.lstat(copy / "admin.conf").st_uid, os.lstat(copy / "admin.conf").st_gid) == (1234, 5678)


def _holds(copy: Path, files: dict[str, bytes | None]) -> None:
    """Each file holds its bytes; None: there is no such file."""
    for name, data in files.items():
        if data is None:
            assert not os.path.lexists(copy / name), name
        else:
            assert (copy / name).read_bytes() == data, name


def _reads(link: Path, text: str) -> None:
    assert os.readlink(link) == text


def _same_file(copy: Path) -> None:
    assert os.stat(copy / "pki" / "ca.crt").st_ino == os.stat(copy / "pki" / "ca-again.crt").st_ino
    assert (copy / "pki" / "ca-again.crt").read_bytes() == KEY


def _loop_kept(copy: Path) -> None:
    assert os.readlink(copy / "a") == "b" and os.readlink(copy / "b") == "a"


def _escaped_name_copied(copy: Path) -> None:
    assert (copy / "pki" / "\x1b[31mred.crt").read_bytes() == KEY


def _binary_name_copied(copy: Path) -> None:
    assert (copy / "pki" / os.fsdecode(b"\xff\xfe.crt")).read_bytes() == KEY


def _nothing_of_the_sparse_file(copy: Path) -> None:
    assert not (copy / "pki" / "sparse.key").exists()
    assert (copy / "pki" / "ca.key").read_bytes() == KEY


def _stream_then(after: bytes) -> Callable[[Path], bytes]:
    return lambda aim: Stream().folder("pki").file("pki/ca.key").bytes() + after


def cases() -> list[Case]:
    big = tarcopy.MAX_BYTES + (1 << 20)
    return [
        Case("link-chain-two-up",  # the finding: written two folders above the copy, links left outside it
             lambda aim: _climb(2).file(f"{_chain_path(2)}/{ESCAPED}").bytes(),
             notes=("{folder}/l0/l1: l0 is a symlink: not followed; left out",
                    f"{{folder}}/l1/l2/{ESCAPED}: l1/l2 is a symlink: not followed; left out")),
        Case("link-chain-to-the-root-then-down",  # 12 levels reach / from every copy's folder, then the aim
             lambda aim: _climb(12).file(f"{_chain_path(12)}{aim}/{ESCAPED}").bytes(),
             notes=(f"{{folder}}/{_chain_path(12)}/", f"{ESCAPED}: l1/l2 is a symlink: not followed; left out")),
        Case("absolute-symlink-out-then-written-through",
             lambda aim: Stream().symlink("pki", str(aim)).file(f"pki/{ESCAPED}").bytes(),
             notes=("{folder}/pki: a symlink to ", ", outside {folder}: not followed through the copy")),
        Case("relative-symlink-out-then-written-through",
             lambda aim: Stream().symlink("pki", "../" * 30 + str(aim).lstrip("/")).file(f"pki/{ESCAPED}").bytes(),
             notes=("{folder}/pki: a symlink to ../../", "outside {folder}")),
        Case("symlink-inside-then-written-through",
             lambda aim: Stream().folder("pki").symlink("etcd", "pki").file(f"etcd/{ESCAPED}").bytes(),
             notes=(f"{{folder}}/etcd/{ESCAPED}: etcd is a symlink: not followed; left out",)),
        Case("symlink-to-a-symlinks-parent",  # lexically inside (l0/.. is the copy), really above it
             lambda aim: Stream().folder("sub").symlink("sub/l0", "..").symlink("up", "sub/l0/..")
             .file(f"up/{ESCAPED}").bytes(),
             notes=(f"{{folder}}/up/{ESCAPED}: up is a symlink: not followed",),
             holds=lambda copy: _reads(copy / "up", "sub")),  # written in normal form
        Case("folder-replaced-by-a-link",
             lambda aim: Stream().folder("pki").file("pki/ca.key").symlink("pki", "..").symlink("pki", ".")
             .file("pki/ca.crt").bytes(),
             notes=("{folder}/pki: a symlink to .., outside {folder}",
                    "{folder}/pki: a folder of that name is in the copy already: kept; left out"),
             holds=lambda copy: _holds(copy, {"pki/ca.key": KEY, "pki/ca.crt": KEY})),
        Case("file-then-link-of-the-same-name",
             lambda aim: Stream().folder("pki").file("pki/ca.key").file("admin.conf", b"conf")
             .symlink("admin.conf", "pki/ca.key").bytes(),
             notes=("{folder}/admin.conf: a file of that name is in the copy already: kept; left out",),
             holds=lambda copy: _holds(copy, {"admin.conf": b"conf"})),
        Case("link-then-file-of-the-same-name",  # the file must not be written through the link into ca.key
             lambda aim: Stream().folder("pki").file("pki/ca.key").symlink("admin.conf", "pki/ca.key")
             .file("admin.conf", b"OVERWRITTEN").bytes(),
             notes=("{folder}/admin.conf: a symlink of that name is in the copy already: kept; left out",),
             holds=lambda copy: _holds(copy, {"pki/ca.key": KEY})),
        Case("dangling-link-then-file-of-the-same-name",
             lambda aim: Stream().symlink("admin.conf", "pki/new.key").file("admin.conf", b"x").bytes(),
             notes=("{folder}/admin.conf: a symlink of that name is in the copy already: kept",),
             holds=lambda copy: _holds(copy, {"pki/new.key": None})),
        Case("hard-link-to-a-file-copied-before",
             lambda aim: Stream().folder("pki").file("pki/ca.crt").hard_link("pki/ca-again.crt", "pki/ca.crt")
             .bytes(),
             holds=_same_file),
        Case("hard-links-outside",
             lambda aim: Stream().hard_link("shadow", "/etc/shadow").hard_link("escaped", f"{aim}/{ESCAPED}")
             .hard_link("up", "../../etc/shadow").bytes(),
             notes=("{folder}/shadow: a hard link to /etc/shadow, outside {folder}; left out",
                    "{folder}/up: a hard link to ../../etc/shadow, outside {folder}; left out",
                    "{folder}/escaped: a hard link to /")),
        Case("hard-link-to-a-symlink-or-nothing",
             lambda aim: Stream().symlink("link", "/etc/shadow").symlink("near", "admin.conf")
             .hard_link("h1", "link").hard_link("h2", "near").hard_link("h3", "missing").bytes(),
             notes=("{folder}/h1: a hard link to link, which is not a file copied before; left out",
                    "{folder}/h2: a hard link to near, which is not a file copied before; left out",
                    "{folder}/h3: a hard link to missing, which is not a file copied before; left out")),
        Case("devices-and-fifos",
             lambda aim: Stream().add("pki/tty", tarfile.CHRTYPE, devmajor=5, devminor=0)
             .add("pki/disk", tarfile.BLKTYPE, devmajor=8, devminor=0).add("pki/pipe", tarfile.FIFOTYPE).bytes(),
             notes=("{folder}/pki/tty: a character device: neither a file, a folder nor a symlink; left out",
                    "{folder}/pki/disk: a block device", "{folder}/pki/pipe: a FIFO")),
        Case("absolute-names",
             lambda aim: Stream().file(f"{aim}/{ESCAPED}").file("/etc/kubernetes/pki/ca.key").bytes(),
             notes=("an absolute name, not one inside {folder}; left out", "/etc/kubernetes/pki/ca.key: an abs")),
        Case("names-that-climb",
             lambda aim: Stream().file(f"../{ESCAPED}").file(f"pki/../../{ESCAPED}").file("a/../b").bytes(),
             notes=(f"{{folder}}/../{ESCAPED}: a name that climbs out of {{folder}}; left out",
                    f"{{folder}}/pki/../../{ESCAPED}: a name that climbs out", "{folder}/a/../b: a name that")),
        Case("the-folder-itself-as-a-file-or-link",
             lambda aim: Stream().file(".", b"x").symlink("./", str(aim)).bytes(),
             notes=("{folder}/.: the copied folder itself, as something else than a folder; left out",
                    "{folder}/: the copied folder itself")),
        Case("huge-pax-header",
             lambda aim: Stream().add("pki/ca.key", pax_headers={"comment": "x" * (2 << 20)}).bytes(),
             error="the copy of {folder} is refused: a pax header of"),
        Case("many-pax-headers",
             lambda aim: _many(lambda s, i: s.add(f"f{i}", pax_headers={"comment": "y" * 6000}), 200),
             error=f"more than {tarcopy.MAX_HEADERS_BYTES} bytes of pax and long-name headers"),
        Case("huge-long-name-header",
             lambda aim: Stream(tarfile.GNU_FORMAT).file("pki/" + "n" * (100 << 10)).bytes(),
             error="the copy of {folder} is refused: a GNU long-name header of"),
        Case("long-and-deep-names",
             lambda aim: Stream(tarfile.GNU_FORMAT).file("pki/" + "n" * 5000).file("d/" * 40 + "f").bytes(),
             notes=(f"a name longer than {tarcopy.MAX_NAME_BYTES} bytes or deeper than {tarcopy.MAX_DEPTH}",
                    "{folder}/d/d/d/")),
        Case("a-nul-in-a-name",
             lambda aim: Stream().add("pki/placeholder", pax_headers={"path": "pki/ca\0.key"}).bytes(),
             notes=("{folder}/pki/ca\\x00.key: a name holding a NUL byte; left out",)),
        Case("too-many-entries",
             lambda aim: _many(lambda s, i: s.add(f"p{i}", tarfile.FIFOTYPE), tarcopy.MAX_ENTRIES + 1),
             error=f"{{folder}} holds more than {tarcopy.MAX_ENTRIES} entries; not read"),
        Case("many-entries-left-out",  # the notes are bounded too
             lambda aim: _many(lambda s, i: s.add(f"p{i}", tarfile.FIFOTYPE), 500),
             notes=("{folder}/p0: a FIFO", f"{{folder}}: {500 - tarcopy.MAX_NOTES} more entries left out")),
        Case("too-many-bytes",  # the size is judged before a byte of it is read
             lambda aim: _header("pki/ca.key", big) + END,
             error=f"{{folder}} holds more than {tarcopy.MAX_BYTES >> 20} MiB of files; not read"),
        Case("sparse-member",  # GNU tar's pax sparse format 1.0: 4 bytes of data standing for a GiB
             lambda aim: Stream().folder("pki").file("pki/ca.key")
             .add("pki/GNUSparseFile.0/sparse.key", data=_pad(b"1\n0\n4\n") + b"DATA",
                  pax_headers={"GNU.sparse.major": "1", "GNU.sparse.minor": "0",
                               "GNU.sparse.name": "pki/sparse.key", "GNU.sparse.realsize": str(1 << 30)}).bytes(),
             notes=("{folder}/pki/sparse.key: a sparse file (no PKI folder holds one); left out",),
             holds=_nothing_of_the_sparse_file),
        Case("a-size-that-is-too-long",  # says 1000 bytes, holds 10, then the stream ends
             lambda aim: _header("pki/ca.key", 1000) + b"0123456789",
             error="the copy of {folder} is a broken tar stream at pki/ca.key"),
        Case("a-size-that-is-too-short",  # says 10 bytes, holds 2000: a member hides in the data
             lambda aim: _header("pki/ca.key", 10) + _pad(b"K" * 2000)
             + Stream().file(f"hidden/{ESCAPED}").bytes(),
             error="the copy of {folder} does not end as a tar stream ends"),
        Case("a-negative-size",
             lambda aim: _with_size_field(_header("pki/ca.key", 0), b"\xff" * 11 + b"\x00") + END,
             error="the copy of {folder} is refused: a header of -256 bytes"),
        Case("cut-short",
             lambda aim: Stream().folder("pki").file("pki/ca.key").bytes()[:3 * tarfile.BLOCKSIZE],
             error="the copy of {folder} does not end as a tar stream ends (cut short"),
        Case("data-after-the-end",
             _stream_then(Stream().file(f"after/{ESCAPED}").bytes()),
             error="the copy of {folder} does not end as a tar stream ends"),
        Case("not-a-tar-stream",
             lambda aim: b"Error: No such container: kind-control-plane\n" * 20,
             error="the copy of {folder} is not a tar stream"),
        Case("control-characters-in-names",
             lambda aim: Stream().folder("pki").file("pki/\x1b[31mred.crt")
             .symlink("pki/evil\x1b]0;owned\x07", "/etc/\x1b[2J").symlink("etc\x1b[2J", "pki")
             .file("etc\x1b[2J/x").bytes(),
             notes=("{folder}/pki/evil\\x1b]0;owned\\x07: a symlink to /etc/\\x1b[2J, outside {folder}",
                    "{folder}/etc\\x1b[2J/x: etc\\x1b[2J is a symlink: not followed; left out"),
             holds=_escaped_name_copied),
        Case("names-that-are-not-utf-8",
             lambda aim: Stream(tarfile.GNU_FORMAT).folder("pki").file(os.fsdecode(b"pki/\xff\xfe.crt"))
             .symlink(os.fsdecode(b"pki/\xffout"), os.fsdecode(b"/\xff")).bytes(),
             notes=("{folder}/pki/\\xffout: a symlink to /\\xff, outside {folder}",),
             holds=_binary_name_copied),
        Case("owners-that-are-no-ids",
             lambda aim: Stream(tarfile.GNU_FORMAT).file("pki/ca.key", uid=1 << 40).file("pki/ca.crt", gid=-1)
             .bytes(),
             notes=("{folder}/pki/ca.key: owned by uid 1099511627776, gid 0, which are no ids; left out",
                    "{folder}/pki/ca.crt: owned by uid 0, gid -1")),
        Case("exact-modes-and-a-read-only-folder",
             lambda aim: Stream().folder(".", 0o755).folder("pki", 0o500).file("pki/ca.key", mode=0o600)
             .file("pki/world.key", mode=0o666).file("pki/setuid", mode=0o4755)
             .file("admin.conf", mode=0o640, uid=1234, gid=5678).bytes(),
             holds=_modes),
        Case("a-symlink-loop",
             lambda aim: Stream().symlink("a", "b").symlink("b", "a").bytes(),
             holds=_loop_kept),
    ]


def _many(add: Callable[[Stream, int], object], count: int) -> bytes:
    stream = Stream()
    for index in range(count):
        add(stream, index)
    return stream.bytes()
