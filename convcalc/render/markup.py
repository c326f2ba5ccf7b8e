"""Escaping for the pictures: text from a spec as inert XML, HTML and Mermaid.

A spec's names, source and path are the user's (or an attacker's) text. In SVG and HTML it
is always character data or a quoted attribute value, never markup: ``&<>"'`` become
references. Characters that XML forbids or that hide, break or reorder text (C0/C1
controls, bidi overrides, zero-width marks, line and paragraph separators, surrogates,
non-characters) are shown as visible escapes (``\\x1b``, ``\\u202e``) instead: XML 1.0
cannot even carry most of them as references.
"""

from __future__ import annotations

import re
import unicodedata

_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # as the terminal's escape, less Zs
_XML = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
_XML_SPECIAL = re.compile("[&<>\"']")
_MERMAID_SAFE = re.compile(r"[A-Za-z0-9 .,:_/()+\-×→]")


def _shown(char: str) -> str:
    if unicodedata.category(char) not in _HIDDEN:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def visible(text: str) -> str:
    """``text`` with every control, format or unassigned character as a visible escape."""
    if text.isprintable():  # the common case, fast: nothing hidden (and no newline or tab)
        return text
    return "".join(_shown(char) for char in text)


def xml(text: str) -> str:
    """Text for XML or HTML character data and quoted attribute values."""
    return _XML_SPECIAL.sub(lambda match: _XML[match.group()], visible(text))


def mermaid(text: str) -> str:
    """Text for a quoted Mermaid label: anything beyond plain letters, digits and simple
    punctuation becomes an entity code (``#35;``), which Mermaid shows as the character."""
    return "".join(char if _MERMAID_SAFE.match(char) else f"#{ord(char)};"
                   for char in visible(text))
