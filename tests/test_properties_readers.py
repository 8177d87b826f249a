"""Properties of the readers of what a target sends: PEM certificates and keys, YAML, JSON, kubeconfigs.

For any input (arbitrary bytes and text, valid files with bits flipped, cut short, relabelled, nested
structures rendered to YAML and JSON) each reader returns a result or raises its own documented error:
ReadFailure carrying a Problem that names the file, YamlError, JsonError. Anything else (RecursionError,
UnicodeDecodeError, an object that contains itself) would take a whole run down, or a report with it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtensionOID
from hypothesis import example, given
from hypothesis import strategies as st

from kubecert.inventory import files
from kubecert.inventory.files import ReadFailure, parse_certificate, parse_private_key, parse_public_key, read_bytes
from kubecert.inventory.kubeconfig import load_kubeconfig
from kubecert.inventory.model import KeyFacts, KubeconfigRecord, ProblemKind, PublicKeyFacts
from kubecert.inventory.safe_json import JsonError, JsonTooDeep, depth, loads_bounded
from kubecert.inventory.safe_yaml import MAX_DEPTH, YamlError, load_bounded
from kubecert.reference.pki.issue import cert_pem, issue_ca, issue_leaf
from kubecert.reference.pki.keys import private_key_pem, public_key_pem
from kubecert.reference.pki.kubeconfig import kubeconfig_document, render_kubeconfig
from kubecert.targets.cluster.access import KubeconfigRefused, access_from_file
from kubecert.targets.cluster.trust import FROM_NODE, KubeconfigTrust

NOW = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
CA_KEY = ec.generate_private_key(ec.SECP256R1())
CA = issue_ca(cn="kubernetes", key=CA_KEY, now=NOW)
CLIENT_KEY = ec.generate_private_key(ec.SECP256R1())
CLIENT = issue_leaf(CA, CA_KEY, cn="kubernetes-admin", orgs=("kubeadm:cluster-admins",), eku=("clientAuth",),
                    key=CLIENT_KEY, now=NOW)
SERVER = issue_leaf(CA, CA_KEY, cn="kube-apiserver", dns=("kubernetes", "kubernetes.default"), ips=("10.96.0.1",),
                    eku=("serverAuth",), key=CLIENT_KEY, now=NOW)
CERTS = (cert_pem(CA), cert_pem(SERVER))
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_KEYS = (
    private_key_pem(CLIENT_KEY),  # EC PRIVATE KEY
    private_key_pem(RSA_KEY),  # RSA PRIVATE KEY
    ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),  # PRIVATE KEY
)
PUBLIC_KEYS = (public_key_pem(CLIENT_KEY), public_key_pem(RSA_KEY))
KUBECONFIG = kubeconfig_document(server="https://10.0.0.10:6443", ca_pem=cert_pem(CA), user="kubernetes-admin",
                                 client_cert_pem=cert_pem(CLIENT), client_key_pem=private_key_pem(CLIENT_KEY))
LABELS = ("CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "PUBLIC KEY", "RSA PUBLIC KEY",
          "ENCRYPTED PRIVATE KEY", "CERTIFICATE REQUEST", "X509 CRL", "TRUSTED CERTIFICATE", "DSA PRIVATE KEY")
PATH = Path("/etc/kubernetes/pki/apiserver.crt")


# --- inputs


@st.composite
def pem_mutations(draw: st.DrawFn, pems: tuple[bytes, ...]) -> bytes:
    """A valid PEM with one to three changes: bits flipped, cut short, a slice dropped or inserted, its
    label swapped (BEGIN, END or both), the block doubled, another block before it, CRLF line ends."""
    data = bytearray(draw(st.sampled_from(pems)))
    for _ in range(draw(st.integers(1, 3))):
        change = draw(st.sampled_from(["flip", "cut", "drop", "insert", "label", "double", "prefix", "crlf"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if change == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif change == "cut":
            del data[at:]
        elif change == "drop":
            del data[at:at + draw(st.integers(1, 64))]
        elif change == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif change == "label":
            label = draw(st.sampled_from(LABELS) | st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ", max_size=20))
            which = draw(st.sampled_from([b"BEGIN", b"END", b"(?:BEGIN|END)"]))
            data = bytearray(re.sub(rb"-----(" + which + rb") [A-Z0-9 ]+-----", rb"-----\1 " + label.encode()
                                    + b"-----", bytes(data)))
        elif change == "double":
            data.extend(bytes(data))
        elif change == "prefix":
            data[0:0] = draw(st.sampled_from(pems + PUBLIC_KEYS))
        elif change == "crlf":
            data = bytearray(bytes(data).replace(b"\n", b"\r\n"))
    return bytes(data)


def _wrapped(label: str, der: bytes) -> bytes:
    return f"-----BEGIN {label}-----\n".encode() + base64.encodebytes(der) + f"-----END {label}-----\n".encode()


@st.composite
def der_mutations(draw: st.DrawFn, pems: tuple[bytes, ...]) -> bytes:
    """A valid PEM whose DER (not its base64) has bytes changed or is cut short, wrapped again: this
    reaches the ASN.1 parser rather than the PEM decoder."""
    pem = draw(st.sampled_from(pems))
    label = re.search(rb"-----BEGIN ([A-Z0-9 ]+)-----", pem)
    assert label is not None
    der = bytearray(base64.b64decode(b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(der) - 1))
        if draw(st.booleans()):
            der[at] = draw(st.integers(0, 255))
        else:
            del der[at + 1:]
    return _wrapped(label.group(1).decode(), bytes(der))


def pem_inputs(pems: tuple[bytes, ...]) -> st.SearchStrategy[bytes]:
    garbage_in_frame = st.builds(_wrapped, st.sampled_from(LABELS), st.binary(max_size=300))
    return st.binary(max_size=2000) | garbage_in_frame | pem_mutations(pems) | der_mutations(pems)


# Nothing but a ReadFailure may escape the readers (cryptography's DuplicateExtension and
# UnsupportedGeneralNameType once did, from Certificate.extensions).
ESCAPING: tuple[type[Exception], ...] = ()


def _outcome(call: Callable[[], Any], escaping: tuple[type[Exception], ...]) -> Any:
    """What ``call`` returns, or the ReadFailure (or one of ``escaping``) it raises."""
    try:
        return call()
    except (ReadFailure, *escaping) as raised:
        return raised


def _read(call: Callable[[], Any], path: Path = PATH, subject: str = "apiserver",
          kind: ProblemKind = ProblemKind.INVALID, escaping: tuple[type[Exception], ...] = ()) -> Any:
    """What ``call`` returns or the ReadFailure it raises, once checked that the failure names the file,
    its subject and what is wrong; anything else it raises fails the property."""
    result = _outcome(call, escaping)
    if isinstance(result, ReadFailure):
        problem = result.problem
        assert (problem.path, problem.subject, problem.kind) == (str(path), subject, kind), problem
        assert problem.message and str(path) in str(result), problem
    return result


# --- PEM


@given(data=pem_inputs(CERTS))
def test_parse_certificate_returns_a_certificate_or_a_read_failure(data: bytes) -> None:
    result = _read(lambda: parse_certificate(data, PATH, "apiserver"), escaping=ESCAPING)
    assert isinstance(result, (x509.Certificate, ReadFailure, *ESCAPING))


@given(first=st.sampled_from(CERTS), rest=st.lists(st.sampled_from(CERTS), max_size=3), crlf=st.booleans())
def test_parse_certificate_reads_the_first_certificate_of_a_bundle(first: bytes, rest: list[bytes], crlf: bool) -> None:
    data = b"".join([first, *rest])
    result = parse_certificate(data.replace(b"\n", b"\r\n") if crlf else data, PATH, "apiserver")
    assert cert_pem(result) == first


def _certificate_with(*extensions: x509.ExtensionType) -> bytes:
    """DER of the server certificate's names, key and dates with ``extensions`` only (serial 1)."""
    builder = (x509.CertificateBuilder().subject_name(SERVER.subject).issuer_name(SERVER.issuer)
               .public_key(SERVER.public_key()).serial_number(1).not_valid_before(SERVER.not_valid_before_utc)
               .not_valid_after(SERVER.not_valid_after_utc))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(CA_KEY, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _duplicate_extension() -> bytes:
    """Two extensions of one OID: made as 1.2.3.4 and 1.2.3.5, the second renamed in the DER (parsing a
    certificate checks no signature)."""
    der = _certificate_with(*(x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), b"\x05\x00")
                              for oid in ("1.2.3.4", "1.2.3.5")))
    second = der.index(bytes([0x06, 0x03, 0x2A, 0x03, 0x05]))
    return _wrapped("CERTIFICATE", der[:second + 4] + b"\x04" + der[second + 5:])


def _san_of(general_name: bytes) -> bytes:
    """A subjectAltName holding one general name given as DER (x400Address [3], ediPartyName [5])."""
    extension = x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                                           bytes([0x30, len(general_name)]) + general_name)
    return _wrapped("CERTIFICATE", _certificate_with(extension))


@pytest.mark.parametrize("make", [
    pytest.param(_duplicate_extension, id="duplicate-extension"),
    pytest.param(lambda: _san_of(bytes([0xA3, 0x00])), id="san-x400-address"),
    pytest.param(lambda: _san_of(bytes([0xA5, 0x00])), id="san-edi-party-name"),
])
def test_a_certificate_cryptography_cannot_read_is_a_read_failure(make: Callable[[], bytes]) -> None:
    data = make()
    with pytest.raises(ReadFailure) as failure:
        parse_certificate(data, PATH, "apiserver")
    assert failure.value.problem.path == str(PATH) and failure.value.problem.kind is ProblemKind.INVALID


@given(data=pem_inputs(PRIVATE_KEYS))
def test_parse_private_key_returns_key_facts_or_a_read_failure(data: bytes) -> None:
    result = _read(lambda: parse_private_key(data, PATH, "apiserver", None))
    assert isinstance(result, KeyFacts | ReadFailure)


@given(pem=st.sampled_from(PRIVATE_KEYS), crlf=st.booleans())
def test_parse_private_key_reduces_a_key_to_the_facts_of_its_public_half(pem: bytes, crlf: bool) -> None:
    facts = parse_private_key(pem.replace(b"\n", b"\r\n") if crlf else pem, PATH, "apiserver", None)
    key = serialization.load_pem_private_key(pem, password=None)
    assert facts.public == PublicKeyFacts.of(key.public_key())
    assert facts.pem_type == pem.split(b"-----")[1].removeprefix(b"BEGIN ").decode()


@given(data=pem_inputs(PUBLIC_KEYS))
def test_parse_public_key_returns_key_facts_or_a_read_failure(data: bytes) -> None:
    result = _read(lambda: parse_public_key(data, PATH, "apiserver"))
    assert isinstance(result, PublicKeyFacts | ReadFailure)


# --- reading a file


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readers")


@given(content=st.binary(max_size=600), limit=st.integers(0, 512))
def test_read_bytes_returns_the_content_up_to_the_limit_and_a_read_failure_past_it(
    folder: Path, content: bytes, limit: int,
) -> None:
    path = folder / "apiserver.crt"
    path.write_bytes(content)
    with mock.patch.object(files, "MAX_FILE_BYTES", limit):
        result = _read(lambda: read_bytes(path, "apiserver"), path, kind=ProblemKind.UNREADABLE)
    if len(content) <= limit:
        assert result == content
    else:
        assert isinstance(result, ReadFailure) and f"over the {limit}-byte limit" in result.problem.message


# --- YAML

# PyYAML writes control characters and line separators in keys and plain scalars so that it does not read
# them back as written (a key '\x85' comes back as ' '): the writer's limit, not the reader's, so left out.
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=20)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts
structures = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4), max_leaves=40)
# Pieces of YAML syntax (anchors, aliases, tags, indicators, scalars PyYAML resolves to types) to join at random.
YAML_PIECES = (
    "&a ", "&b ", "*a", "*b", "!!int ", "!!float ", "!!bool ", "!!timestamp ", "!!binary ", "!!set ", "!!omap ",
    "!!str ", "!!null ", "!<tag:yaml.org,2002:map> ", "!local ", "2001-02-30", "2001-12-14t21:59", "<<: ", "? ",
    "[", "]", "{", "}", "- ", ": ", ", ", "&a [*a]", "*a: ", "'", '"', "|", ">", "#", "%YAML 1.1\n", "---\n",
    "...\n", "\n", "\n  ", "\t", "~", "0x", "0o", "0b", "1_000", "190:20:30", ".inf", "1e309", "9" * 5000,
)
yaml_texts = st.lists(st.sampled_from(YAML_PIECES) | st.text(max_size=5), max_size=40).map("".join)


def _size(document: Any, limit: int) -> int:
    """How many nodes ``document`` has, counting a shared one each time it occurs; stops past ``limit``."""
    count, stack = 0, [document]
    while stack and count <= limit:
        value = stack.pop()
        count += 1
        if isinstance(value, dict):
            stack += [*value.keys(), *value.values()]
        elif isinstance(value, list | tuple | set):
            stack += list(value)
    return count


def _bounded(text: str | bytes, **bounds: int) -> Any:
    """load_bounded's document, checked to be within its bounds; or the YamlError it raised."""
    try:
        document = load_bounded(text, max_bytes=1 << 20, **bounds)
    except YamlError as error:
        return error
    assert depth(document, limit=1 << 16) <= bounds.get("max_depth", MAX_DEPTH)
    assert _size(document, bounds.get("max_nodes", 100_000)) <= bounds.get("max_nodes", 100_000)
    return document


@given(text=yaml_texts | st.text(max_size=300))
@example(text="a: 2001-02-30")  # PyYAML's ValueError
@example(text="!!int ''")  # IndexError
@example(text="!!timestamp soon")  # AttributeError
@example(text="!!bool maybe")  # KeyError
@example(text="x: " + "9" * 5000)  # ValueError: more than 4300 digits
@example(text="&a [*a]")  # a list that contains itself
@example(text="\n".join(["a0: &a0 " + "[" * 60 + "]" * 60]
                        + [f"a{i}: &a{i} " + "[" * 59 + f"*a{i - 1}" + "]" * 59 for i in range(1, 30)]))
def test_load_bounded_returns_a_bounded_document_or_a_yaml_error(text: str) -> None:
    _bounded(text)
    _bounded(text, max_depth=8, max_nodes=200)


@pytest.mark.parametrize(("text", "message"), [
    ("a: 1\nb: 2001-02-30\n", "invalid YAML at line 2: not a valid timestamp"),
    ("a:\n  - !!int ''\n", "invalid YAML at line 2: not a valid int"),
    ("a: !!bool maybe\n", "invalid YAML at line 1: not a valid bool"),
    ("n: " + "9" * 5000 + "\n", "invalid YAML at line 1: not a valid int"),
    ("a: &a\n  b: [*a]\n", "alias *a is inside the collection it names (a document that contains itself) at line 2"),
    ("a: &a [[1]]\nb: [[[*a]]]\n", "nested deeper than 4 levels through alias *a at line 2"),
])
def test_yaml_errors_say_what_and_at_which_line(text: str, message: str) -> None:
    with pytest.raises(YamlError) as error:
        load_bounded(text, max_bytes=1 << 20, max_depth=4)
    assert str(error.value) == message


@given(data=st.binary(max_size=300) | yaml_texts.map(str.encode))
def test_load_bounded_reads_bytes_or_says_why_not(data: bytes) -> None:
    _bounded(data)


@st.composite
def alias_chains(draw: st.DrawFn) -> str:
    """Anchored collections, each holding aliases of the ones before it, nested some levels deep."""
    lines = []
    for i in range(draw(st.integers(1, 12))):
        known = [f"*a{j}" for j in range(i)] or ["x"]
        items = draw(st.lists(st.sampled_from(known), min_size=1, max_size=6))
        nesting = draw(st.integers(0, 20))
        lines.append(f"k{i}: &a{i} " + "[" * nesting + "[" + ", ".join(items) + "]" + "]" * nesting)
    return "\n".join(lines)


@given(text=alias_chains(), max_depth=st.integers(1, 80), max_nodes=st.integers(1, 2000))
def test_aliases_count_as_often_and_as_deep_as_they_expand(text: str, max_depth: int, max_nodes: int) -> None:
    result = _bounded(text, max_depth=max_depth, max_nodes=max_nodes)
    plain = yaml.safe_load(text)
    if isinstance(result, YamlError):
        assert depth(plain, limit=1 << 16) > max_depth or _size(plain, max_nodes) > max_nodes, result
    else:
        assert result == plain


@given(document=structures)
def test_load_bounded_reads_back_what_yaml_writes(document: Any) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    result = _bounded(text)
    if depth(document, limit=1 << 16) > MAX_DEPTH:
        assert isinstance(result, YamlError)
    else:
        assert result == document


@given(levels=st.integers(1, 3 * MAX_DEPTH), flow=st.booleans())
def test_load_bounded_refuses_exactly_what_nests_too_deep(levels: int, flow: bool) -> None:
    block = "".join(f"{'  ' * i}k:\n" for i in range(levels)) + "  " * levels + "v"
    text = "[" * levels + "]" * levels if flow else block
    result = _bounded(text)
    assert isinstance(result, YamlError) == (levels > MAX_DEPTH), result


# --- JSON

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_documents = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=40)


def _json(text: str | bytes, max_depth: int = 64) -> Any:
    try:
        document = loads_bounded(text, max_depth=max_depth)
    except JsonError as error:
        return error
    assert depth(document, limit=1 << 16) <= max_depth
    return document


json_texts = st.lists(st.sampled_from([*'[]{}:,"\\ 0123456789.eE-+tfn', "true", "null", "\\u"]),
                      max_size=80).map("".join)


@given(text=st.text(max_size=300) | json_texts)
@example(text="[" * 100_000)
@example(text="1" * 5000)
def test_loads_bounded_returns_a_bounded_document_or_a_json_error(text: str) -> None:
    _json(text)


@given(data=st.binary(max_size=300))
@example(data=b"\xff\xfe\x00")
@example(data=b'"\xed\xa0\x80"')
def test_loads_bounded_reads_bytes_or_says_why_not(data: bytes) -> None:
    _json(data)


@given(document=json_documents, max_depth=st.integers(1, 64))
def test_loads_bounded_reads_back_what_json_writes_and_refuses_what_nests_too_deep(
    document: Any, max_depth: int,
) -> None:
    result = _json(json.dumps(document), max_depth)
    if depth(document, limit=1 << 16) > max_depth:
        assert isinstance(result, JsonTooDeep)
    else:
        assert result == document


# --- kubeconfigs


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        yield from _paths(child, (*prefix, key))


KUBECONFIG_PATHS = list(_paths(KUBECONFIG))[1:]


def _replaced(document: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> Any:
    if not path:
        return value
    copy = dict(document) if isinstance(document, dict) else list(document)
    head, rest = path[0], path[1:]
    if delete and not rest:
        del copy[head]
        return copy
    copy[head] = _replaced(copy[head], rest, value, delete=delete)
    return copy


@st.composite
def kubeconfig_mutations(draw: st.DrawFn) -> bytes:
    """kubeadm's admin.conf, changed: a value replaced (anything YAML can hold, or base64 of a changed PEM),
    a key removed, or the YAML text changed as the PEM files are."""
    kind = draw(st.sampled_from(["value", "data", "delete", "text"]))
    if kind == "text":
        return draw(pem_mutations((render_kubeconfig(KUBECONFIG),)))
    path = draw(st.sampled_from(KUBECONFIG_PATHS))
    if kind == "delete":
        return render_kubeconfig(_replaced(KUBECONFIG, path, None, delete=True))
    if kind == "data":
        value: Any = base64.b64encode(draw(pem_inputs(CERTS + PRIVATE_KEYS))).decode()
    else:
        value = draw(structures)
    return yaml.safe_dump(_replaced(KUBECONFIG, path, value), allow_unicode=True).encode()


@given(data=kubeconfig_mutations() | yaml_texts.map(str.encode) | st.binary(max_size=300))
@example(data=b"current-context: &a [*a]\ncontexts:\n- name: &b [*b]\n  context: {}\n")  # == on itself
@example(data=b"clusters: [{cluster: {server: 2001-02-30}}]\n")
def test_load_kubeconfig_returns_a_record_or_a_read_failure(folder: Path, data: bytes) -> None:
    path = folder / "admin.conf"
    path.write_bytes(data)
    result = _read(lambda: load_kubeconfig(path), path, "admin.conf", escaping=ESCAPING)
    assert isinstance(result, (KubeconfigRecord, ReadFailure, *ESCAPING))


def test_the_kubeconfig_the_properties_start_from_is_read_whole(folder: Path) -> None:
    path = folder / "admin.conf"
    path.write_bytes(render_kubeconfig(KUBECONFIG))
    record = load_kubeconfig(path)
    assert record.client_cert is not None and record.client_cert.cert == CLIENT
    assert record.ca_cert == CA and record.user == "kubernetes-admin" and record.embedded_key is not None


# --- what kubecert takes from a kubeconfig to reach a cluster (targets/cluster/access.py)

ACCESS_FIELDS = ("exec", "auth-provider", "token", "tokenFile", "client-certificate", "client-key", "username",
                 "password", "as", "proxy-url", "insecure-skip-tls-verify", "tls-server-name", "certificate-authority",
                 "disable-compression", "server", "extensions", "colour", 0)
EXEC_BODIES = st.fixed_dictionaries({"apiVersion": st.sampled_from(["client.authentication.k8s.io/v1", "v1"]),
                                     "command": texts}, optional={"args": structures, "env": structures,
                                                                  "interactiveMode": structures})
TRUSTS = (KubeconfigTrust(), KubeconfigTrust(run_exec=True, read_files=True), FROM_NODE)


@st.composite
def kubeconfig_additions(draw: st.DrawFn) -> bytes:
    """kubeadm's admin.conf with a field set in its user or its cluster, holding anything YAML can."""
    where = draw(st.sampled_from([("users", 0, "user"), ("clusters", 0, "cluster")]))
    body = dict(KUBECONFIG[where[0]][0][where[2]])
    body[draw(st.sampled_from(ACCESS_FIELDS))] = draw(structures | EXEC_BODIES)
    return yaml.safe_dump(_replaced(KUBECONFIG, where, body), allow_unicode=True).encode()


@given(data=kubeconfig_additions() | kubeconfig_mutations() | yaml_texts.map(str.encode),
       trust=st.sampled_from(TRUSTS))
def test_a_kubeconfig_gives_data_to_reach_its_cluster_or_a_refusal_naming_it(
        folder: Path, data: bytes, trust: KubeconfigTrust) -> None:
    """Never another error; never a plugin a kubeconfig taken from a node names, nor one not allowed."""
    path = folder / "admin.conf"
    path.write_bytes(data)
    access = _outcome(lambda: access_from_file(path, None, trust), (KubeconfigRefused,))
    if isinstance(access, KubeconfigRefused):
        assert str(access).startswith(f"the kubeconfig {path}"), access
        return
    assert access.server.startswith("https://") and "@" not in access.server.split("/")[2]
    assert access.exec_plugin is None or trust.run_exec
    assert access.token is None or re.fullmatch(r"[\x21-\x7e]+", access.token)


def test_the_kubeconfig_the_properties_start_from_gives_its_credentials(folder: Path) -> None:
    path = folder / "admin.conf"
    path.write_bytes(render_kubeconfig(KUBECONFIG))
    access = access_from_file(path, None, FROM_NODE)
    assert access.server == "https://10.0.0.10:6443" and access.ca_certificate == CA
    assert access.client_cert_pem == cert_pem(CLIENT) and access.client_key_pem == private_key_pem(CLIENT_KEY)
