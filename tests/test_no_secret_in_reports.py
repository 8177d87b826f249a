"""No byte kubecert writes holds a credential or a private key: a run against a node tree (its private keys
known) and a management API (its key known), every report format, the terminal and the command line."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubecert.reports.outputs import FORMATS
from kubecert.reports.redact import REDACTED, redact_command_line

from support import reference_api, validate_every_report

API_KEY = "kcSecretKey7Qm2ZpX9vB4nL0wE5rT8yU1iO3aS6dF"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str, str]]:
    with reference_api(tmp_path_factory.mktemp("secret-api"), API_KEY) as serving:
        yield serving


def private_key_material(root: Path) -> list[str]:
    """Every private key of a tree as text a report could carry: each PEM's base64 lines, and the keys
    embedded in kubeconfigs (client-key-data) as base64 and as PEM lines."""
    pems = [path.read_text() for path in root.rglob("*.key")]
    for conf in root.glob("*.conf"):
        match = re.search(r"client-key-data: (\S+)", conf.read_text())
        if match:
            pems.append(base64.b64decode(match.group(1)).decode())
            pems.append(match.group(1))
    lines = [line for pem in pems for line in pem.splitlines() if len(line) >= 40 and "-----" not in line]
    assert len(lines) > 50  # the tree's keys are really there to look for
    return lines


def test_no_written_byte_holds_the_api_key_or_a_private_key(tmp_path: Path, api: tuple[Any, str, str]) -> None:
    server, cluster, project = api
    subprocess.run([sys.executable, "-m", "kubecert", "reference", "pki", "init", "--dir", str(tmp_path / "node")],
                   check=True, capture_output=True)
    run = subprocess.run(
        [sys.executable, "-m", "kubecert", "check", "--target", f"pki:{tmp_path / 'node' / 'pki'}",
         "--target", f"palette:{server.url}?cluster={cluster}&project={project}",
         "--ca-bundle", str(server.tls.ca_bundle), "--api-key-env", "PALETTE_API_KEY",
         "--output-dir", "out", "--", "-o", f"junit_suite_name=token={API_KEY}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PALETTE_API_KEY": API_KEY})
    assert run.returncode in (0, 1), run.stdout + run.stderr
    written = sorted((tmp_path / "out").iterdir())
    assert validate_every_report(tmp_path) == 1
    assert [p.name for p in written] == sorted(fmt.file_name for fmt in FORMATS)
    keys = private_key_material(tmp_path / "node")
    for where, text in [*((str(p), p.read_text()) for p in written), ("stdout", run.stdout), ("stderr", run.stderr)]:
        assert API_KEY not in text, where
        leaked = [line for line in keys if line in text]
        assert leaked == [], where
    assert f"junit_suite_name=token={REDACTED}" in (tmp_path / "out" / "kubecert.json").read_text()


@pytest.mark.parametrize(("argv", "expected"), [
    (["--api-key-file", "/run/k"], ["--api-key-file", REDACTED]),
    (["--api-key-env=NAME"], [f"--api-key-env={REDACTED}"]),
    (["--kubecert-api-key-file", "k"], ["--kubecert-api-key-file", REDACTED]),
    (["palette:https://h?cluster=5f1a2b3c4d5e6f7a8b9c0d1e&token=abc"],
     [f"palette:https://h?cluster=5f1a2b3c4d5e6f7a8b9c0d1e&token={REDACTED}"]),
    (["Authorization: Bearer abc.def"], [f"Authorization:{REDACTED} {REDACTED}"]),
    (["eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.signature"], [REDACTED]),
    ([API_KEY], [REDACTED]),
    (["0123456789abcdef0123456789abcdef01234567"], [REDACTED]),
    (["pki:/tmp/pytest-of-root/pytest-12/test_writes_every_report_0/k8s/pki"],
     ["pki:/tmp/pytest-of-root/pytest-12/test_writes_every_report_0/k8s/pki"]),
    (["--renew-command", "kubeadm certs renew all"], ["--renew-command", "kubeadm certs renew all"]),
])
def test_the_command_line_is_recorded_with_credentials_redacted(argv: list[str], expected: list[str]) -> None:
    assert redact_command_line(argv) == expected
