"""`convcalc zoo` and `convcalc schema`: what is bundled, and the spec format."""

# Annotations evaluated once, not as strings: see convcalc/cli/__init__.py.

import sys
from typing import Annotated

import typer

from convcalc.cli.common import LayerFormat


def zoo(
    fmt: Annotated[LayerFormat, typer.Option("--format", help="table or json.")] =
        LayerFormat.table,
) -> None:
    """List the bundled architectures: name, input, params, MACs, activations, source.

    Any of them can be summarised by name from any folder: convcalc summarize resnet50
    """
    from convcalc.render import zoo as render
    from convcalc.zoo import catalogue

    entries = catalogue()
    if fmt is LayerFormat.json:
        print(render.to_json(entries))
        return
    from convcalc.render.grid import wants_colour

    sys.stdout.write(render.draw(entries, wants_colour()))




def schema() -> None:
    """Print a JSON Schema of the spec language, for editors' validation and completion.

    Example: convcalc schema > convcalc.schema.json
    """
    import json

    from convcalc.schema import schema as build

    print(json.dumps(build(), indent=2))


