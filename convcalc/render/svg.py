"""The few SVG pieces every picture uses: the document, rectangles, text.

Coordinates are layout, not arithmetic: they may be fractional, and are written with at
most two decimals so that a picture is the same text on every machine.
"""

from __future__ import annotations

from convcalc.render.markup import xml

FONT = "DejaVu Sans, Verdana, Arial, sans-serif"


def number(value: float) -> str:
    """``12``, ``12.5``, ``12.25``: two decimals at most, no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def attributes(**values: str | float | None) -> str:
    """`` x="1" class="cell"``: keyword names with ``_`` for ``-``, ``class_`` for ``class``;
    None is left out. Strings are escaped here, so callers pass raw text."""
    parts = []
    for key, value in values.items():
        if value is None:
            continue
        name = key.rstrip("_").replace("_", "-")
        shown = value if isinstance(value, str) else number(value)
        parts.append(f' {name}="{xml(shown)}"')
    return "".join(parts)


def rect(x: float, y: float, width: float, height: float, **extra: str | float | None) -> str:
    return f"<rect{attributes(x=x, y=y, width=width, height=height, **extra)}/>"


def text(x: float, y: float, content: str, **extra: str | float | None) -> str:
    """A text element; ``content`` is escaped."""
    return f"<text{attributes(x=x, y=y, **extra)}>{xml(content)}</text>"


def document(width: float, height: float, title: str, body: list[str], style: str) -> str:
    """A standalone SVG file: a title for screen readers and tooltips, a style sheet (fixed
    text of convcalc's, never the spec's), then the body."""
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg"{attributes(width=width, height=height)} '
        f'viewBox="0 0 {number(width)} {number(height)}" role="img" font-family="{FONT}">',
        f"<title>{xml(title)}</title>",
        f"<style>{style}</style>",
        *body,
        "</svg>", ""])
