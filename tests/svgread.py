"""Reading convcalc's pictures back in tests: valid XML, rendered by a real renderer, and
the grids of a layer figure recovered from the rectangles' coordinates."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from tests.oracles import need

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str, render: bool = True) -> ET.Element:
    """The document, parsed as XML (ParseError if it is not well-formed), after rendering
    it to PNG with cairosvg: a real renderer must accept every picture. (Property tests
    that draw many pictures may leave the slow rendering to the others.)"""
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    if not render:
        return root
    cairosvg = need("cairosvg")
    png = cairosvg.svg2png(bytestring=svg.encode("utf-8"))
    assert png.startswith(b"\x89PNG")
    return root


def classes(element: ET.Element) -> set[str]:
    return set(element.get("class", "").split())


def number(element: ET.Element, name: str) -> float:
    return float(element.get(name, "0"))


@dataclass
class Panel:
    """One panel of a layer figure: the input grid's cell kinds, the shaded taps, the
    output grid's size and the output position drawn."""

    position: tuple[int, ...]
    kinds: list[list[str]] = field(default_factory=list)
    taps: set[tuple[int, int]] = field(default_factory=set)
    outputs: tuple[int, int] = (0, 0)
    current: tuple[int, int] = (0, 0)
    marks: dict[str, list[int]] = field(default_factory=dict)


def _cells(rects: list[ET.Element]) -> tuple[float, float, float]:
    first = rects[0]
    return number(first, "x"), number(first, "y"), number(first, "width")


def _at(element: ET.Element, origin: tuple[float, float, float]) -> tuple[int, int]:
    x0, y0, size = origin
    return (round((number(element, "y") - y0) / size), round((number(element, "x") - x0) / size))


def panels(root: ET.Element) -> list[Panel]:
    found = []
    for group in root.iter(f"{SVG}g"):
        if "panel" not in classes(group) or "animated" in classes(group):
            continue
        position = tuple(int(v) for v in group.get("data-position", "").split(","))
        panel = Panel(position)
        rects = [r for r in group if r.tag == f"{SVG}rect"]
        cells = [r for r in rects if "cell" in classes(r)]
        origin = _cells(cells)
        places = [_at(r, origin) for r in cells]
        rows, cols = max(p[0] for p in places) + 1, max(p[1] for p in places) + 1
        panel.kinds = [["?"] * cols for _ in range(rows)]
        for rect, (r, c) in zip(cells, places, strict=True):
            panel.kinds[r][c] = (classes(rect) - {"cell"}).pop()
        panel.taps = {_at(r, origin) for r in rects if "tap" in classes(r)}
        for mark in group:
            if "mark" in classes(mark):
                panel.marks.setdefault(mark.get("data-axis", ""), []).append(int(mark.text or ""))
        output = next(g for g in group if "output" in classes(g))
        outs = [r for r in output if "out" in classes(r) and "current" not in classes(r)]
        out_origin = _cells(outs)
        out_places = [_at(r, out_origin) for r in outs]
        panel.outputs = (max(p[0] for p in out_places) + 1, max(p[1] for p in out_places) + 1)
        assert len(outs) == panel.outputs[0] * panel.outputs[1]
        panel.current = next(_at(r, out_origin) for r in output if "current" in classes(r))
        found.append(panel)
    return found
