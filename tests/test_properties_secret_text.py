"""SecretText finds a secret in every spelling a server could repeat it in, wherever it sits in a longer
text, and hides it so that no spelling of it is left; text without the secret is left as it was."""

from __future__ import annotations

import base64
import html
import json
import urllib.parse
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubecert.secret_text import REDACTED, SecretText

KEY = "kc-Secret.Key_0123456789+abc/def="
# An API key as _checked_key takes it: printable ASCII without spaces, long enough to be a secret.
keys = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=12, max_size=64)
around = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)


def b64_within(encode: Callable[[bytes], bytes], prefix: str, key: str, suffix: str) -> str:
    return encode((prefix + key + suffix).encode()).decode()


SPELLINGS: dict[str, Callable[[str], str]] = {
    "plain": lambda key: key,
    "upper case (a header folded)": str.upper,
    "lower case (a host name)": str.lower,
    "percent-encoded": lambda key: urllib.parse.quote(key, safe=""),
    "percent-encoded, lower-case hex": lambda key: "".join(f"%{b:02x}" for b in key.encode()),
    "percent-encoded in part": lambda key: "".join(f"%{ord(c):02X}" if i % 2 else c for i, c in enumerate(key)),
    "form-encoded": urllib.parse.quote_plus,
    "JSON-escaped": lambda key: "".join(f"\\u{ord(c):04x}" for c in key),
    "JSON string": lambda key: json.dumps(key)[1:-1],
    "HTML entities": lambda key: "".join(f"&#x{ord(c):X};" for c in key),
    "HTML decimal entities": lambda key: "".join(f"&#{ord(c)};" for c in key),
    "HTML-escaped": html.escape,
    "hex": lambda key: key.encode().hex(),
    "hex with colons": lambda key: key.encode().hex(":").upper(),
    "base64": lambda key: b64_within(base64.b64encode, "", key, ""),
    "base64 of user:key": lambda key: b64_within(base64.b64encode, "user:", key, ""),
    "base64 after one byte": lambda key: b64_within(base64.b64encode, "u", key, "!"),
    "base64 after two bytes, URL-safe": lambda key: b64_within(base64.urlsafe_b64encode, "us", key, "?>"),
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_each_spelling_is_found_and_hidden(spelling: str) -> None:
    said = f"error: {SPELLINGS[spelling](KEY)} is not welcome"
    hidden, found = SecretText([KEY]).hide_found(said)
    assert found and REDACTED in hidden
    assert hidden.startswith("error: ") and hidden.endswith(" is not welcome")
    assert not any(spell(KEY).lower() in hidden.lower() for spell in SPELLINGS.values() if len(spell(KEY)) > 8)


@given(key=keys, before=around, after=around, spelling=st.sampled_from(sorted(SPELLINGS)))
def test_any_key_in_any_spelling_anywhere_is_hidden(key: str, before: str, after: str, spelling: str) -> None:
    secret_text = SecretText(["another-secret-0123456789", key])
    said = before + SPELLINGS[spelling](key) + after
    assert secret_text.found(said)
    hidden = secret_text.hide(said)
    assert key not in hidden and SPELLINGS[spelling](key) not in hidden


@given(text=st.text(max_size=200))
def test_text_without_the_secret_is_left_alone(text: str) -> None:
    secret_text = SecretText([KEY])
    if KEY.lower() not in text.lower():
        assert secret_text.hide_found(text) == (text, False)


def test_documents_are_hidden_in_keys_and_values_and_nothing_else_changes() -> None:
    document = {"items": [{"name": f"cp-{KEY}", "n": 1}], KEY: [None, True, 2.5, urllib.parse.quote(KEY)]}
    hidden, found = SecretText([KEY]).hide_document(document)
    assert found and hidden == {"items": [{"name": f"cp-{REDACTED}", "n": 1}], REDACTED: [None, True, 2.5, REDACTED]}
    assert SecretText([KEY]).hide_document({"a": ["b"]}) == ({"a": ["b"]}, False)


def test_secrets_added_later_are_looked_for_too() -> None:
    secret_text = SecretText()
    assert secret_text.hide_found(KEY) == (KEY, False)
    secret_text.add(KEY)
    secret_text.add("wrong-key-abcdefghijklmnop")
    assert secret_text.hide("wrong-key-abcdefghijklmnop and " + KEY) == f"{REDACTED} and {REDACTED}"
