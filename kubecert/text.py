"""Text from a target, made safe to show: control characters (ESC, BEL, CR, NUL, ...) and the Unicode
controls that reorder or hide text are written as visible escapes, so a file name, a certificate subject
or an API answer can neither drive the user's terminal nor forge a line ("ALL PASSED") in any report."""

from __future__ import annotations

import re
from typing import Any

# C0 and C1 controls, DEL, and the bidirectional and invisible formatting characters.
_BEYOND_C0 = "\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
_UNSAFE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
# The same but tab and line feed, which escaped_block keeps: text without any of these is shown as it is.
_UNSAFE_IN_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f{_BEYOND_C0}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escaped(text: str) -> str:
    """``text`` with every unsafe character escaped; line breaks too: one value, one line."""
    return _UNSAFE.sub(_escape, text)


def escaped_each_line(text: str) -> list[str]:
    """The lines of one of kubecert's own multi-line messages, each shown safely: its line breaks are kubecert's,
    and a target's text inside it was escaped where the message was made, so no line can be forged here."""
    return [escaped(line) for line in text.split("\n")]


def escaped_multiline(text: str) -> str:
    """Like ``escaped``, keeping the line breaks (for kubecert's own multi-line messages)."""
    return "\n".join(escaped_each_line(text))


def escaped_block(text: str) -> str:
    """Like ``escaped``, keeping line breaks and tabs: for captured output and bodies, which reports show as
    blocks of text and never on a terminal line of their own."""
    if _UNSAFE_IN_TEXT.search(text) is None:  # the usual case, and reports show a million of them
        return text
    return "\n".join("\t".join(escaped(cell) for cell in line.split("\t")) for line in text.split("\n"))


def escaped_values(value: Any) -> Any:
    """Every string inside ``value`` (dicts, lists, tuples), shown safely (line breaks kept); keys too."""
    if isinstance(value, str):
        return escaped_block(value)
    if isinstance(value, dict):
        return {escaped_values(k): escaped_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [escaped_values(v) for v in value]
    return value
