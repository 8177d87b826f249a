"""What a kind node's container sends is hostile input: the tar copy of its folder and every line the
engine prints are bounded and judged before anything of it is used."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from kubecert.targets.cluster import tarcopy
from kubecert.targets.cluster.kind import published_port
from kubecert.targets.cluster.runtime import ContainerRuntime, chosen_runtime
from kubecert.targets.errors import TargetError, TargetUnavailable


def _tar(*members: tuple[str, str, bytes | str]) -> bytes:
    """(kind, name, content-or-link-target) → a tar stream: kind is file, dir, symlink, fifo, hardlink."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as archive:
        for kind, name, content in members:
            info = tarfile.TarInfo(name)
            info.mode = 0o600
            data = content if isinstance(content, bytes) else b""
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, str(content)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, str(content)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            info.size = len(data) if kind == "file" else 0
            archive.addfile(info, io.BytesIO(data) if kind == "file" else None)
    return buffer.getvalue()


def test_a_node_folder_is_copied_with_modes_and_inside_links(tmp_path: Path) -> None:
    data = _tar(("dir", ".", b""), ("dir", "./pki", b""), ("file", "./pki/ca.key", b"KEY"),
                ("symlink", "./pki/ca-link.crt", "ca.key"),
                ("symlink", "./admin-abs.conf", "/etc/kubernetes/pki/ca.key"))
    copy = tmp_path / "copy"
    notes = tarcopy.unpack(data, copy, "/etc/kubernetes")
    assert notes == []
    assert stat.S_IMODE((copy / "pki" / "ca.key").stat().st_mode) == 0o600
    assert os.readlink(copy / "pki" / "ca-link.crt") == "ca.key"
    assert os.readlink(copy / "admin-abs.conf") == "pki/ca.key"  # absolute into the folder: made relative
    assert (copy / "admin-abs.conf").read_bytes() == b"KEY"


@pytest.mark.parametrize(("member", "words"), [
    (("symlink", "./pki/ca.crt", "/etc/shadow"), "a symlink to /etc/shadow, outside /etc/kubernetes"),
    (("symlink", "./pki/ca.crt", "../../../etc/shadow"), "a symlink to ../../../etc/shadow, outside"),
    (("file", "../escape", b"x"), "a name that climbs out of /etc/kubernetes"),
    (("file", "/abs/../../escape", b"x"), "a name that climbs out"),
    (("fifo", "./pki/pipe", b""), "neither a file, a folder nor a symlink"),
    (("hardlink", "./pki/hard", "./pki/other"), "a hard link to ./pki/other, which is not a file copied before"),
    (("file", "./pki/\x1b[31mred.crt", b"x"), "\\x1b[31mred.crt"),
])
def test_what_cannot_be_copied_faithfully_is_left_out_and_said(
        tmp_path: Path, member: tuple[str, str, bytes | str], words: str) -> None:
    dest = tmp_path / "copy"
    notes = tarcopy.unpack(_tar(member), dest, "/etc/kubernetes")
    if member[1].endswith("red.crt"):  # a regular file with a hostile name: copied, and shown escaped if ever said
        assert notes == [] and any(p.name.endswith("red.crt") for p in (dest / "pki").iterdir())
        return
    assert len(notes) == 1 and words in notes[0], notes
    assert "\x1b" not in notes[0]
    assert not (tmp_path / "escape").exists()
    assert not any(p.is_symlink() and not p.resolve().is_relative_to(dest) for p in dest.rglob("*"))


def test_a_stream_that_is_not_a_tar_is_an_unavailable_node(tmp_path: Path) -> None:
    with pytest.raises(TargetUnavailable, match="not a tar stream"):
        tarcopy.unpack(b"Error: No such container: kind-control-plane\n" * 20, tmp_path / "copy", "/etc/kubernetes")


def test_size_and_entry_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tarcopy, "MAX_BYTES", 1000)
    with pytest.raises(TargetUnavailable, match="more than 0 MiB of files"):
        tarcopy.unpack(_tar(("file", "./big", b"x" * 2000)), tmp_path / "a", "/etc/kubernetes")
    monkeypatch.setattr(tarcopy, "MAX_ENTRIES", 5)
    with pytest.raises(TargetUnavailable, match="more than 5 entries"):
        tarcopy.unpack(_tar(*(("file", f"./f{i}", b"") for i in range(6))), tmp_path / "b", "/etc/kubernetes")


def _engine(tmp_path: Path, body: str) -> ContainerRuntime:
    """A ``docker`` on PATH that runs ``body`` (sh), to see how its calls are bounded."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    script = folder / "docker"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ['PATH']}"
    return ContainerRuntime("docker", timeout=2)


@pytest.fixture(autouse=True)
def _path_back() -> object:
    saved = os.environ["PATH"]
    yield None
    os.environ["PATH"] = saved


def test_a_call_that_never_ends_is_stopped(tmp_path: Path) -> None:
    runtime = _engine(tmp_path, "exec sleep 60")
    with pytest.raises(TargetUnavailable, match=r"docker ps: no end after 2 s; stopped"):
        runtime.run(["ps"])


def test_a_call_that_prints_without_end_is_stopped(tmp_path: Path) -> None:
    runtime = _engine(tmp_path, "exec yes kubecert")
    with pytest.raises(TargetUnavailable, match=r"printed more than 1024 bytes; stopped"):
        runtime.run(["ps"], max_bytes=1024)


def test_a_failing_call_says_the_engines_last_words_escaped(tmp_path: Path) -> None:
    runtime = _engine(tmp_path, "printf 'first\\nCannot connect to the Docker daemon \\033[31m\\n' >&2; exit 1")
    with pytest.raises(TargetUnavailable) as caught:
        runtime.run(["ps"])
    assert str(caught.value) == "docker ps: exit 1: Cannot connect to the Docker daemon \\x1b[31m"


@pytest.mark.parametrize(("listing", "port"), [("0.0.0.0:45678\n[::]:45678\n", 45678), ("127.0.0.1:6443", 6443),
                                                ("[::]:32768", 32768)])
def test_the_published_port(listing: str, port: int) -> None:
    assert published_port(listing) == port


@pytest.mark.parametrize("listing", ["", "Error: no public port '6443/tcp' published", "0.0.0.0:99999"])
def test_no_published_port_is_said(listing: str) -> None:
    with pytest.raises(TargetUnavailable, match="the API port is not published"):
        published_port(listing)


def test_the_runtime_is_chosen_from_the_uri_then_kinds_variable() -> None:
    assert chosen_runtime({"runtime": "podman"}, env={}) == "podman"
    assert chosen_runtime({}, env={"KIND_EXPERIMENTAL_PROVIDER": "podman"}) == "podman"
    with pytest.raises(TargetError, match="runtime='nerdctl': expected one of docker, podman"):
        chosen_runtime({"runtime": "nerdctl"}, env={})
