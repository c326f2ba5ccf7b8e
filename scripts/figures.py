"""Draw the README's pictures into docs/figures: `python scripts/figures.py`.

Each picture is one convcalc command, run as a user would run it. tests/test_figures.py
draws them again and fails when a committed picture differs: run this after changing a
renderer, and commit the result.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parent.parent / "docs" / "figures"

# file name -> the command that draws it (the file's path is added last)
FIGURES: dict[str, list[str]] = {
    # The lecture's case: a 3x3 filter over a 7x7 input at stride 2 fits exactly.
    "lecture-7x7-k3-s2.svg": ["layer", "--in", "7x7x1", "--filters", "1", "--k", "3",
                              "--stride", "2", "--draw"],
    "lecture-7x7-k3-s2-animated.svg": ["layer", "--in", "7x7x1", "--filters", "1", "--k", "3",
                                       "--stride", "2", "--animate", "--draw"],
    # ...and at stride 3 it does not: 2.33 floored to 2, the last row and column unseen.
    "lecture-7x7-k3-s3.svg": ["layer", "--in", "7x7x1", "--filters", "1", "--k", "3",
                              "--stride", "3", "--draw"],
    # The course's 14.5: 32x32, 5x5, stride 2.
    "lossy-32x32-k5-s2.svg": ["layer", "--in", "32x32x3", "--filters", "5", "--k", "5",
                              "--stride", "2", "--positions", "0x0,0x13,13x13", "--draw"],
    # A transposed convolution as the direct convolution it equals.
    "transposed-4x4-k3-s2.svg": ["layer", "--in", "4x4x1", "--kind", "conv-transpose",
                                 "--filters", "1", "--k", "3", "--stride", "2", "--pad", "1",
                                 "--output-padding", "1", "--positions", "0x0,0x1,1x1",
                                 "--draw"],
    "vgg16.svg": ["draw", "vgg16", "-o"],
}


def draw(name: str, folder: Path) -> Path:
    """Draw one picture into ``folder``."""
    path = folder / name
    subprocess.run([sys.executable, "-m", "convcalc", *FIGURES[name], str(path)], check=True,
                   stdout=subprocess.DEVNULL)
    return path


def main() -> None:
    FOLDER.mkdir(parents=True, exist_ok=True)
    for name in FIGURES:
        print(draw(name, FOLDER))


if __name__ == "__main__":
    main()
