"""Finding known secrets in text that someone else wrote (a server's answer, headers, a redirect's address),
in whatever spelling they come back in, and hiding them.

A server that repeats an API key rarely repeats it byte for byte: a redirect puts it in a host name (which
URL parsing lowercases) or a query (percent-encoded, wholly or in part), a JSON body escapes it, a token
wraps it in base64. One pattern per secret matches all of these, case-insensitively:

- each character as itself, percent-encoded (its UTF-8 bytes, %xx in either case), as a JSON ``\\uXXXX``
  escape, as an HTML entity, or backslash-escaped, in any mix;
- its bytes in hex, with or without a separator between bytes;
- its base64 (standard or URL-safe alphabet) at each of the three alignments it can have inside a longer
  encoded text: the characters that only the secret's bytes determine.

Over-matching costs a word of evidence; under-matching leaks a credential into a report kept for years.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "<redacted>"
# Base64 shorter than this is not looked for: a few characters would match ordinary words, and a secret
# whose encoding is that short is no secret (under 6 bytes).
_MIN_BASE64 = 8
_NAMED_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"}


class SecretText:
    """The secrets to look for; ``hide`` and ``found`` match every spelling listed above."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: list[str] = []
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)
            forms = [form for known in sorted(self._secrets, key=len, reverse=True) for form in _spellings(known)]
            self._pattern = re.compile("|".join(forms), re.IGNORECASE)

    def found(self, text: str) -> bool:
        return self._pattern is not None and self._pattern.search(text) is not None

    def hide(self, text: str) -> str:
        return text if self._pattern is None else self._pattern.sub(REDACTED, text)

    def hide_found(self, text: str) -> tuple[str, bool]:
        """``text`` with every secret hidden, and whether there was one."""
        if self._pattern is None:
            return text, False
        hidden, count = self._pattern.subn(REDACTED, text)
        return hidden, count > 0

    def hide_document(self, value: Any) -> tuple[Any, bool]:
        """A decoded JSON value with every secret hidden from every string (keys too), and whether there was one."""
        if isinstance(value, str):
            return self.hide_found(value)
        if isinstance(value, list):
            pairs = [self.hide_document(item) for item in value]
            return [item for item, _ in pairs], any(found for _, found in pairs)
        if isinstance(value, dict):
            items = [(self.hide_document(k), self.hide_document(v)) for k, v in value.items()]
            return {k: v for (k, _), (v, _) in items}, any(kf or vf for (_, kf), (_, vf) in items)
        return value, False


def _spellings(secret: str) -> list[str]:
    data = secret.encode()
    forms = ["".join(_character(c) for c in secret), "[:\\s-]?".join(f"{b:02x}" for b in data)]
    forms += [core for core in _base64_cores(data) if core]
    return forms


def _character(c: str) -> str:
    escaped = [re.escape(c), "".join(f"%{b:02x}" for b in c.encode()), re.escape(f"\\u{ord(c):04x}"),
               f"&#0*{ord(c)};", f"&#x0*{ord(c):x};"]
    if c in "\\\"'/":
        escaped.append(re.escape("\\" + c))
    if c in _NAMED_ENTITIES:
        escaped.append(_NAMED_ENTITIES[c])
    if c == " ":
        escaped.append(r"\+")
    return "(?:" + "|".join(escaped) + ")"


def _base64_cores(data: bytes) -> list[str]:
    """For each alignment (0, 1 or 2 bytes before the secret in the encoded text), the base64 characters
    whose six bits all come from the secret, as a pattern that takes either alphabet."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        first, end = -(-8 * offset // 6), 8 * (offset + len(data)) // 6
        core = encoded[first:end]
        if len(core) >= _MIN_BASE64:
            cores.append("".join({"+": "[+-]", "/": "[/_]"}.get(c, c) for c in core))
    return cores
