"""``kubecert reference pki init|check-expiration``: output, exit codes, one-line errors."""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
from pathlib import Path

import pytest

from kubecert import cli as kubecert_cli
from kubecert.reference import cli
from kubecert.reference.pki import PkiTree


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = kubecert_cli.main(["reference", "pki", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_init_writes_a_tree_and_prints_kubeadms_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "k"
    code, out, err = _run(capsys, "init", "--dir", str(root), "--encryption-algorithm", "ECDSA-P256",
                          "--node-name", "node-7", "--apiserver-cert-extra-sans", "10.9.9.9, api.example",
                          "--profile", "kubeadm", "--no-super-admin")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f'[certs] Using certificateDir folder "{root / "pki"}"'
    assert lines[1] == '[certs] Generating "ca" certificate and key'
    assert (
        "[certs] apiserver serving cert is signed for DNS names [api.example kubernetes kubernetes.default "
        "kubernetes.default.svc kubernetes.default.svc.cluster.local node-7] and IPs [10.96.0.1 10.0.0.10 10.9.9.9]"
    ) in lines
    assert "super-admin.conf" not in out
    assert "PRIVATE KEY" not in out
    tree = PkiTree(root)
    ca = tree.cert("ca")
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days == 3650
    assert stat.S_IMODE(tree.key_path("apiserver").stat().st_mode) == 0o600


def test_init_plants_faults(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "k"
    code, out, _ = _run(capsys, "init", "--dir", str(root), "--encryption-algorithm", "ECDSA-P256",
                        "--fault", "loose-key-mode", "--fault", "wrong-cn")
    assert code == 0
    assert '[fault] Planted "loose-key-mode" in pki/apiserver.key: apiserver.key is mode 0644 (fails KC-FILE-01)' in out
    assert '[fault] Planted "wrong-cn"' in out
    assert stat.S_IMODE((root / "pki/apiserver.key").stat().st_mode) == 0o644


def test_init_external_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "k"
    code, out, _ = _run(capsys, "init", "--dir", str(root), "--encryption-algorithm", "ECDSA-P256",
                        "--external-ca", "ca", "--external-etcd")
    assert code == 0
    assert not (root / "pki/ca.key").exists()
    assert not (root / "pki/etcd").exists()
    code, out, _ = _run(capsys, "check-expiration", "--dir", str(root))
    assert code == 0
    assert "etcd" not in out
    assert "apiserver                  " in out
    assert out.splitlines()[2].split()[-1] == "yes"  # apiserver: its CA is external


def test_check_expiration_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path / "k")
    assert _run(capsys, "init", "--dir", root, "--encryption-algorithm", "ECDSA-P256")[0] == 0
    code, text, _ = _run(capsys, "check-expiration", "--dir", root)
    assert code == 0
    assert text.splitlines()[0] == (
        "CERTIFICATE                EXPIRES                  RESIDUAL TIME   "
        "CERTIFICATE AUTHORITY   EXTERNALLY MANAGED"
    )
    assert "CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED" in text
    code, out, _ = _run(capsys, "check-expiration", "--dir", root, "-o", "json")
    assert code == 0
    assert json.loads(out)["kind"] == "CertificateExpirationInfo"
    code, out, _ = _run(capsys, "check-expiration", "--dir", root, "--output", "yaml")
    assert code == 0
    assert out.startswith("apiVersion: output.kubeadm.k8s.io/v1alpha3\n")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["init", "--advertise-address", "300.1.1.1"], "advertise address '300.1.1.1' is not an IP address"),
        (["init", "--fault", "leaf-401-days"], "unknown fault 'leaf-401-days'"),
        (["init", "--encryption-algorithm", "RSA-1024"], "unknown encryption algorithm 'RSA-1024'"),
        (["init", "--profile", "eks"], "unknown profile 'eks'"),
        (["init", "--external-ca", "root"], "unknown CA 'root'"),
        (["init", "--control-plane-endpoint", "api:0"], "invalid port"),
        (["init", "--kubernetes-version", "v1.26.15"], "older than the reference writes: v1.28.0 and later"),
        (["init", "--role", "worker", "--kubelet-state", "started"], "--kubelet-state concerns control-plane nodes"),
        (["check-expiration", "-o", "wide"], "unknown output format 'wide'"),
        (["check-expiration"], "holds no pki folder"),
    ],
)
def test_user_errors_are_one_line_and_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    root = tmp_path / "k"
    code, out, err = _run(capsys, *argv[:1], "--dir", str(root), *argv[1:])
    assert code == cli.EXIT_USAGE == 3
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("kubecert: error: ")
    assert words in err
    assert "Traceback" not in err
    assert not root.exists() or argv[0] == "check-expiration"


_QUOTED_PATH = re.compile(r'"([^"]*/[^"]*)"')


@pytest.mark.parametrize("argv", [
    ["--kubelet-state", "fresh"], ["--kubelet-state", "started"], ["--kubelet-state", "finalized"], [],
    ["--role", "worker"], ["--kubernetes-version", "v1.28.7", "--fault", "loose-key-mode"],
])
def test_init_prints_only_paths_in_its_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    """kubeadm names the node's own paths because it runs on the node; the reference writes a folder, so every
    path it prints is in that folder (as given, relative or not), never the machine's /etc/kubernetes."""
    monkeypatch.chdir(tmp_path)
    for root in (tmp_path / "abs", Path("rel")):
        code, out, err = _run(capsys, "init", "--dir", str(root), "--encryption-algorithm", "ECDSA-P256", *argv)
        assert (code, err) == (0, "")
        absolute = [path for path in _QUOTED_PATH.findall(out) if path.startswith("/")]
        assert all(root.is_absolute() and (path == str(root) or path.startswith(f"{root}/")) for path in absolute), \
            absolute
        assert "/etc/" not in out and "/var/" not in out
        if "--role" not in argv:
            assert f'[certs] Using certificateDir folder "{root / "pki"}"' in out
        if argv in ([], ["--kubelet-state", "finalized"]):
            assert f'[kubelet-finalize] Updating "{root / "kubelet.conf"}" to point to a rotatable kubelet client ' \
                   "certificate and key" in out


def test_init_help_names_the_versions_and_kubelet_states(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        kubecert_cli.main(["reference", "pki", "init", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--kubernetes-version v1.MINOR.PATCH" in text and "v1.28 and later (default v1.31.0)" in text
    assert "{fresh,started,finalized,rotated}" in text
    assert "rotated (the CSR signer's ECDSA certificate; default)" in text


def test_init_refuses_root_only_faults_to_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code, _, err = _run(capsys, "init", "--dir", str(tmp_path / "k"), "--fault", "foreign-owner")
    assert code == 3
    assert "only root" in err
    assert not (tmp_path / "k").exists()


def test_init_refuses_a_folder_with_files(reference_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = sorted(p.name for p in reference_copy.iterdir())
    code, _, err = _run(capsys, "init", "--dir", str(reference_copy))
    assert code == 3
    assert "exists and is not an empty directory" in err
    assert sorted(p.name for p in reference_copy.iterdir()) == before


def test_an_unwritable_place_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("")
    code, _, err = _run(capsys, "init", "--dir", str(tmp_path / "file" / "k"), "--encryption-algorithm", "ECDSA-P256")
    assert code == 3
    assert err.startswith("kubecert: error: ")
    assert err.count("\n") == 1


def test_add_commands_leaves_room_for_more_commands() -> None:
    parser = argparse.ArgumentParser(prog="kubecert")
    reference = parser.add_subparsers(dest="command", required=True).add_parser("reference")
    cli.add_commands(reference)
    assert reference.prog == "kubecert reference"
    args = parser.parse_args(["reference", "pki", "check-expiration", "--dir", "/x"])
    assert callable(args.handler)
    assert (args.reference_command, args.pki_command) == ("pki", "check-expiration")
    with pytest.raises(SystemExit):
        parser.parse_args(["reference"])  # a command is required
    assert cli.PKI_VERBS
    assert cli.REFERENCE_COMMANDS
