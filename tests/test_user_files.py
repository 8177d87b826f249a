"""Every file the operator names is read with bounds: /dev/zero, a FIFO, a 4 GB sparse file or a folder named
by a typo is a usage error naming the option, the file and what it is, at once (no hang, no gigabytes read,
no traceback), through every option that names a file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import audited_batch
import pytest
import yaml

PALETTE = "palette:https://127.0.0.1:9?cluster=c-1&project=p-1"


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "named.fifo")
    return folder / "named.fifo"


def _sparse(folder: Path) -> Path:
    path = folder / "sparse.bin"
    with path.open("wb") as handle:
        handle.truncate(4 << 30)
    return path


def _folder(folder: Path) -> Path:
    (folder / "a-folder").mkdir()
    return folder / "a-folder"


KINDS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "dev-zero": (lambda _: Path("/dev/zero"), "is a character device, not a regular file"),
    "fifo": (_fifo, "is a FIFO (named pipe), not a regular file"),
    "sparse-4GB": (_sparse, f"is {4 << 30} bytes, over the"),
    "folder": (_folder, "is a directory, not a regular file"),
}


def _options(tree: Path, key_file: Path) -> dict[str, tuple[Callable[[Path], list[str]], str, int]]:
    """Each way to name a file: the command line that names ``path``, what the message names, the exit code."""
    pki = f"pki:{tree / 'pki'}"
    return {
        "--baseline": (lambda p: ["check", "--target", pki, "--baseline", str(p), "--json", "r.json"],
                       "--baseline", 3),
        "--inventory": (lambda p: ["check", "--inventory", str(p), "--json", "r.json"], "--inventory", 3),
        "--profile": (lambda p: ["check", "--target", pki, "--profile", str(p), "--json", "r.json"], "profile", 3),
        "baseline write --report": (lambda p: ["baseline", "write", "b.json", "--report", str(p)], "--report", 3),
        "report merge": (lambda p: ["report", "merge", str(p), "--output-dir", "merged"], "report merge: ", 3),
        "--api-key-file": (lambda p: ["check", "--target", PALETTE, "--api-key-file", str(p), "--json", "r.json"],
                           "--api-key-file", 3),
        "--ca-bundle": (lambda p: ["check", "--target", PALETTE, "--api-key-file", str(key_file), "--ca-bundle",
                                   str(p), "--json", "r.json"], "--ca-bundle", 3),
        "--palette-kubeconfig": (lambda p: ["check", "--target", PALETTE, "--api-key-file", str(key_file),
                                            "--palette-kubeconfig", str(p), "--json", "r.json"],
                                 "--palette-kubeconfig", 3),
        "kubeconfig:": (lambda p: ["check", "--target", f"kubeconfig:{p}", "--json", "r.json", "-q"],
                        "ERROR kubeconfig:", 2),  # read when the target is observed: its checks are errors
    }


def test_every_option_that_names_a_file_refuses_what_is_not_one(tmp_path: Path, reference_tree: Any) -> None:
    key_file = tmp_path / "api-key"
    key_file.write_text("k3y-for-the-test\n")
    key_file.chmod(0o600)
    options = _options(reference_tree.root, key_file)
    plan, expected = [], []
    for kind, (make, what) in KINDS.items():
        folder = tmp_path / kind
        folder.mkdir()
        path = make(folder)
        for option, (argv, names, code) in options.items():
            plan.append({"argv": argv(path), "cwd": str(folder)})
            expected.append((option, kind, str(path), names, what, code))
    problems = []
    for run, (option, kind, path, names, what, code) in zip(audited_batch.run(plan, tmp_path), expected, strict=True):
        said = run["stdout"] + run["stderr"]
        wrong = [f"exit {run['code']}, not {code}"] if run["code"] != code else []
        wrong += [f"does not say {text!r}" for text in (names, path, what) if text not in said]
        wrong += ["a traceback"] if run["raised"] or "Traceback" in said else []
        problems += [f"{option} {kind}: {w}: {said.strip()[-300:]!r}" for w in wrong]
    assert problems == [], "\n".join(problems)
    assert len(expected) == len(KINDS) * 9


def test_a_sparse_file_is_refused_by_its_size_before_a_byte_is_read(tmp_path: Path) -> None:
    from kubecert.userfiles import UserFileError, read_user_file

    with pytest.raises(UserFileError, match=rf"--baseline .*sparse.bin: is {4 << 30} bytes, over the 100-byte bound"):
        read_user_file(_sparse(tmp_path), "--baseline", 100)


def test_a_link_is_named_with_where_it_leads(tmp_path: Path) -> None:
    from kubecert.userfiles import UserFileError, read_user_file

    (tmp_path / "base.json").symlink_to("/dev/zero")
    with pytest.raises(UserFileError) as refused:
        read_user_file(tmp_path / "base.json", "--baseline", 100)
    assert str(refused.value) == (f"--baseline {tmp_path / 'base.json'} (a link to /dev/zero): is a character "
                                  "device, not a regular file; not read")


def test_an_inventory_of_100000_plain_entries_is_read(tmp_path: Path) -> None:
    from kubecert.targets import fleetfile

    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump({"targets": [f"pki:/srv/node-{n}/pki" for n in range(100_000)]}))
    assert len(fleetfile.load(path)) == 100_000


def test_a_file_of_too_many_entries_says_that_bound_and_an_alias_bomb_says_aliases() -> None:
    from kubecert.inventory.safe_yaml import YamlError, load_bounded

    plain = yaml.safe_dump({"targets": [f"pki:/n/{n}" for n in range(1001)]})
    with pytest.raises(YamlError) as refused:
        load_bounded(plain, max_bytes=1 << 20, max_nodes=1000)
    assert "more than 1000 entries (YAML nodes: keys, values and list items)" in str(refused.value)
    assert "alias" not in str(refused.value)
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" \
           "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    with pytest.raises(YamlError, match=r"aliases expand it to more than 1000 nodes \(a YAML bomb\?\)"):
        load_bounded(bomb, max_bytes=1 << 20, max_nodes=1000)
