"""Private keys in text, in whatever encoding they come: found and removed before text becomes evidence.

A command that prints a key does not always print PEM: base64 of its DER (wrapped at any width, or not at
all, standard or URL-safe), hex (either case, with or without separators between bytes, as ``openssl
... -text`` prints it), a key's numbers in decimal, or any of these wrapped once more in base64 or hex.

Two ways to know a key. The target's own keys, read for the run, are known by *traces*: hashes (Python's,
keyed per process) of short windows of their secret numbers (RSA's d, p, q and CRT values, the EC scalar,
the Ed25519 seed), so that any run of text that decodes to enough of one is found, wherever the run starts,
and nothing kept can give a key back. A node's traces take a few KiB: a fleet holds thousands. Keys kubecert
never read (one a renewal just made) are known by their structure: a PEM block, a DER PrivateKeyInfo,
RSAPrivateKey or ECPrivateKey header, an OpenSSH key, an openssl dump of a private number. A run found
either way is replaced whole.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

REDACTED = "[private key removed by kubecert]"
# A window of this many secret bytes (or decimal digits) identifies a key. Traces keep windows side by side,
# so any 2 * WINDOW - 1 bytes of a secret number (31: less than a 64-character line of base64, less than an
# EC scalar) hold a whole one; the same for digits.
WINDOW, DIGITS = 16, 32
_STARTS_BYTES = 1 << 13  # a bit for each value of two bytes
MAX_DEPTH = 2  # base64 of PEM is one level; a second covers hex of base64 and the like

_PEM_PRIVATE = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
)
_KEY_DATA = re.compile(r"(client-key-data\"?\s*[:=]\s*\"?)[A-Za-z0-9+/=]+")
# Runs of an encoding: within a line (across the separators between hex bytes, and JSON's escaped \n), or
# whole lines of it, as a dump wrapped at any width is; a word of a sentence beside one is not part of it.
# No quantifier nests in another without a separator between: matching is linear on any text.
_B64 = r"[A-Za-z0-9+/_-]+=*"
_HEX_PAIRS = r"(?:\\x)?[0-9A-Fa-f]{2}(?:(?:[:. -]|\\x)?[0-9A-Fa-f]{2})*"
_LINE_END = r"[ \t]*(?:\r?\n|\Z)"
# Within a line a run goes on across JSON's escaped line breaks and across RFC 4514's escaping of "+" in a
# distinguished name (CN=...\+...): a key's base64 in a certificate's name is one run, not two.
_BASE64_RUN = re.compile(rf"(?m:(?:^[ \t]*{_B64}{_LINE_END})+)|{_B64}(?:(?:\\[nr]|\\(?=\+)){_B64})*")
_HEX_RUN = re.compile(rf"(?m:(?:^[ \t]*{_HEX_PAIRS}:?{_LINE_END})+)|{_HEX_PAIRS}")
_DECIMAL_RUN = re.compile(rf"(?m:(?:^[ \t]*\d+{_LINE_END})+)|\d+")
_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")
_NOT_HEX = re.compile(r"[^0-9A-Fa-f]")
_NOT_DIGIT = re.compile(r"\D")
_HEX_ONLY = re.compile(r"[0-9A-Fa-f\s]*")
# What only a private key's DER holds: PrivateKeyInfo (version, then a key algorithm), RSAPrivateKey (version
# 0, then the modulus), ECPrivateKey (version 1, then the scalar), and OpenSSH's own format.
_PRIVATE_DER = re.compile(
    rb"\x02\x01[\x00\x01]\x30[\x05-\x20]\x06(?:\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01[\x01\x0a]"
    rb"|\x07\x2a\x86\x48\xce(?:\x3d\x02\x01|\x38\x04\x01)|\x03\x2b\x65[\x6e-\x71])"
    rb"|\x02\x01\x00\x02\x82|\x02\x01\x00\x02\x81|\x02\x01\x01\x04[\x20\x30\x41\x42]|openssh-key-v1\x00",
    re.DOTALL,
)
# openssl's text dump of a private key: the label of a private number, then its lines of hex.
_DUMPED_NUMBER = re.compile(r"(?m)^[ \t]*(?:privateExponent|prime[12]|exponent[12]|coefficient|priv):[ \t]*\n"
                            r"(?:[ \t]+[0-9A-Fa-f:]+[ \t]*(?:\n|\Z))+")
_MIN_RUN = 22  # characters: fewer cannot hold a window of a key in any of the encodings


@dataclass(frozen=True, eq=False)  # one object per observation: compared by identity
class KeyTraces:
    """Hashes of windows of private keys' secret numbers, sorted: what recognises them in text, and no more."""

    windows: array[int] = field(default_factory=lambda: array("q"))
    digit_windows: array[int] = field(default_factory=lambda: array("q"))
    # One bit for each first two bytes a window has (8 KiB): most places in a text are ruled out by it alone.
    starts: bytes = bytes(_STARTS_BYTES)
    # Texts already cleaned with these traces: a target's evidence repeats its paths and names rule after rule.
    cleaned: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, key: Any) -> KeyTraces:
        numbers = _secret_numbers(key)
        parts = [_bytes(number) for number in numbers]
        starts = 0
        for part in parts:
            for i in range(0, len(part) - WINDOW + 1, WINDOW):
                starts |= 1 << (part[i] << 8 | part[i + 1])
        return cls(_sorted(_side_by_side(parts, WINDOW)), _sorted(_side_by_side(list(map(str, numbers)), DIGITS)),
                   starts.to_bytes(_STARTS_BYTES, "little"))

    @classmethod
    def union(cls, traces: Iterable[KeyTraces]) -> KeyTraces:
        found = list(traces)
        starts = 0
        for one in found:
            starts |= int.from_bytes(one.starts, "little")
        return cls(_sorted(h for t in found for h in t.windows), _sorted(h for t in found for h in t.digit_windows),
                   starts.to_bytes(_STARTS_BYTES, "little"))

    def __bool__(self) -> bool:
        return bool(self.windows or self.digit_windows)

    def has_window(self, data: bytes) -> bool:
        """Whether ``data`` holds WINDOW bytes of a known key's secret numbers, starting anywhere."""
        if not self.windows:
            return False
        starts, windows = self.starts, self.windows
        for i in range(len(data) - WINDOW + 1):
            start = data[i] << 8 | data[i + 1]
            if starts[start >> 3] >> (start & 7) & 1 and _member(windows, hash(data[i:i + WINDOW])):
                return True
        return False

    def has_digits(self, digits: str) -> bool:
        return bool(self.digit_windows) and any(_member(self.digit_windows, hash(digits[i:i + DIGITS]))
                                                for i in range(len(digits) - DIGITS + 1))


def _side_by_side(parts: list[Any], width: int) -> Iterator[int]:
    """The hashes of each part's windows of ``width``, one after the other from its start."""
    return (hash(part[i:i + width]) for part in parts for i in range(0, len(part) - width + 1, width))


def _sorted(hashes: Iterable[int]) -> array[int]:
    return array("q", sorted(set(hashes)))


def _member(table: array[int], value: int) -> bool:
    index = bisect.bisect_left(table, value)
    return index < len(table) and table[index] == value


NO_TRACES = KeyTraces()  # no key known: only structure finds one


def _secret_numbers(key: Any) -> list[int]:
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        return [n.d, n.p, n.q, n.dmp1, n.dmq1, n.iqmp]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return [key.private_numbers().private_value]
    if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        return [int.from_bytes(key.private_bytes_raw(), "big")]
    if isinstance(key, dsa.DSAPrivateKey):
        return [key.private_numbers().x]
    return []


def _bytes(number: int) -> bytes:
    return number.to_bytes((number.bit_length() + 7) // 8, "big")


def scrub(text: str, traces: KeyTraces = NO_TRACES) -> str:
    """``text`` without private keys: PEM blocks and kubeconfig ``client-key-data`` values, and every run of
    base64, hex or decimal that holds a known key's secret numbers or a private key's structure."""
    if len(text) < _MIN_RUN:  # too short to hold a key in any encoding (most of evidence)
        return text
    if len(text) > _CACHED_CHARS:
        return _scrub(text, traces)
    cleaned = traces.cleaned.get(text)
    if cleaned is None:
        if len(traces.cleaned) >= _CACHED_TEXTS:
            traces.cleaned.clear()
        cleaned = traces.cleaned[text] = _scrub(text, traces)
    return cleaned


_CACHED_CHARS, _CACHED_TEXTS = 4096, 4096


def _scrub(text: str, traces: KeyTraces) -> str:
    text = _KEY_DATA.sub(lambda m: m.group(1) + REDACTED, _PEM_PRIVATE.sub(REDACTED, text))
    text = _DUMPED_NUMBER.sub(REDACTED + "\n", text)
    spans = sorted(_secret_runs(text, traces, MAX_DEPTH))
    if not spans:
        return text
    pieces, last = [], 0
    for start, end in spans:
        if start >= last:
            pieces += [text[last:start], REDACTED + ("\n" if text[end - 1] == "\n" else "")]
            last = end
        elif end > last:
            last = end
    return "".join(pieces) + text[last:]


def scrub_value(value: Any, traces: KeyTraces = NO_TRACES) -> Any:
    """``value`` (text, or lists and mappings of it, as evidence is) with ``scrub`` applied to every text."""
    if isinstance(value, str):
        return scrub(value, traces)
    if isinstance(value, dict):
        return {key: scrub_value(item, traces) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(item, traces) for item in value)
    return value


def _secret_runs(text: str, traces: KeyTraces, depth: int) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` whose decoding holds key material."""
    for pattern, decode in ((_BASE64_RUN, _from_base64), (_HEX_RUN, _from_hex)):
        for match in pattern.finditer(text):
            run = match.group(0)
            if pattern is _BASE64_RUN and _HEX_ONLY.fullmatch(run):
                continue  # a key's base64 is never all hex digits (a digest, a serial): read as hex below
            if len(run) >= _MIN_RUN and any(_holds(data, traces, depth) for data in decode(run)):
                yield match.span()
    if traces.digit_windows:
        for match in _DECIMAL_RUN.finditer(text):
            # Fewer characters than a window cannot hold one: most runs are a date's or a count's few digits.
            if len(match.group(0)) >= DIGITS and traces.has_digits(_NOT_DIGIT.sub("", match.group(0))):
                yield match.span()


def _from_base64(run: str) -> Iterator[bytes]:
    """The run decoded at each of the four places a base64 text may start in it."""
    letters = _NOT_BASE64.sub("", run.replace("-", "+").replace("_", "/"))
    for offset in range(4):
        part = letters[offset:]
        part = part[: len(part) - len(part) % 4]
        try:
            yield base64.b64decode(part)
        except (binascii.Error, ValueError):
            continue


def _from_hex(run: str) -> Iterator[bytes]:
    digits = _NOT_HEX.sub("", run)
    for offset in range(2):
        part = digits[offset:]
        yield bytes.fromhex(part[: len(part) - len(part) % 2])


def _holds(data: bytes, traces: KeyTraces, depth: int) -> bool:
    if len(data) < WINDOW:
        return False
    if _PRIVATE_DER.search(data):
        return True
    if traces.has_window(data):
        return True
    if depth > 0 and _mostly_text(data):  # an encoding of an encoding: base64 of a PEM, hex of base64
        inner = data.decode("ascii", errors="replace")
        return "PRIVATE KEY-----" in inner or any(True for _ in _secret_runs(inner, traces, depth - 1))
    return False


_PRINTABLE = bytes([9, 10, 13, *range(32, 127)])


def _mostly_text(data: bytes) -> bool:
    printable = len(data) - len(data.translate(None, _PRINTABLE))  # in C: evidence is full of decodable runs
    return printable >= 0.95 * len(data)
