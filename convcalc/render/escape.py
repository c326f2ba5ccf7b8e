"""Text from a spec or a file name, made safe for a terminal and for line-based formats.

A spec's names, source and paths may hold anything: ESC and OSC sequences that recolour or
retitle a terminal, BEL, CR, a newline that starts a forged ``file:1:1: error`` line, or
bidirectional overrides that reorder what is shown. Every human and line-based output
(tables, CSV, Markdown, ``check``'s formats, problems on stderr) passes such text through
:func:`escape`; JSON carries it exactly, as JSON escapes it itself.
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(text: str) -> str:
    """``text`` with each control or invisible formatting character written as an escape.

    Python's notion of printable decides (categories Cc, Cf, Cs, Co, Cn, Zl, Zp and spaces
    other than ' '): ``"a\\x1b[31m"`` becomes ``a\\x1b[31m`` in plain characters.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escaped(c) for c in text)


def _escaped(character: str) -> str:
    if character in _NAMED:
        return _NAMED[character]
    code = ord(character)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
