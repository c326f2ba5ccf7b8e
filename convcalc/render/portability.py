"""A model's sizes under several rule sets, side by side (``summarize --rules a,b``)."""

from __future__ import annotations

from typing import Any

from convcalc.portability import Portability, side_by_side
from convcalc.render.grid import paint, table


def draw(portability: Portability, depth: int | None = None, colour: bool = False) -> str:
    """The layers whose output differs between the rule sets, one column per rule set."""
    names = portability.names
    title = f"Sizes under {', '.join(names)}"
    rows = side_by_side(portability, depth)
    finals = [("final output", tuple(portability.final(name) for name in names))]
    if not rows:
        return "\n".join(["", paint(title, "bold", colour),
                          f"every layer has the same output under {', '.join(names)}"]) + "\n"
    disputed = {d.name for d in portability.differences}
    marked = [[name, *outputs, "← the rules disagree here" if name in disputed else ""]
              for name, outputs in rows]
    lines = table(["layer", *names, ""], [*marked, ["final output", *finals[0][1], ""]],
                  [False] * (len(names) + 2), colour)
    return "\n".join(["", paint(title + ": the layers whose outputs differ", "bold", colour),
                      *lines]) + "\n"


def to_json(portability: Portability) -> dict[str, Any]:
    return {"rules": list(portability.names),
            "differing_layers": [{"name": name, "outputs": dict(zip(portability.names,
                                                                   outputs, strict=True))}
                                 for name, outputs in side_by_side(portability)],
            "final_outputs": {name: portability.final(name) for name in portability.names},
            "not_portable": [{"name": d.name, "line": d.at.line, "col": d.at.col,
                              "input_shape": str(d.input_shape), "outcomes": dict(d.outcomes)}
                             for d in portability.differences]}
