"""Architecture diagrams as Mermaid flowcharts, which GitHub renders in Markdown.

One node per row to ``depth`` (ids ``r`` + the row's index), an expanded block as a
subgraph, a merge as a round join node fed by its branches. Every label is the spec's text
with anything beyond letters, digits and plain punctuation as an entity code.
"""

from __future__ import annotations

from convcalc.render.diagram import FAMILIES, family
from convcalc.render.markup import mermaid
from convcalc.report import Report
from convcalc.structure import Item

_SYMBOLS = {"add": "+", "mul": "×", "concat": "concat"}


class _Chart:
    def __init__(self, depth: int | None) -> None:
        self.depth = depth
        self.lines: list[str] = []
        self.classes: dict[str, list[str]] = {}

    def node(self, item: Item, collapsed: bool) -> str:
        row, ident = item.row, f"r{item.index}"
        self.classes.setdefault(family(item), []).append(ident)
        label = f"{mermaid(row.name)}<br/>{mermaid(row.kind)} {row.output_shape}"
        if collapsed:
            label += f"<br/>{row.rows_below:,} rows"
        self.lines.append(f'  {ident}["{label}"]')
        return ident

    def sequence(self, items: tuple[Item, ...]) -> tuple[list[str], list[str]]:
        """(entries, exits): the nodes the previous element feeds, those feeding the next;
        an empty sequence (an identity branch) has neither."""
        entries: list[str] = []
        exits: list[str] = []
        for item in items:
            first, last = self.item(item)
            if entries:
                self.lines += [f"  {source} --> {target}" for source in exits for target in first]
            else:
                entries = first
            exits = last
        return entries, exits

    def item(self, item: Item) -> tuple[list[str], list[str]]:
        collapsed = self.depth is not None and item.row.depth >= self.depth
        if not item.branches or collapsed:
            ident = self.node(item, collapsed and bool(item.branches))
            return [ident], [ident]
        if not item.merge:
            row = item.row
            self.lines.append(f'  subgraph r{item.index}["{mermaid(row.name)}: '
                              f'{mermaid(row.kind)} {row.output_shape}"]')
            ends = self.sequence(item.branches[0])
            self.lines.append("  end")
            return ends
        join = f"r{item.index}"
        self.classes.setdefault("merge", []).append(join)
        entries = []
        for branch in item.branches:
            first, last = self.sequence(branch)
            entries += first or [join]
            self.lines += [f"  {source} --> {join}" for source in last]
        symbol = _SYMBOLS.get(item.row.kind, item.row.kind)
        self.lines.append(f'  {join}(("{mermaid(symbol)}<br/>{item.row.output_shape}"))')
        return list(dict.fromkeys(entries)), [join]


def draw(report: Report, items: tuple[Item, ...], depth: int | None = None,
         direction: str = "LR") -> str:
    """A ``flowchart`` of the report's tree (``structure.tree``)."""
    chart = _Chart(depth)
    chart.sequence(items)
    styles = [f"  classDef {name} fill:{colour},stroke:#333333,color:#ffffff"
              for name, (colour, _) in FAMILIES.items() if name in chart.classes]
    classes = [f"  class {','.join(idents)} {name}" for name, idents in chart.classes.items()]
    title = f"%% {mermaid(report.name)}: input {report.input_shape}"
    return "\n".join([title, f"flowchart {direction}", *chart.lines, *styles, *classes]) + "\n"
