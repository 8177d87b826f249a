"""The audit guard that the hostile corpora run under sees what it must: a guard that saw nothing would make
every "nothing was written outside" assertion pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import audit
import pytest


def test_the_guard_sees_writes_links_folders_and_processes(tmp_path: Path) -> None:
    inside, outside = tmp_path / "out", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    with audit.guard() as seen:
        (inside / "report.json").write_text("{}")
        (outside / "written").write_text("x")
        os.symlink("/etc", outside / "link")
        os.mkdir(outside / "folder")
        fd = os.open(outside / "raw", os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
        (inside / "through").symlink_to(outside)  # a write through a link lands where the link leads
        (inside / "through" / "via-link").write_text("x")
        subprocess.run([sys.executable, "-c", "pass"], check=True)
    escaped = seen.writes_outside([inside])
    for name in ("written", "link", "folder", "raw", "via-link"):
        assert str(outside / name) in escaped, (name, escaped)
    assert str(inside / "report.json") not in escaped
    assert seen.processes_besides([]) and not seen.processes_besides([sys.executable])


def test_a_link_renamed_or_removed_is_a_write_of_the_link_not_of_what_it_leads_to(tmp_path: Path) -> None:
    """The kubelet's links lead out of a node's copy (/var/lib/kubelet/pki/...): moving or removing such a link
    writes the copy's folder; writing through it writes where it leads."""
    inside, outside = tmp_path / "copy", tmp_path / "host"
    inside.mkdir()
    outside.mkdir()
    (outside / "target").write_text("x")
    with audit.guard() as seen:
        os.symlink(outside / "target", inside / ".new")
        os.replace(inside / ".new", inside / "current")
        os.remove(inside / "current")
        os.symlink(outside / "target", inside / "current")
    assert seen.writes_outside([inside]) == []
    with audit.guard() as seen:
        (inside / "current").write_text("y")
    assert seen.writes_outside([inside]) == [str(outside / "target")]


def test_reads_and_kubecerts_own_temporary_folders_are_not_writes_outside(tmp_path: Path) -> None:
    import tempfile

    with audit.guard() as seen:
        Path(__file__).read_text()
        own = Path(tempfile.mkdtemp(prefix="kubecert-guard-"))
        (own / "x").write_text("x")
    assert seen.writes_outside([tmp_path]) == []
    (own / "x").unlink()
    own.rmdir()


def test_a_child_kubecert_run_is_recorded(tmp_path: Path) -> None:
    run, seen = audit.run_audited(["reference", "pki", "init", "--dir", str(tmp_path / "node")], cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert any(path.endswith("/node/pki/ca.key") for path in seen.writes)
    assert seen.writes_outside([tmp_path]) == []
    assert seen.writes_outside([tmp_path / "elsewhere"])


def test_writes_relative_to_a_folder_descriptor_are_placed_where_they_land(tmp_path: Path) -> None:
    inside, outside = tmp_path / "out", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    folder = os.open(outside, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with audit.guard() as seen:  # names relative to a folder descriptor that is outside
            fd = os.open("file", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=folder)
            os.fchmod(fd, 0o644)
            os.close(fd)
            os.mkdir("folder", dir_fd=folder)
            os.symlink("/etc", "link", dir_fd=folder)
    finally:
        os.close(folder)
    escaped = seen.writes_outside([inside])
    for name in ("file", "folder", "link"):
        assert str(outside / name) in escaped, (name, escaped)
    assert [e.event for e in seen.events if e.subject == str(outside / "file")] == ["open", "os.chmod"]


def test_anonymous_temporary_files_are_no_writes_but_a_named_one_is(tmp_path: Path) -> None:
    import tempfile

    with audit.guard() as seen:
        with tempfile.TemporaryFile(dir=tmp_path / "..") as anonymous:  # O_TMPFILE where Linux has it
            anonymous.write(b"x")
        (tmp_path / ".." / "named").mkdir()
    assert seen.writes_outside([tmp_path]) == [str((tmp_path / ".." / "named").resolve())]
    (tmp_path / ".." / "named").rmdir()


def test_a_name_removed_within_a_folder_is_judged_where_that_folder_is(tmp_path: Path) -> None:
    """shutil.rmtree removes by name within a folder it holds open: the name is that folder's, not the
    working directory's (which would make every removal of kubecert's own folders look like one outside)."""
    import shutil
    import tempfile

    inside, outside = tmp_path / "inside", tmp_path / "outside"
    (inside / "sub").mkdir(parents=True)
    (inside / "sub" / "file").write_text("x")
    (outside / "sub").mkdir(parents=True)
    (outside / "sub" / "file").write_text("x")
    with audit.guard() as seen:
        shutil.rmtree(inside / "sub")
        with tempfile.TemporaryFile():  # a file without a name writes no path
            pass
    assert seen.writes_outside([inside]) == []
    with audit.guard() as seen:
        shutil.rmtree(outside / "sub")
    assert str(outside / "sub" / "file") in seen.writes_outside([inside])


def test_opens_of_sees_a_file_that_c_code_opens(tmp_path: Path) -> None:
    """The audit hooks do not see OpenSSL open a file; inotify does, and what is not opened is not listed."""
    import ssl

    opened_file, untouched = tmp_path / "opened.pem", tmp_path / "untouched.pem"
    opened_file.write_text("not a certificate")
    untouched.write_text("not a certificate")
    context = ssl.create_default_context()
    with audit.guard() as seen, audit.opens_of([opened_file, untouched]) as opened, pytest.raises(ssl.SSLError):
        context.load_verify_locations(str(opened_file))
    assert opened == [str(opened_file)]
    assert seen.events == []  # what the hooks alone would have said
