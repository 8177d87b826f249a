"""The command line as a report records it: every credential and anything that looks like one replaced.

kubecert takes secrets from environment variables and files only, but a command line is written by people
and CI templates: a key pasted after ``--api-key-file``, a token in a URI's query, a bearer header passed
through to pytest. A report is filed as evidence and kept for years, so the rule is wide on purpose: the
value of any option whose name speaks of a credential, any ``name=value`` whose name does, and any word
that looks like a generated secret (long, mixed letters and digits, or a JWT) is written as <redacted>.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

REDACTED = "<redacted>"
# Option and parameter names whose value is, or names, a credential.
_SECRET_NAME = re.compile(r"(api[-_]?key|token|secret|passw(or)?d|credential|auth|bearer|private[-_]?key)", re.I)
_OPTION = re.compile(r"^(--?[A-Za-z0-9][-A-Za-z0-9_.]*)(=(.*))?$", re.S)
# name=value or name:value inside a word (URI queries, headers, KEY=VALUE pairs passed through).
_PAIR = re.compile(r"(?P<name>[A-Za-z0-9_.-]+)(?P<sep>[=:])\s*(?P<value>[^&;,\s]+)")
_BEARER = re.compile(r"\b(Bearer|Basic|ApiKey)\s+\S+", re.I)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")
# A generated secret: 32+ characters of the base64url alphabet mixing upper case, lower case and digits, or 32+
# hex digits. Paths and test names (lower case, digits, underscores) are left alone.
_TOKEN = re.compile(r"[A-Za-z0-9+_-]{32,}={0,2}")
_HEX = re.compile(r"[0-9a-fA-F]{32,}")


def redact_command_line(argv: Sequence[str], secrets: Iterable[str] = ()) -> list[str]:
    """``argv`` with every credential in it replaced; ``secrets`` are values known to be secret (a key read
    for the run), replaced wherever they appear."""
    known = sorted({s for s in secrets if s}, key=len, reverse=True)
    words: list[str] = []
    hide_next = False
    for word in argv:
        if hide_next:
            words.append(REDACTED)
            hide_next = False
            continue
        option = _OPTION.match(word)
        if option is not None and _SECRET_NAME.search(option.group(1)):
            if option.group(2) is None:
                hide_next = True
                words.append(word)
            else:
                words.append(f"{option.group(1)}={REDACTED}")
            continue
        words.append(redact_text(word, known))
    return words


def redact_text(text: str, secrets: Sequence[str] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _JWT.sub(REDACTED, text)
    text = _PAIR.sub(_pair, text)
    return _TOKEN.sub(_token, text)


def _pair(match: re.Match[str]) -> str:
    if _SECRET_NAME.search(match.group("name")):
        return f"{match.group('name')}{match.group('sep')}{REDACTED}"
    return match.group(0)


def _token(match: re.Match[str]) -> str:
    word = match.group(0)
    mixed = all(re.search(pattern, word) for pattern in ("[A-Z]", "[a-z]", "[0-9]"))
    return REDACTED if mixed or _HEX.fullmatch(word) else word
