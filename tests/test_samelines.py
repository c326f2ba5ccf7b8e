"""Reading a text without the lines of a shape seen before gives the tree reading it all
gives.

Every tree is compared whole (values, lines, columns, duplicate keys) with the plain reading
of the same text, on the bundled specs, the hostile corpus, and documents made of lines
chosen to trap a reader that trusts a line's text: block scalars, multi-line values, flow
collections across lines, anchors, duplicate keys, comments, items that go on below.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.language import samelines, yamltree
from convcalc.language.references import shield

ROOT = Path(__file__).parent.parent
Tree = object


def dump(node: yamltree.Node | None) -> Tree:
    """A node as plain data: what it holds and where each part of it was written."""
    if node is None:
        return None
    if isinstance(node, yamltree.Scalar):
        return ("scalar", node.value, type(node.value).__name__, node.line, node.col)
    if isinstance(node, yamltree.Seq):
        return ("seq", node.line, node.col, [dump(item) for item in node.items])
    return ("map", node.line, node.col, [(dump(key), dump(value)) for key, value in node.entries])


def readings(text: str) -> tuple[object, object]:
    """The plain reading and the shortened one (None when it declined) of one text."""
    shielded = shield(text)
    shortened = samelines.read_shortened(shielded, yamltree._read, worth=1)
    try:
        root, duplicates = yamltree._read(shielded)
    except yamltree.YamlError as exc:
        return ("error", exc.code, exc.line, exc.col), shortened and "read"
    plain = (dump(root), [vars(duplicate) for duplicate in duplicates])
    if shortened is None:
        return plain, None
    return plain, (dump(shortened[0]), [vars(duplicate) for duplicate in shortened[1]])


def agrees(text: str) -> bool:
    """True when the shortened reading was taken, False when it declined; fails if it
    differs from the plain one."""
    plain, short = readings(text)
    assert short is None or short == plain, text
    return short is not None


SPECS = sorted(path for folder in ("architectures", "convcalc", "tests")
               for path in (ROOT / folder).rglob("*.yaml"))


def test_every_spec_in_the_repository_reads_the_same_shortened() -> None:
    taken = 0
    for path in SPECS:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        taken += agrees(text)
    assert taken >= 5  # the shortening was tried on real specs, not declined everywhere


def test_a_long_generated_spec_is_read_shortened_and_the_same() -> None:
    widths = (8, 16, 8, 32)
    text = "input: 32x32x8\nlayers:\n" + "".join(
        f"  - conv: {{filters: {widths[i % 4]}, k: 1}}\n" for i in range(2000))
    shortened = samelines.shorten(shield(text))
    assert shortened is not None and shortened.text.count("\n") < 10
    assert agrees(text)
    root, _ = yamltree.parse(text)
    assert isinstance(root, yamltree.Map)
    layers = root.get("layers")
    assert isinstance(layers, yamltree.Seq) and len(layers.items) == 2000
    last = layers.items[-1]
    assert isinstance(last, yamltree.Map) and (last.line, last.col) == (2002, 5)
    assert dump(last.get("conv")) == ("map", 2002, 11, [
        (("scalar", "filters", "str", 2002, 12), ("scalar", 32, "int", 2002, 21)),
        (("scalar", "k", "str", 2002, 25), ("scalar", 1, "int", 2002, 28))])


@pytest.mark.parametrize("text", [
    # lines that look like items but are text of a block scalar, folded or literal
    "doc: |\n  - conv\n  - conv\n  - conv\n",
    "doc: >-\n  - conv\n  - conv\n  - conv\nname: x\n",
    # a multi-line plain value that goes on over item-like lines
    "name: a\n  - conv\n  - conv\n  - conv\n",
    # a flow list across lines
    "layers: [a,\n - b,\n - b,\n - b]\n",
    # items that go on below (more keys) and nested lists
    "layers:\n- conv: 1\n- conv: 1\n  name: x\n- conv: 1\n- conv: 1\n",
    "- - a\n- - a\n- - a\n  - b\n- - a\n",
    # a key given twice on a repeated line
    "layers:\n- {a: 1, a: 2}\n- {a: 1, a: 2}\n- {a: 1, a: 2}\n",
    # comments between and after items, and a run at the root
    "- conv # c\n- conv # c\n# x\n- conv # c\n- conv # c\n- conv # c\n",
    # a shielded expression with commas
    "layers:\n- conv1-$(max(8, 2))\n- conv1-$(max(8, 2))\n- conv1-$(max(8, 2))\n",
    # carriage returns: lines are not counted by \n alone
    "layers:\r\n- a\r\n- a\r\n- a\r\n",
    # a key longer than the parser takes (1024 characters), in a line of a shape seen before
    "- a: 1\n- " + "k" * 1025 + ": 1\n- a: 1\n",
    "- {a: 1}\n- {" + "k" * 1025 + ": 1}\n- {a: 1}\n",
    "- [a: 1]\n- [" + "k" * 1025 + ": 1]\n- [a: 1]\n",
    "- x: {a: 1}\n- x: {" + "k" * 1025 + ": 1}\n- x: {a: 1}\n",
    "- a: 1\n- " + "\u00e9" * 300 + ": 1\n- a: 1\n",
    # a last empty value past the end of a text without a final line break
    "- a\n- a\n- a\n- ? x",
    "k:\n- a\n- a\n- a\n? x",
    # comments that differ, and a value that is empty before one
    "- a # x y\n- b # z\n- c #\n- d\n",
    "- a: # x\n- b: # yy yy\n- c:\n- d:\n",
    "- # x\n- # y y\n-\n- #\n- a\n",
])
def test_traps_read_as_the_whole_text_does(text: str) -> None:
    agrees(text)


LINES = [
    "- conv", "- conv: {k: 1}", "- [a, b]", "- {a: 1,", "  b: 2}", "- a:", "  - x", "- - x",
    "key: |", "key: >", "key: v", "key:", "  go on", "# note", "- \"q\"", "- &a x", "- *a",
    "- a: 1", "  name: y", "---", "...", "", "- conv  # c", "-  conv", "- a: b: c",
    "- {a: 1, a: 2}", "- ? x", "- x: [1,", "  2]", "- $(max(8, c))", "- 'a", "  b'", "-",
    "- !!int 3", "- 0x10", "- 1:30", "- {k: 1}", "- conv1-8",
]
FUZZ = settings(max_examples=int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "300")),
                deadline=None)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(LINES),
                          st.integers(1, 4)), max_size=30))
def test_documents_of_trap_lines_read_the_same_shortened(
        lines: list[tuple[int, str, int]]) -> None:
    text = "".join((" " * indent + line + "\n") * times for indent, line, times in lines)
    agrees(text)
    agrees(text.removesuffix("\n"))


def test_a_shortened_reading_that_fails_is_read_whole_with_the_real_position() -> None:
    text = "layers:\n" + "- conv\n" * 600 + "- {a: 1\n"
    with pytest.raises(yamltree.YamlError) as whole:
        yamltree._read(text)
    with pytest.raises(yamltree.YamlError) as failed:
        yamltree.parse(text)
    assert whole.value.line > 600  # past the lines the shortened text leaves out
    assert (failed.value.code, failed.value.message, failed.value.line, failed.value.col) == \
        (whole.value.code, whole.value.message, whole.value.line, whole.value.col)


# items that read, and lines that make the one above go on
ITEMS = ["- conv", "- conv: {k: 1}", "- [a, b]", "- a:", "  - x", "- - x", "- a: 1", "  name: y",
         "- conv  # c", "-  conv", "- {a: 1, a: 2}", "- $(max(8, c))", "-", "- !!int 3", "- 0x10",
         "- 1:30", "- conv1-8", "# c", "", "    deeper: 1", "  - - y", "- x: [1,", "  2]",
         "- a: |", "    text"]


@FUZZ
@given(st.sampled_from([0, 2]),
       st.lists(st.tuples(st.sampled_from(ITEMS), st.integers(1, 4), st.integers(0, 9)),
                max_size=30))
def test_lists_of_trap_items_read_the_same_shortened(
        indent: int, lines: list[tuple[str, int, int]]) -> None:
    # mostly items of one list, now and then at another indentation
    text = "layers:\n" + "".join(
        (" " * (indent if shift < 8 else shift - 6) + line + "\n") * times
        for line, times, shift in lines)
    agrees(text)


# lines of one shape whose words read differently: numbers, text, booleans, nulls, keys
# that are not text, keys given twice, values longer than a word
SHAPED = ["- conv: {filters: 8, k: 1}", "- conv: {filters: 16, k: 1}", "- conv: {filters: x, k: 1}",
          "- conv: {filters: true, k: 1}", "- conv: {filters: null, k: 1}",
          "- conv: {k: 8, k: 1}", "- conv: {1: 8, k: 1}", "- conv: {filters: 1_000, k: 0x10}",
          "- conv: {filters: .inf, k: -1}", "- {a: 1, b: 2}", "- {a: 1, a: 2}", "- {1: a, b: 2}",
          "- {yes: 1, b: 2}", "- conv3 64", "- conv3 6", "- 1:30", "- 1:3", "- a:", "- b:",
          "- [a, b]", "- [a, 1]", "- [1.5, +1]", "- conv # 1", "- conv # 2", "- conv1-8",
          "- conv3-16-s2", "- a.b", "- on", "- - a", "- a: b", "- 1: b", "- null: b",
          "- x: [1, 2]", "- x: [a, b]", "- {a: }", "- {b: }", "  name: y", "- 12345678901234"]


@FUZZ
@given(st.sampled_from([0, 2]),
       st.lists(st.tuples(st.sampled_from(SHAPED), st.integers(1, 3), st.integers(0, 40)),
                max_size=40))
def test_lines_of_one_shape_with_other_words_read_the_same_shortened(
        indent: int, lines: list[tuple[str, int, int]]) -> None:
    # mostly one list; a line at another indentation now and then
    text = "layers:\n" + "".join(
        (" " * (indent if shift < 39 else shift - 37) + line + "\n") * times
        for line, times, shift in lines)
    agrees(text)


def test_a_long_spec_of_named_layers_is_read_shortened_and_the_same() -> None:
    text = "input: 32x32x8\nlayers:\n" + "".join(
        f"  - conv: {{filters: {8 * (1 + i % 5)}, k: 1, name: layer{i}}}\n" for i in range(1000))
    shortened = samelines.shorten(shield(text))
    assert shortened is not None and shortened.text.count("\n") < 5
    assert agrees(text)
    root, _ = yamltree.parse(text)
    assert isinstance(root, yamltree.Map)
    layers = root.get("layers")
    assert isinstance(layers, yamltree.Seq)
    last = layers.items[-1]
    assert isinstance(last, yamltree.Map)
    assert dump(last.get("conv")) == ("map", 1002, 11, [
        (("scalar", "filters", "str", 1002, 12), ("scalar", 40, "int", 1002, 21)),
        (("scalar", "k", "str", 1002, 25), ("scalar", 1, "int", 1002, 28)),
        (("scalar", "name", "str", 1002, 31), ("scalar", "layer999", "str", 1002, 37))])


def test_a_value_longer_than_a_word_is_still_read_once_where_its_line_repeats() -> None:
    text = "layers:\n" + "- conv3 64\n" * 5 + "- conv3 65\n" + "- conv3 64\n" * 3 + "- x\n"
    # `conv3 65` has the shape of `conv3 64`, which makes no recipe: declined
    assert readings(text)[1] is None
    assert agrees("layers:\n" + "- conv3 64\n" * 5 + "- x\n")  # identical lines: taken
