"""Reading a long spec's lines of one shape once.

A generated spec repeats the shape of its lines: 100,000 layers written
`- conv: {filters: 8, k: 1}` differ, if at all, in their words and numbers. The YAML parser
makes seven Python objects for each such line (0.45 s of events for 100,000 lines, before
any of them is a value), although an item line that has the shape of an earlier item of the
same list, at the same indentation, reads the same way with its own words in their places.

A line's shape is the line with each plain word (letters, digits, `_ . + -`) and its comment
taken out. A long text is read without the item lines whose shape an earlier item of their
run had; the earlier line's tree becomes a recipe (which word each value is, at which column
each part starts), and each line left out is made from the recipe with its own words and
columns.

The shortening is a claim about the text, and the shortened text's tree checks it: every
line of a run must be read as one item of one block list, at the run's column; a recipe
must account for each value by one word of its line, and each line left out must give text
keys, none twice. When anything does not hold (the lines were inside a block scalar, a
multi-line value, a flow collection; a word reads as a number in one line and as a key in
another) or any reading fails, the whole text is read as written. What is returned is what
reading the whole text returns.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate

from convcalc.language.yamltree import (
    Duplicate,
    Map,
    Node,
    Scalar,
    Seq,
    YamlError,
    plain_values,
)

# A line that may be left out: a block list item at some indentation, with none of what
# would make a line's reading depend on more than its text (anchors, aliases, tags, quotes,
# block scalars, directives, complex keys, tabs, escapes).
_ITEM = re.compile(r"( *)- (?=[^ ])[^&*!|>'\"%@`?\t\\]*|( *)-")
# A plain word: split at, a line's words are at its odd places.
_WORD = re.compile(r"([A-Za-z0-9_.+-]+)")
_LONE_DASH = re.compile(r"(?<![A-Za-z0-9_.+-])-(?![A-Za-z0-9_.+-])")  # `- - x`, `a: -`
# Line breaks that YAML has besides \n: where they are, lines are not counted by \n alone.
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")
WORTH = 256  # lines left out, at the least, before reading a shortened text pays
# The longest line, before its comment, that may be left out: the parser refuses a plain key
# whose `:` is more than 1024 characters past its start (bytes, in libyaml: 4 to a
# character at most), which a shape does not see
_LONGEST = 250
_MADE = 4096  # texts whose items are kept to be moved, per list

Read = tuple[Node | None, list[Duplicate]]
Values = Callable[[str, int, int], object]


@dataclass
class Run:
    """Consecutive item lines at one indentation: the lines kept (shortened text's numbers)."""

    col: int  # 1-based column of each item's value
    kept: list[int] = field(default_factory=list)


@dataclass
class Shortened:
    """A text without the item lines of a shape seen before in their run, and how to put
    them back."""

    text: str
    lines: list[int]  # the original line of each kept line (index: 1-based kept line)
    # after the item on a kept line: (original line, kept line of the same shape, its text)
    # of each line left out
    copies: dict[int, list[tuple[int, int, str]]]
    runs: list[Run]
    kept: list[str]  # the kept lines
    twins: set[int]  # the kept lines that lines left out have the shape of


class _Declined(Exception):
    """The shortened reading does not bear the shortening out."""


def read_shortened(text: str, read: Callable[[str], Read], worth: int = WORTH) -> Read | None:
    """What ``read`` makes of ``text``, read without the lines whose shape repeats; None when
    too few repeat to pay, or the shortened text does not read as the whole would (then
    ``read`` the whole text: its problems are found there, at their own lines)."""
    shortened = shorten(text, worth)
    if shortened is None:
        return None
    try:
        root, duplicates = read(shortened.text)
    except YamlError:
        return None
    run_lines = {line for run in shortened.runs for line in run.kept}
    if root is None or any(duplicate.line in run_lines for duplicate in duplicates):
        return None  # a key given twice in a run: let the whole reading say where
    try:
        restore(root, shortened)
    except (_Declined, YamlError):
        return None
    lines = shortened.lines
    for duplicate in duplicates:
        duplicate.line, duplicate.first_line = lines[duplicate.line], lines[duplicate.first_line]
    return root, duplicates


def shorten(text: str, worth: int = WORTH) -> Shortened | None:
    """The text without the item lines whose shape an earlier line of their run had, or None
    when fewer than ``worth`` lines would be left out."""
    if "&" in text or _OTHER_BREAKS.search(text):
        # an anchor: its aliases would share values (moved twice here) and count the values
        # of the shortened text against the alias bound, not the whole text's
        return None
    lines = text.split("\n")
    widths = [_width(_ITEM.fullmatch(line)) for line in lines] + [-1]
    kept_text: list[str] = []
    origin = [0]  # kept line numbers are 1-based
    copies: dict[int, list[tuple[int, int, str]]] = {}
    runs: list[Run] = []
    left_out = 0
    run: Run | None = None
    seen: dict[str, int] = {}  # the run's shapes so far: shape to kept line
    same: dict[str, int] = {}  # and their lines: a line seen before has its shape
    for index, line in enumerate(lines):
        width = widths[index]
        if width < 0:
            run = None
        elif run is None or width != widths[index - 1]:
            run, seen, same = Run(width + 3), {}, {}
            runs.append(run)
        shape = None
        # the run's last line may go on below (more keys, a longer value): it is always kept
        if run is not None and widths[index + 1] == width:
            twin = same.get(line)
            if twin is None:
                shape = _shape(line, width)
                twin = seen.get(shape) if shape is not None else None
            if twin is not None:
                copies.setdefault(run.kept[-1], []).append((index + 1, twin, line))
                left_out += 1
                continue
        kept_text.append(line)
        origin.append(index + 1)
        if run is not None:
            run.kept.append(len(kept_text))
            if shape is not None:
                seen[shape] = same[line] = len(kept_text)
    if left_out < worth:
        return None
    origin.append(len(lines) + 1)  # the line past the end, where a last empty value may sit
    return Shortened("\n".join(kept_text), origin, copies,
                     [run for run in runs if any(line in copies for line in run.kept)],
                     kept_text, {twin for lefts in copies.values() for _, twin, _ in lefts})


def _shape(line: str, width: int) -> str | None:
    """An item line's shape: its text after the dash without its words and its comment;
    None for a line that may not be left out."""
    content = _content(line, width)
    if len(content) > _LONGEST or _LONE_DASH.search(content, width + 2):
        return None  # a key too long for the parser to take; a - of its own is a list's dash
    return _WORD.sub("\0", content[width + 2:])


def _content(line: str, width: int) -> str:
    """An item line without its comment, which its reading does not see (an item line has
    no quotes, so a ` #` starts a comment)."""
    comment = line.find(" #", width + 1)
    return line if comment < 0 else line[:comment]


def _split(line: str, col: int) -> list[str]:
    """An item line split at its words (at the odd places), from the item's ``col``, up to
    its comment."""
    parts = _WORD.split(_content(line, col - 3)[col - 1:])
    parts[0] = line[:col - 1] + parts[0]
    return parts


def _width(matched: re.Match[str] | None) -> int:
    """The indentation of an item line, -1 for any other line."""
    if matched is None:
        return -1
    return len(matched[1] if matched[1] is not None else matched[2])


def restore(root: Node, shortened: Shortened) -> None:
    """Make the shortened text's tree that of the whole text, in place; raises _Declined when
    it does not bear the shortening out."""
    lines = shortened.lines
    found: dict[int, int] = {}  # the runs' kept lines read as items: id of their list
    run_lines = {line: run.col for run in shortened.runs for line in run.kept}
    values = plain_values()
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
                node.items = _with_copies(node, run_lines, shortened, found, values)
        node.line = lines[node.line]
    for run in shortened.runs:
        lists = {found.get(line) for line in run.kept}
        if len(lists) != 1 or None in lists:
            raise _Declined


def _with_copies(seq: Seq, run_lines: dict[int, int], shortened: Shortened,
                 found: dict[int, int], values: Values) -> tuple[Node, ...]:
    """A list's items with the lines left out after its kept run lines."""
    items: list[Node] = []
    makers: dict[int, Twin] = {}
    # items made from a text already (a few thousand): a generated spec repeats whole lines
    made: dict[str, Mover] = {}
    for item in seq.items:
        items.append(item)
        line = item.line
        if run_lines.get(line) != item.col:
            continue
        found[line] = id(seq)
        if line in shortened.twins:
            makers[line] = _twin(item, line, shortened.kept[line - 1], values)
        for original, twin, text in shortened.copies.get(line, ()):
            if twin not in makers:  # its twin is not an earlier item of this list
                raise _Declined
            make, move, model_text, model_parts = makers[twin]
            same = move if text == model_text else made.get(text)
            if same is not None:
                items.append(same(original))
                continue
            parts = _split(text, item.col)
            # a line that reads as its twin up to its twin's last value (a comment after it
            # may differ) is its twin's item moved
            if parts[:len(model_parts)] == model_parts:
                items.append(move(original))
                continue
            if make is None:
                raise _Declined
            items.append(make(parts, list(accumulate(map(len, parts), initial=0)), original))
            if len(made) < _MADE:
                made[text] = _mover(items[-1])
    return tuple(items)


# A kept line that lines left out have the shape of: its maker (None when its values are not
# words: then only its own text again), its item's mover, its text, and its parts up to the
# last one its item reads.
Twin = tuple["Maker | None", "Mover", str, list[str]]


def _twin(item: Node, line: int, text: str, values: Values) -> Twin:
    parts = _split(text, item.col)
    try:
        make, read = _maker(item, line, parts, values)
    except _Declined:
        if not _on_one_line(item, line):
            raise
        make, read = None, len(parts)
    return make, _mover(item), text, parts[:read]


def _on_one_line(node: Node, line: int) -> bool:
    if type(node) is Scalar:
        return node.line == line
    if type(node) is Seq:
        return node.line == line and all(_on_one_line(item, line) for item in node.items)
    assert type(node) is Map
    return node.line == line and all(key.line == line and _on_one_line(value, line)
                                     for key, value in node.entries)


# A mover makes a one-line item again on another line (the same line again, or one that reads
# as it): its values and columns are kept, so only the nodes are made.
Mover = Callable[[int], Node]


def _mover(node: Node) -> Mover:
    col = node.col
    if type(node) is Scalar:
        value = node.value
        return lambda line: Scalar(value, line, col)
    if type(node) is Seq:
        items = [_mover(item) for item in node.items]
        return lambda line: Seq(tuple([item(line) for item in items]), line, col)
    assert type(node) is Map
    entries = [(key.value, key.col, _mover(value)) for key, value in node.entries]
    return lambda line: Map(tuple([(Scalar(key, line, key_col), value(line))
                                   for key, key_col, value in entries]), line, col)


# A maker makes an item from a line of its shape: the line split at its words, where each
# part starts, and the line's number.
Maker = Callable[[list[str], list[int], int], Node]


def _maker(node: Node, line: int, parts: list[str], values: Values) -> tuple[Maker, int]:
    """The maker of a kept line's item, read from its tree (still in the shortened text's
    line numbers), and how many of the line's parts it reads; _Declined unless each value
    is one word of the line, all on that line."""
    offsets = list(accumulate(map(len, parts), initial=0))
    read = 0

    def place(at: Node) -> tuple[int, int]:
        if at.line != line:
            raise _Declined  # the item goes on below its line
        # the part it starts in; at the line's end, the last part (never a word)
        nonlocal read
        part = min(bisect_right(offsets, at.col - 1), len(parts)) - 1
        read = max(read, part + 1)
        return part, at.col - 1 - offsets[part]

    def word(scalar: Scalar) -> int:
        part, into = place(scalar)
        if part % 2 == 0 or into:
            raise _Declined  # not where a word starts: a longer or an empty value
        value = values(parts[part], scalar.line, scalar.col)
        if type(value) is not type(scalar.value) or value != scalar.value:
            raise _Declined  # the value is more than the word (`conv3 64`, `1:30`)
        return part

    def maker(at: Node) -> Maker:
        if type(at) is Scalar:
            if at.value is None and place(at)[0] % 2 == 0:  # an empty value: `conv:`
                return _null(*place(at))
            return _scalar(word(at), values)
        if type(at) is Seq:
            return _seq(*place(at), [maker(item) for item in at.items])
        assert type(at) is Map
        keys = [word(key) for key, _ in at.entries]
        return _map(*place(at), keys, [parts[key] for key in keys],
                    [maker(value) for _, value in at.entries], values)

    made = maker(node)
    return made, read


def _null(part: int, into: int) -> Maker:
    return lambda parts, offsets, line: Scalar(None, line, offsets[part] + into + 1)


def _scalar(part: int, values: Values) -> Maker:
    def make(parts: list[str], offsets: list[int], line: int) -> Node:
        col = offsets[part] + 1
        return Scalar(values(parts[part], line, col), line, col)
    return make


def _seq(part: int, into: int, items: list[Maker]) -> Maker:
    def make(parts: list[str], offsets: list[int], line: int) -> Node:
        return Seq(tuple([item(parts, offsets, line) for item in items]), line,
                   offsets[part] + into + 1)
    return make


def _map(part: int, into: int, keys: list[int], words: list[str], makers: list[Maker],
         values: Values) -> Maker:
    pairs = list(zip(keys, makers, strict=True))

    def make(parts: list[str], offsets: list[int], line: int) -> Node:
        entries = tuple([(Scalar(parts[key], line, offsets[key] + 1),
                          value(parts, offsets, line)) for key, value in pairs])
        if [parts[key] for key in keys] != words:  # other keys than its twin's: text, once
            texts = [values(parts[key], line, offsets[key] + 1) for key in keys]
            if len(set(texts)) != len(texts) or any(type(text) is not str for text in texts):
                raise _Declined  # `1:`, `true:`, a key given twice: the whole reading says
        return Map(entries, line, offsets[part] + into + 1)
    return make
