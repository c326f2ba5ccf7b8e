"""Write the README's table of the rule sets each bundled spec is portable across.

    python scripts/frameworks_table.py          # rewrite the table in README.md
    python scripts/frameworks_table.py --check  # exit 1 when README.md's table is stale

The table sits between the two marker comments of README.md's "Frameworks" section.
"""

from __future__ import annotations

import sys
from pathlib import Path

START, END = "<!-- portability table: start -->", "<!-- portability table: end -->"
README = Path(__file__).resolve().parents[1] / "README.md"


def rewritten(text: str, table: str) -> str:
    """The README's text with the table between the markers replaced."""
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table}{END}{tail}"


def main(argv: list[str]) -> int:
    from convcalc.portability import bundled_table

    text = README.read_text(encoding="utf-8")
    fresh = rewritten(text, bundled_table())
    if "--check" in argv:
        return 0 if fresh == text else 1
    README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
