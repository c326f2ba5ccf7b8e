"""Reading a spec's repeated lines once.

A generated spec repeats its lines: 100,000 layers written `- conv: {filters: 8, k: 1}` in a
few widths are a few distinct lines. The YAML parser makes seven Python objects for each
line (0.45 s of events for 100,000 lines, before any of them is a value), although a line
that repeats an earlier item of the same list, at the same indentation, reads the same way.

So a long text is read without those lines, and each one becomes a copy of its earlier
twin's values, moved to its own line. The shortening is a claim about the text, and the
tree of the shortened text checks it: every line of a run must be read as one item of one
block list, at the run's column. When it is not (the lines were inside a block scalar, a
multi-line value, a flow collection) or the shortened text has any problem at all, the
whole text is read as written. What is returned is what reading the whole text returns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from convcalc.language.yamltree import Duplicate, Map, Node, Scalar, Seq, YamlError

# A line that may be left out: a block list item at some indentation, with none of what
# would make a line's reading depend on more than its text (anchors, aliases, tags, quotes,
# block scalars, directives, complex keys, tabs, escapes).
_ITEM = re.compile(r"( *)- (?=[^ ])[^&*!|>'\"%@`?\t\\]*|( *)-")
# Line breaks that YAML has besides \n: where they are, lines are not counted by \n alone.
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")
WORTH = 256  # lines left out, at the least, before reading a shortened text pays


@dataclass
class Run:
    """Consecutive item lines at one indentation: the lines kept (shortened text's numbers)."""

    col: int  # 1-based column of each item's value
    kept: list[int] = field(default_factory=list)


@dataclass
class Shortened:
    """A text without its repeated item lines, and how to put them back."""

    text: str
    lines: list[int]  # the original line of each kept line (index: 1-based kept line)
    # after the item on a kept line: (original line, kept line of its twin) of each copy
    copies: dict[int, list[tuple[int, int]]]
    runs: list[Run]


Read = tuple[Node | None, list[Duplicate]]


def read_shortened(text: str, read: Callable[[str], Read], worth: int = WORTH) -> Read | None:
    """What ``read`` makes of ``text``, read without its repeated lines; None when there are
    too few to pay, or the shortened text does not read as the whole would (then ``read``
    the whole text: its problems are found there, at their own lines)."""
    shortened = shorten(text, worth)
    if shortened is None:
        return None
    try:
        root, duplicates = read(shortened.text)
    except YamlError:
        return None
    run_lines = {line for run in shortened.runs for line in run.kept}
    if root is None or any(duplicate.line in run_lines for duplicate in duplicates):
        return None  # a key given twice on a line that has copies: each copy would say so
    restored = restore(root, shortened)
    if restored is None:
        return None
    lines = shortened.lines
    for duplicate in duplicates:
        duplicate.line, duplicate.first_line = lines[duplicate.line], lines[duplicate.first_line]
    return restored, duplicates


def shorten(text: str, worth: int = WORTH) -> Shortened | None:
    """The text without the item lines that repeat an earlier line of their run, or None when
    fewer than ``worth`` lines would be left out."""
    if "&" in text or _OTHER_BREAKS.search(text):
        # an anchor: its aliases would share values (moved twice here) and count the values
        # of the shortened text against the alias bound, not the whole text's
        return None
    lines = text.split("\n")
    widths = [_width(_ITEM.fullmatch(line)) for line in lines] + [-1]
    kept_text: list[str] = []
    origin = [0]  # kept line numbers are 1-based
    copies: dict[int, list[tuple[int, int]]] = {}
    runs: list[Run] = []
    left_out = 0
    run: Run | None = None
    seen: dict[str, int] = {}  # the run's lines so far: text to kept line
    for index, line in enumerate(lines):
        width = widths[index]
        if width < 0:
            run = None
        elif run is None or width != widths[index - 1]:
            run, seen = Run(width + 3), {}
            runs.append(run)
        # the run's last line may go on below (more keys, a longer value): it is always kept
        twin = seen.get(line) if run is not None and widths[index + 1] == width else None
        if twin is not None and run is not None:
            copies.setdefault(run.kept[-1], []).append((index + 1, twin))
            left_out += 1
            continue
        kept_text.append(line)
        origin.append(index + 1)
        if run is not None:
            run.kept.append(len(kept_text))
            seen.setdefault(line, len(kept_text))
    if left_out < worth:
        return None
    return Shortened("\n".join(kept_text), origin, copies,
                     [run for run in runs if any(line in copies for line in run.kept)])


def _width(matched: re.Match[str] | None) -> int:
    """The indentation of an item line, -1 for any other line."""
    if matched is None:
        return -1
    return len(matched[1] if matched[1] is not None else matched[2])


def restore(root: Node, shortened: Shortened) -> Node | None:
    """The tree of the whole text from that of the shortened one (changed in place), or None
    when the shortened tree does not bear the shortening out."""
    lines, copies = shortened.lines, shortened.copies
    found: dict[int, int] = {}  # the runs' kept lines read as items: id of their list
    run_lines = {line: run.col for run in shortened.runs for line in run.kept}
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        if type(node) is Scalar:
            node.line = lines[node.line]
            continue
        if type(node) is Map:
            for key, value in node.entries:
                key.line = lines[key.line]
                stack.append(value)
        else:
            assert type(node) is Seq
            stack.extend(node.items)
            if any(item.line in run_lines for item in node.items):
                items = _with_copies(node, run_lines, copies, found)
                if items is None:
                    return None
                node.items = items
        node.line = lines[node.line]
    for run in shortened.runs:
        lists = {found.get(line) for line in run.kept}
        if len(lists) != 1 or None in lists:
            return None
    return root


def _with_copies(seq: Seq, run_lines: dict[int, int], copies: dict[int, list[tuple[int, int]]],
                 found: dict[int, int]) -> tuple[Node, ...] | None:
    """A list's items with the copies that follow its kept run lines."""
    items: list[Node] = []
    by_line: dict[int, Node] = {}
    checked: set[int] = set()  # twins found on one line
    for item in seq.items:
        items.append(item)
        line = item.line
        if run_lines.get(line) != item.col:
            continue
        found[line] = id(seq)
        by_line[line] = item
        for original, twin in copies.get(line, ()):
            model = by_line.get(twin)
            if model is None:
                return None
            if twin not in checked:
                if not _on_one_line(model, twin):
                    return None
                checked.add(twin)
            items.append(_moved(model, original))
    return tuple(items)


def _on_one_line(node: Node, line: int) -> bool:
    if type(node) is Scalar:
        return node.line == line
    if type(node) is Seq:
        return node.line == line and all(_on_one_line(item, line) for item in node.items)
    assert type(node) is Map
    return node.line == line and all(key.line == line and _on_one_line(value, line)
                                     for key, value in node.entries)


def _moved(node: Node, line: int) -> Node:
    """A copy of a one-line item's values, on another line (the columns are the same)."""
    if type(node) is Scalar:
        return Scalar(node.value, line, node.col)
    if type(node) is Seq:
        return Seq(tuple([_moved(item, line) for item in node.items]), line, node.col)
    assert type(node) is Map
    return Map(tuple([(Scalar(key.value, line, key.col), _moved(value, line))
                      for key, value in node.entries]), line, node.col)
