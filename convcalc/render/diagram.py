"""Architecture diagrams: the stacked-cuboid figure of the AlexNet and VGG papers
(``blocks``: left to right, each layer a box sized by its output shape) or a compact flow
graph (``graph``: top to bottom). Branches run side by side between their fork and their
merge; blocks below ``depth`` are one box. Each row of ``summarize --depth`` is one
element of class ``box``; colour is the layer kind's family, with a legend.

The layout is one recursive pass that keeps every element on its sequence's centre line,
so arrows are straight; coordinates are along the flow (``m``) and across it (``c``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from math import log2

from convcalc.layers import KINDS
from convcalc.render.markup import xml
from convcalc.render.svg import document, number, text
from convcalc.report import Report, Row
from convcalc.structure import Item

FAMILIES = {  # a layer module's family -> (colour, legend text)
    "input": ("#9c755f", "input"), "conv": ("#4e79a7", "convolution"),
    "pool": ("#f28e2b", "pooling"), "dense": ("#e15759", "dense"),
    "norm": ("#76b7b2", "normalisation"), "simple": ("#59a14f", "elementwise and reshaping"),
    "tokens": ("#bab0ac", "tokens"), "attention": ("#ff9da7", "attention"),
    "merge": ("#b07aa1", "merge"), "block": ("#edc948", "block (a frame, or a box collapsed)"),
}
STYLE = ("text{font-size:10px;fill:#222222}.title{font-size:14px}.note{fill:#555555}"
         ".edge{fill:none;stroke:#666666;stroke-width:1.2}.frame{fill:none;stroke:#999999;"
         "stroke-dasharray:4 3}.face{stroke:#333333;stroke-width:0.6}"
         + "".join(f".{name}{{fill:{colour}}}" for name, (colour, _) in FAMILIES.items()))
_NAME_CHARS = 28  # longer names are cut in the picture (the tooltip has them whole)
_SYMBOLS = {"add": "+", "mul": "×", "concat": "‖"}


def family(item: Item) -> str:
    """The colour family: the layer module a kind is registered from (conv, pool, dense,
    norm, simple), or what the row is (input, merge, block)."""
    if item.index == 0:
        return "input"
    if item.merge:
        return "merge"
    if item.branches:
        return "block"
    kind = KINDS.get(item.row.kind)
    return kind.__module__.rsplit(".", 1)[-1] if kind else "simple"


def _short(name: str) -> str:
    return name if len(name) <= _NAME_CHARS else name[:_NAME_CHARS - 1] + "…"


def _tooltip(row: Row, collapsed: bool) -> str:
    below = f", {row.rows_below:,} rows below (collapsed)" if collapsed else ""
    return (f"{row.name} ({row.kind}): {row.input_shape} → {row.output_shape}; "
            f"params {row.params:,}; MACs {row.macs:,}{below}")


@dataclass
class Laid:
    """A laid-out element: its length along the flow, its extent before and after the
    centre line, and how to draw it with its start at ``(m, c)`` on the centre line."""

    main: float
    before: float
    after: float
    draw: Callable[[float, float], list[str]]


class _Style:
    """What differs between the two styles: the direction and the boxes."""

    horizontal = True
    gap = 14.0

    def point(self, m: float, c: float) -> str:
        x, y = (m, c) if self.horizontal else (c, m)
        return f"{number(x)},{number(y)}"

    def xy(self, m: float, c: float) -> tuple[float, float]:
        return (m, c) if self.horizontal else (c, m)

    def line(self, *points: tuple[float, float], arrow: bool = False) -> str:
        marker = ' marker-end="url(#arrow)"' if arrow else ""
        joined = " ".join(self.point(m, c) for m, c in points)
        return f'<polyline class="edge" points="{joined}"{marker}/>'

    def box(self, item: Item, collapsed: bool, name: str) -> Laid:
        raise NotImplementedError

    def join(self, item: Item) -> Laid:
        raise NotImplementedError

    @staticmethod
    def group(item: Item, collapsed: bool, body: list[str]) -> list[str]:
        row = item.row
        return [f'<g class="box {family(item)}" data-row="{item.index}" data-depth="{row.depth}"'
                f' data-collapsed="{str(collapsed).lower()}">',
                f"<title>{xml(_tooltip(row, collapsed))}</title>", *body, "</g>"]


class Blocks(_Style):
    """Cuboids: height from the first spatial size, depth from the second, thickness from
    the channels, all log-scaled; a flat vector is a thin bar."""

    @staticmethod
    def extents(row: Row) -> tuple[float, float, float]:
        """(face height, thickness, oblique depth) of a row's output."""
        shape = row.output_shape
        if not shape.spatial:
            return 10 + 8 * log2(shape.channels), 6.0, 0.0
        height = 10 + 12 * log2(shape.spatial[-2] if len(shape.spatial) > 1 else
                                shape.spatial[0])
        depth = 3 + 3 * log2(shape.spatial[-1]) if len(shape.spatial) > 1 else 0.0
        thickness = 4.0 if not row.activations and not row.rows_below else \
            4 + 3 * log2(shape.channels)
        return height, thickness, depth

    def box(self, item: Item, collapsed: bool, name: str) -> Laid:
        row = item.row
        height, thickness, depth = self.extents(row)
        name = _short(name) + (" …" if collapsed else "")
        shape = str(row.output_shape)
        slot = max(thickness + depth, 26.0)
        label = 6.2 * max(len(name), len(shape)) + 8

        def draw(m: float, c: float) -> list[str]:
            x, top = m + (slot - thickness - depth) / 2, c - height / 2
            right, back = x + thickness, top - depth
            faces = [f'<rect class="face" x="{number(x)}" y="{number(top)}" '
                     f'width="{number(thickness)}" height="{number(height)}"/>']
            if depth:
                faces += [
                    f'<polygon class="face" fill-opacity="0.75" points="{number(x)},'
                    f'{number(top)} {number(x + depth)},{number(back)} {number(right + depth)},'
                    f'{number(back)} {number(right)},{number(top)}"/>',
                    f'<polygon class="face" fill-opacity="0.55" points="{number(right)},'
                    f'{number(top)} {number(right + depth)},{number(back)} '
                    f'{number(right + depth)},{number(back + height)} {number(right)},'
                    f'{number(top + height)}"/>']
            centre, below = m + slot / 2, top + height + 5
            labels = [text(centre + 9, below, name, transform=f"rotate(90 {number(centre + 9)} "
                           f"{number(below)})"),
                      text(centre - 2, below, shape, class_="note",
                           transform=f"rotate(90 {number(centre - 2)} {number(below)})")]
            return self.group(item, collapsed, [*faces, *labels])

        return Laid(slot, height / 2 + depth, height / 2 + label, draw)

    def join(self, item: Item) -> Laid:
        """A merge's join: a circle with the operation's sign."""
        row = item.row
        radius = 10.0
        label = 6.2 * len(str(row.output_shape)) + 8

        def draw(m: float, c: float) -> list[str]:
            x = m + radius
            return self.group(item, False, [
                f'<circle class="face" cx="{number(x)}" cy="{number(c)}" r="{number(radius)}"/>',
                text(x, c + 4, _SYMBOLS.get(row.kind, "·"), text_anchor="middle"),
                text(x + 2, c + radius + 4, str(row.output_shape), class_="note",
                     transform=f"rotate(90 {number(x + 2)} {number(c + radius + 4)})")])

        return Laid(2 * radius, radius, radius + label, draw)


class Graph(_Style):
    """Rounded boxes top to bottom: name and kind, then the output shape."""

    horizontal = False
    gap = 16.0
    width, height = 176.0, 34.0

    def box(self, item: Item, collapsed: bool, name: str) -> Laid:
        row = item.row
        first = f"{_short(name)} · {row.kind}" + (" …" if collapsed else "")
        width, height = self.width, self.height

        def draw(m: float, c: float) -> list[str]:
            left = c - width / 2
            return self.group(item, collapsed, [
                f'<rect class="face" x="{number(left)}" y="{number(m)}" width="{number(width)}"'
                f' height="{number(height)}" rx="6" fill-opacity="0.45"/>',
                text(c, m + 14, first if len(first) <= 30 else first[:29] + "…",
                     text_anchor="middle"),
                text(c, m + 27, str(row.output_shape), class_="note", text_anchor="middle")])

        return Laid(height, width / 2, width / 2, draw)

    def join(self, item: Item) -> Laid:
        radius = 11.0

        def draw(m: float, c: float) -> list[str]:
            return self.group(item, False, [
                f'<circle class="face" cx="{number(c)}" cy="{number(m + radius)}" '
                f'r="{number(radius)}"/>',
                text(c, m + radius + 4, _SYMBOLS.get(item.row.kind, "·"), text_anchor="middle"),
                text(c + radius + 4, m + radius + 4, f"{item.row.kind} {item.row.output_shape}",
                     class_="note")])

        return Laid(2 * radius, radius, radius + 120, draw)


STYLES: dict[str, type[_Style]] = {"blocks": Blocks, "graph": Graph}


class _Layout:
    def __init__(self, style: _Style, depth: int | None) -> None:
        self.style, self.depth = style, depth

    def item(self, item: Item, parent: str) -> Laid:
        """``parent`` is the enclosing row's name: a box shows its own name without it."""
        collapsed = bool(item.branches) and self.depth is not None and \
            item.row.depth >= self.depth
        name = item.row.name.removeprefix(parent + ".") if parent else item.row.name
        if not item.branches or collapsed:
            return self.style.box(item, collapsed, name)
        if item.merge:
            return self.merge(item)
        return self.frame(item, name, self.sequence(item.branches[0], item.row.name))

    def sequence(self, items: tuple[Item, ...], parent: str = "") -> Laid:
        laid = [self.item(item, parent) for item in items]
        gap, style = self.style.gap, self.style
        main = sum(part.main for part in laid) + gap * max(len(laid) - 1, 0)

        def draw(m: float, c: float) -> list[str]:
            parts: list[str] = []
            for number_, part in enumerate(laid):
                if number_:
                    parts.append(style.line((m - gap, c), (m, c), arrow=True))
                parts += part.draw(m, c)
                m += part.main + gap
            return parts

        return Laid(main, max((p.before for p in laid), default=4.0),
                    max((p.after for p in laid), default=4.0), draw)

    def frame(self, item: Item, name: str, inner: Laid) -> Laid:
        """An expanded block: its sequence in a dashed frame titled with its name (the title
        above the frame's content in either direction)."""
        pad, style = 8.0, self.style
        across, along = (16.0, 0.0) if style.horizontal else (0.0, 16.0)
        heading = f"{_short(name)}: {item.row.kind} → {item.row.output_shape}"
        main = inner.main + 2 * pad + along
        if style.horizontal:  # room for the heading
            main = max(main, 6.2 * len(heading) + 8)
        else:  # the frame is as wide as its content: shorten the name, keep the shape
            room = int((inner.before + inner.after + 2 * pad) / 6.2)
            if len(heading) > room:
                shape = f" → {item.row.output_shape}"
                keep = max(room - len(shape), 4)
                heading = (name if len(name) <= keep else name[:keep - 1] + "…") + shape

        def draw(m: float, c: float) -> list[str]:
            x, y = style.xy(m, c - inner.before - pad - across)
            far_x, far_y = style.xy(m + main, c + inner.after + pad)
            start = m + pad + along
            return [*style.group(item, False, [
                f'<rect class="frame" x="{number(x)}" y="{number(y)}" '
                f'width="{number(far_x - x)}" height="{number(far_y - y)}" rx="4"/>',
                text(x + 4, y + 12, heading, class_="note")]),
                style.line((m, c), (start, c)), *inner.draw(start, c),
                style.line((start + inner.main, c), (m + main, c), arrow=False)]

        return Laid(main, inner.before + pad + across, inner.after + pad, draw)

    def merge(self, item: Item) -> Laid:
        """Branches stacked across the flow between the fork and the join."""
        lanes = [self.sequence(branch, item.row.name) for branch in item.branches]
        join = self.style.join(item)
        fan, gap, style = 18.0, 12.0, self.style
        longest = max(lane.main for lane in lanes)
        total = sum(lane.before + lane.after for lane in lanes) + gap * (len(lanes) - 1)

        def draw(m: float, c: float) -> list[str]:
            parts: list[str] = []
            at = c - total / 2
            end = m + fan + longest + fan
            for lane in lanes:
                centre = at + lane.before
                start = m + fan
                parts.append(style.line((m, c), (m + fan / 2, c), (m + fan / 2, centre),
                                        (start, centre)))
                parts += lane.draw(start, centre)
                parts.append(style.line((start + lane.main, centre), (end - fan / 2, centre),
                                        (end - fan / 2, c), (end, c), arrow=True))
                at += lane.before + lane.after + gap
            return parts + join.draw(end, c)

        return Laid(2 * fan + longest + join.main, max(total / 2, join.before),
                    max(total / 2, join.after), draw)


def _legend(items: tuple[Item, ...], depth: int | None) -> list[tuple[str, list[str]]]:
    """The families drawn, each with the kinds drawn in it, in the legend's order."""
    found: dict[str, dict[str, None]] = {}

    def visit(item: Item) -> None:
        collapsed = depth is not None and item.row.depth >= depth
        found.setdefault(family(item), {})[item.row.kind] = None
        if item.branches and not collapsed:
            for branch in item.branches:
                for inner in branch:
                    visit(inner)

    for item in items:
        visit(item)
    return [(name, list(found[name])) for name in FAMILIES if name in found]


def draw(report: Report, items: tuple[Item, ...], style: str = "blocks",
         depth: int | None = None) -> str:
    """The diagram of a report's tree (``structure.tree``) as an SVG document."""
    chosen = STYLES[style]()
    laid = _Layout(chosen, depth).sequence(items)
    margin, header = 16.0, 40.0
    legend = _legend(items, depth)
    origin_c = margin + laid.before + (header if chosen.horizontal else 0)
    origin_m = margin + (0 if chosen.horizontal else header)
    body = laid.draw(origin_m, origin_c)
    width, height = chosen.xy(origin_m + laid.main + margin, origin_c + laid.after + margin)
    rows = 18 * len(legend)
    legend_y = height + 4
    title = f"{report.name} — input {report.input_shape}, output {report.totals.output_shape}"
    shown = f"rows to depth {depth}" if depth is not None else "every row"
    parts = [text(margin, 20, title, class_="title"),
             text(margin, 34, f"{shown}; boxes sized by output shape (log scale), "
                              "labelled with it", class_="note"),
             '<defs><marker id="arrow" viewBox="0 0 6 6" refX="6" refY="3" markerWidth="6" '
             'markerHeight="6" orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="#666666"/>'
             "</marker></defs>", *body]
    for index, (name, kinds) in enumerate(legend):
        y = legend_y + 18 * index
        parts += [f'<rect class="{name} face" x="{number(margin)}" y="{number(y)}" width="12" '
                  'height="12"/>',
                  text(margin + 18, y + 10, f"{FAMILIES[name][1]}: {', '.join(kinds)}")]
    longest = max((len(FAMILIES[n][1]) + sum(len(k) + 2 for k in ks) for n, ks in legend),
                  default=0)
    width = max(width, margin + 18 + 6.2 * longest + margin, 7.5 * len(title) + 2 * margin)
    return document(width, legend_y + rows + margin, title, parts, STYLE)
