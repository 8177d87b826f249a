"""A node's private keys never reach evidence, in whatever encoding a command prints them: PEM, DER as base64
(any line wrapping, standard or URL-safe, inside JSON), DER as hex (either case, with or without separators,
wrapped), openssl's text dump, the key's numbers in decimal, and encodings of encodings (base64 or hex of a
PEM). Known keys (the tree's) are found by their secret numbers; any key by its structure.

The check that nothing leaked is independent of kubecert's scrubber: it decodes every run of base64, hex and
digits in what was written, at every alignment, and looks for 12 bytes of a key's secret numbers.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import audit
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from host_writes import lasting_writes_outside

from kubecert.inventory.keymaterial import NO_TRACES, REDACTED, KeyTraces, scrub
from kubecert.reference.pki import KeyPool, load_private_key
from kubecert.reports.outputs import FORMATS

from nodes import make_node

LEAK_BYTES = 12  # of a secret number: far less than any encoding of a key holds
MARKER = "encoding-marker"


def secret_numbers(key: Any) -> list[int]:
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        return [n.d, n.p, n.q, n.dmp1, n.dmq1, n.iqmp]
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return [key.private_numbers().private_value]


def _big_endian(number: int) -> bytes:
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


def _wrap(text: str, width: int, indent: str = "") -> str:
    return "\n".join(indent + text[i:i + width] for i in range(0, len(text), width))


def encodings(key: Any, path: Path) -> dict[str, str]:
    """Every way a command might print ``key`` (read from ``path``)."""
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    traditional = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                    serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    b64 = base64.b64encode(traditional).decode()
    secret = _big_endian(secret_numbers(key)[0])
    found = {
        "pem": pem,
        "pem-json": json.dumps({"key": pem}),
        "der-base64": base64.b64encode(pkcs8).decode(),
        "der-base64-64": _wrap(b64, 64),
        "der-base64-76-indented": _wrap(b64, 76, "    "),
        "der-base64-16": _wrap(b64, 16),
        "der-base64-json-escaped": json.dumps(_wrap(b64, 64)),
        "der-base64url": base64.urlsafe_b64encode(pkcs8).decode().rstrip("="),
        "der-hex": traditional.hex(),
        "der-HEX": pkcs8.hex().upper(),
        "der-hex-colons": traditional.hex(":"),
        "der-HEX-spaces-wrapped": _wrap(pkcs8.hex(" ").upper(), 48, "  "),
        "der-hex-escaped": "".join(f"\\x{byte:02x}" for byte in traditional),
        "secret-hex": secret.hex(),
        "secret-hex-openssl-wrapped": _wrap(secret.hex(":"), 45, "    "),
        "secret-base64": base64.b64encode(secret).decode(),
        "numbers-decimal": "\n".join(f"n{i}={number}" for i, number in enumerate(secret_numbers(key))),
        "pem-base64": base64.b64encode(pem.encode()).decode(),
        "pem-hex": pem.encode().hex(),
        "openssh": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                     serialization.NoEncryption()).decode(),
    }
    if shutil.which("openssl"):
        dump = subprocess.run(["openssl", "pkey", "-in", str(path), "-text", "-noout"], capture_output=True,
                              text=True, check=True)
        found["openssl-text"] = dump.stdout
    return found


def _decoded(text: str) -> list[bytes]:
    """Every run of base64 or hex in ``text`` (across any whitespace and escapes), decoded at every alignment."""
    flat = text.replace("\\n", "\n").replace("\\x", "")
    decoded: list[bytes] = []
    for run in re.findall(r"[A-Za-z0-9+/=_\-\s]{16,}", flat):
        letters = re.sub(r"[^A-Za-z0-9+/]", "", run.replace("-", "+").replace("_", "/"))
        for offset in range(4):
            part = letters[offset:]
            with contextlib.suppress(binascii.Error, ValueError):
                decoded.append(base64.b64decode(part[: len(part) - len(part) % 4]))
    for run in re.findall(r"[0-9A-Fa-f:.\s-]{24,}", flat):
        digits = re.sub(r"[^0-9A-Fa-f]", "", run)
        decoded += [bytes.fromhex(digits[o:][: (len(digits) - o) // 2 * 2]) for o in range(2)]
    return decoded


def _runs(text: str) -> list[bytes]:
    """``_decoded``, and one level further for what decodes to text (base64 of a PEM, hex of base64)."""
    outer = _decoded(text)
    inner = [data.decode("ascii") for data in outer if len(data) > 32 and data.isascii()]
    return outer + [data for piece in inner for data in _decoded(piece)]


def leaks(text: str, keys: list[Any]) -> list[str]:
    """What of ``keys``'s secret numbers ``text`` holds, by an independent search: none, or where."""
    found = []
    secrets = [_big_endian(number) for key in keys for number in secret_numbers(key)]
    pieces = {secret[i:i + LEAK_BYTES] for secret in secrets for i in range(0, len(secret) - LEAK_BYTES + 1, 4)}
    for data in _runs(text):
        hit = next((piece for piece in pieces if piece in data), None)
        if hit is not None:
            found.append(f"bytes {hit.hex()} of a secret number")
    digits = re.sub(r"\s", "", text)
    for key in keys:
        for number in secret_numbers(key):
            decimal = str(number)
            if any(decimal[i:i + 24] in digits for i in range(0, len(decimal) - 24, 8)):
                found.append("a secret number in decimal")
    return found


@pytest.fixture(scope="module")
def rsa_key(reference_tree: Any) -> tuple[Any, Path]:
    path = reference_tree.pki_dir / "apiserver.key"
    return load_private_key(path.read_bytes()), path


@pytest.fixture(scope="module")
def ec_key(tmp_path_factory: pytest.TempPathFactory, key_pool: KeyPool) -> tuple[Any, Path]:
    key = key_pool.new_key("ECDSA-P256")
    path = tmp_path_factory.mktemp("ec") / "ec.key"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    return key, path


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_the_independent_search_finds_every_encoding(kind: str, request: pytest.FixtureRequest) -> None:
    """The oracle the other tests trust: it sees the key in each encoding, and nothing in other text."""
    key, path = request.getfixturevalue(f"{kind}_key")
    for name, text in encodings(key, path).items():
        assert leaks(text, [key]), name
    assert leaks("CERTIFICATE  EXPIRES  RESIDUAL TIME\n" + "ab" * 400 + "\n" + "1234567890" * 40, [key]) == []


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_a_known_key_is_removed_in_every_encoding_and_the_text_around_it_kept(kind: str,
                                                                            request: pytest.FixtureRequest) -> None:
    key, path = request.getfixturevalue(f"{kind}_key")
    traces = KeyTraces.of(key)
    for name, text in encodings(key, path).items():
        cleaned = scrub(f"before {name}\n{text}\nafter {name}\n", traces)
        assert leaks(cleaned, [key]) == [], (name, cleaned)
        assert REDACTED in cleaned and cleaned.startswith(f"before {name}\n") and f"after {name}" in cleaned, name


@pytest.mark.parametrize("name", ["pem", "pem-json", "der-base64", "der-base64-64", "der-base64-16",
                                  "der-base64url", "der-hex", "der-HEX", "der-hex-colons", "der-HEX-spaces-wrapped",
                                  "der-hex-escaped", "pem-base64", "pem-hex", "openssh", "openssl-text"])
def test_a_key_kubecert_never_read_is_removed_by_its_structure(name: str, rsa_key: tuple[Any, Path],
                                                               ec_key: tuple[Any, Path]) -> None:
    """A renewal's new key, printed before kubecert reads it: only its shape can tell it."""
    for key, path in (rsa_key, ec_key):
        text = encodings(key, path)[name]
        assert leaks(scrub(text, NO_TRACES), [key]) == [], name


def _printer(folder: Path, keys: list[tuple[Any, Path]], *, exit_code: int) -> str:
    """A check-expiration command printing every encoding of ``keys``, each after a marker line; its last
    line (what the failure message quotes) a key too. Returns the command line and writes the markers."""
    lines = []
    for index, (key, path) in enumerate(keys):
        for name, text in encodings(key, path).items():
            lines += [f"{MARKER} {index} {name}", text]
    last = base64.b64encode(keys[0][0].private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())).decode()
    (folder / "printed.txt").write_text("\n".join(lines) + "\n")
    (folder / "last.txt").write_text(last + "\n")
    script = folder / "printer.py"
    script.write_text(textwrap.dedent(f"""\
        import sys
        sys.stdout.write(open({str(folder / 'printed.txt')!r}).read())
        sys.stderr.write("error: cannot list\\n" + open({str(folder / 'last.txt')!r}).read())
        sys.exit({exit_code})
    """))
    return f"{sys.executable} {script}"


def _tree_keys(root: Path) -> list[tuple[Any, Path]]:
    return [(load_private_key(path.read_bytes()), path) for path in (root / "pki" / "apiserver.key",
                                                                      root / "pki" / "ca.key")]


@pytest.mark.parametrize("tree", ["rsa", "ecdsa"])
def test_a_command_printing_the_trees_keys_leaves_them_in_no_report(tree: str, reference_copy: Path,
                                                                     tmp_path: Path) -> None:
    root = reference_copy if tree == "rsa" else make_node(tmp_path / "ecdsa" / "kubernetes")
    keys = _tree_keys(root)
    command = _printer(tmp_path, keys, exit_code=1)
    run, seen = audit.run_audited(["check", "--target", f"pki:{root / 'pki'}", "--rule", "KC-CHK-01",
                                   "--check-expiration-command", command, "--output-dir", str(tmp_path / "out")],
                                  cwd=tmp_path)
    assert "Traceback" not in run.stdout + run.stderr
    report = json.loads((tmp_path / "out" / "kubecert.json").read_text())
    result = next(r for r in report["results"] if r["rule"] == "KC-CHK-01")
    assert result["status"] == "error" and "exited with 1" in result["message"]
    evidence = json.dumps(result["evidence"])
    last = len(keys) - 1  # the output's tail is kept: every encoding of the last key printed reached the evidence
    assert all(f"{MARKER} {last} {name}" in evidence for name in encodings(*keys[last])), evidence
    written = [(fmt.file_name, (tmp_path / "out" / fmt.file_name).read_text()) for fmt in FORMATS]
    for where, text in [*written, ("stdout", run.stdout), ("stderr", run.stderr)]:
        assert leaks(text, [key for key, _ in keys]) == [], where
    assert lasting_writes_outside(seen, [tmp_path]) == []
    assert seen.processes_besides([sys.executable]) == []


def test_output_that_is_no_listing_keeps_only_a_short_tail_and_no_key(reference_copy: Path, tmp_path: Path) -> None:
    keys = _tree_keys(reference_copy)
    command = _printer(tmp_path, keys, exit_code=0)
    run, seen = audit.run_audited(["check", "-q", "--target", f"pki:{reference_copy / 'pki'}", "--rule",
                                   "KC-CHK-01", "--check-expiration-command", command, "--json", "r.json"],
                                  cwd=tmp_path)
    assert "Traceback" not in run.stdout + run.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    result = next(r for r in report["results"] if r["rule"] == "KC-CHK-01")
    assert result["status"] == "error" and "not an expiration listing" in result["message"]
    tail = result["evidence"][0]["stdout_tail"]
    assert len(tail) <= 1003 and REDACTED in tail  # openssl's dump ends the output: its private numbers removed
    assert leaks(json.dumps(report), [key for key, _ in keys]) == []
    assert lasting_writes_outside(seen, [tmp_path]) == []
    assert seen.processes_besides([sys.executable]) == []


def test_a_certificate_name_carrying_the_trees_key_leaves_it_in_no_report(reference_copy: Path, tmp_path: Path) -> None:
    """The report's list of a target's certificates (subject, issuer, names) is target text too: a certificate a
    compromised node re-issued with its own key's numbers in its subject must not carry them into a report."""
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    pki = reference_copy / "pki"
    key = load_private_key((pki / "apiserver.key").read_bytes())
    prime = _big_endian(secret_numbers(key)[1])
    # 40 bytes of a prime of the key, in two encodings; where its base64 holds a "+" early, which a distinguished
    # name escapes ("\+"), leaving most of the run after the escape for a reader that does not know it
    secret = next(prime[i:i + 40] for i in range(len(prime) - 40) if b"+" in base64.b64encode(prime[i:i + 40])[1:8])
    ca_key = load_private_key((pki / "front-proxy-ca.key").read_bytes())
    ca = x509.load_pem_x509_certificate((pki / "front-proxy-ca.crt").read_bytes())
    leaf = x509.load_pem_x509_certificate((pki / "front-proxy-client.crt").read_bytes())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, secret.hex()),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, base64.b64encode(secret).decode()),
                         x509.NameAttribute(NameOID.COMMON_NAME, "front-proxy-client")])
    now = dt.datetime.now(dt.UTC)
    forged = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.subject).public_key(leaf.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
              .not_valid_after(now + dt.timedelta(days=300)).sign(ca_key, hashes.SHA256()))
    assert "\\+" in forged.subject.rfc4514_string()
    (pki / "front-proxy-client.crt").write_bytes(forged.public_bytes(serialization.Encoding.PEM))
    run = subprocess.run([sys.executable, "-m", "kubecert", "check", "--target", f"pki:{pki}", "--output-dir",
                          str(tmp_path / "out")], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         check=False)
    assert "Traceback" not in run.stdout + run.stderr
    report = json.loads((tmp_path / "out" / "kubecert.json").read_text())
    listed = json.dumps(report["targets"][0]["certificates"])
    assert "front-proxy-client" in listed and REDACTED in listed  # the entry is there, its key text is not
    for fmt in FORMATS:
        assert leaks((tmp_path / "out" / fmt.file_name).read_text(), [key]) == [], fmt.file_name
    assert leaks(run.stdout + run.stderr, [key]) == []
