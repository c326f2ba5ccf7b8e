"""``$(…)`` expressions: exact arithmetic with Python's meaning, torchvision's rounding rules,
and bounds that answer hostile text with a problem at once."""

from __future__ import annotations

import ast
import os
import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.analysis import analyze
from convcalc.language import load_text
from convcalc.language.expressions import ExpressionError, evaluate, make_divisible
from convcalc.language.references import COMMA, names_in, shield
from tests.oracles import need

EXAMPLES = int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "150"))


@pytest.mark.parametrize(("text", "value"), [
    ("0.25", Fraction(1, 4)),  # a decimal is the exact rational it writes
    ("7 / 2", Fraction(7, 2)),
    ("8 / 2", 4),
    ("7 // 2", 3),
    ("-7 // 2", -4),  # floor division, as Python
    ("-7 % 3", 2),
    ("2 + 3 * 4 - 6 / 3", 12),
    ("(2 + 3) * 4", 20),
    ("0.1 + 0.2 == 0.3", True),  # exact: a float would say false
    ("1 < 2 < 3", True),
    ("1 < 3 < 2", False),
    ("not 1 > 2 and 2 >= 2", True),
    ("false or 1 != 1", False),
    ("3 if 1 > 2 else 4", 4),
])
def test_arithmetic_is_exact_with_pythons_meaning(text: str, value: object) -> None:
    result = evaluate(text, {})
    assert result == value and type(result) is type(value)


def test_round_is_pythons_round_half_to_even() -> None:
    # torchvision's code calls Python's round, which rounds halves to the even neighbour
    assert [evaluate(f"round({x})", {}) for x in ("0.5", "1.5", "2.5", "-2.5", "2.51")] == \
        [0, 2, 2, -2, 3]


def test_floor_ceil_int_min_max() -> None:
    env = {"c": 30, "r": 0.25}
    assert evaluate("floor(c * r)", env) == 7
    assert evaluate("ceil(c * r)", env) == 8
    assert evaluate("int(-c * r)", env) == -7  # towards zero, as Python's int()
    assert evaluate("max(1, c // 4, 3)", env) == 7
    assert evaluate("min(c, 16)", env) == 16


def test_a_yaml_float_argument_is_the_decimal_it_writes() -> None:
    assert evaluate("r * 10", {"r": 0.1}) == 1
    assert evaluate("r", {"r": 1.1}) == Fraction(11, 10)


def test_make_divisible_is_torchvisions_rule() -> None:
    utils = need("torchvision.models._utils")
    for divisor in range(1, 17):
        for n in range(0, 400):
            value = Fraction(n, 4)  # quarters: exact in binary, so torch's floats agree
            for floor in (None, 0, 1, divisor, 2 * divisor):
                assert make_divisible(value, divisor, floor) == \
                    utils._make_divisible(float(value), divisor, floor), (value, divisor, floor)


def test_make_divisible_in_a_spec_gives_mobilenet_v3s_squeeze_width() -> None:
    # torchvision mobilenetv3: squeeze_channels = _make_divisible(expanded_channels // 4, 8)
    assert evaluate("make_divisible(e // 4, 8)", {"e": 72}) == 24
    assert evaluate("make_divisible(e // 4, 8)", {"e": 120}) == 32
    assert evaluate("make_divisible(c * 0.75, 8)", {"c": 20}) == 16


@pytest.mark.parametrize(("text", "code", "words"), [
    ("sqrt(4)", "unknown-function", "sqrt() is not a function"),
    ("max(3)", "bad-expression", "max() takes 2 or more arguments, got 1"),
    ("round(1, 2)", "bad-expression", "round() takes 1 argument, got 2"),
    ("make_divisible(9)", "bad-expression", "takes 2 to 3 arguments"),
    ("4 / 0", "bad-expression", "division by zero"),
    ("4 // (2 - 2)", "bad-expression", "division by zero"),
    ("4 % 0", "bad-expression", "division by zero"),
    ("make_divisible(9, 0)", "bad-expression", "divisor must be a positive integer"),
    ("make_divisible(9, 1/2)", "bad-expression", "divisor must be a positive integer"),
    ("1 +", "bad-expression", "found 'the end'"),
    ("2 ** 3", "bad-expression", "found '*'"),
    ("x.real", "bad-expression", "unexpected '.real'"),
    ("true + 1", "bad-expression", "needs numbers, got true"),
    ("1 if 2 else 3", "bad-expression", "needs true or false, got 2"),
    ("1 and true", "bad-expression", "needs true or false, got 1"),
    ("true < false", "bad-expression", "compares true with false"),
    ("nope", "undefined-argument", "nope is not an argument"),
    ("word", "bad-expression", "word is 'big', not a number"),
    ("", "bad-expression", "empty"),
    ("1" + "+1" * 1000, "too-large", "the limit is 300"),
    ("-" * 100 + "1", "too-deep", "deeper than 16"),
    ("(" * 40 + "1" + ")" * 40, "too-deep", "deeper than 16"),
    ("n * n", "too-large", "more than 128 bits"),
    ("2" * 50, "too-large", "more than 128 bits"),
])
def test_bad_expressions_are_problems_with_codes(text: str, code: str, words: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        evaluate(text, {"word": "big", "n": 10 ** 30})
    assert caught.value.code == code and words in caught.value.message


def test_and_or_and_if_evaluate_only_what_decides() -> None:
    assert evaluate("c == 0 or 12 // c == 3", {"c": 0}) is True
    assert evaluate("c > 0 and 12 // c == 3", {"c": 0}) is False
    assert evaluate("12 // c if c > 0 else 0", {"c": 0}) == 0


def test_names_and_functions_an_expression_uses() -> None:
    assert names_in("make_divisible(channels * r, 8) if se and not x else max (a, 1)") == (
        {"channels", "r", "se", "x", "a"}, {"make_divisible", "max"})


def test_hostile_values_answer_within_milliseconds() -> None:
    nines = "9" * 4000
    load_text("input: 8x8x3\nlayers: [relu]\n", "warm.yaml")  # one-time imports aside
    for expression in ("*".join(["n"] * 400), "(" * 12 + "n*n" + ")*n" * 12, "n*n",
                       "+".join(["n"] * 140)):
        text = (f"input: 8x8x3\nblocks:\n  a:\n    args: {{n: {nines}}}\n"
                f"    layers: [conv1-$({expression})]\nlayers: [a]\n")
        times = []
        for _ in range(3):  # the best of three: a busy machine may stall any one run
            start = time.perf_counter()
            loaded = load_text(text, "h.yaml")
            times.append(time.perf_counter() - start)
            assert [p.code for p in loaded.problems] == ["too-large"]
        assert min(times) < 0.02


def test_commas_inside_expressions_work_in_flow_lists() -> None:
    loaded = load_text("input: 8x8x32\nblocks:\n  se:\n    args: {c: 32}\n"
                       "    layers: [conv1-$(max(8, c // 4)), {conv: {filters: $(min(c, 16)), "
                       "k: 1}}, conv1-$(make_divisible(c / 3, 8, 16))]\nlayers: [se]\n", "f.yaml")
    assert loaded.model is not None, loaded.problems
    report = analyze(loaded.model)
    assert [row.output_shape.channels for row in report.rows if row.kind == "conv"] == \
        [8, 16, 16]


def test_the_comma_shield_keeps_every_position() -> None:
    text = "[conv1-$(max(8, c // 4)), bn, 'a, b', $(f(g(1, 2), 3))]"
    shielded = shield(text)
    assert len(shielded) == len(text)
    assert shielded.replace(COMMA, ",") == text
    assert shielded.count(",") == 4  # the list's own three commas, and the quoted one
    assert shield(text + COMMA) == text + COMMA  # already holding the mark: left alone


_OPS = ("+", "-", "*", "/", "//", "%")


@st.composite
def arithmetic(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from(["a", "b", "c", "2", "0.5", "3"]))
    op = draw(st.sampled_from(_OPS))
    return f"({draw(arithmetic(depth - 1))} {op} {draw(arithmetic(depth - 1))})"


class _Exact(ast.NodeTransformer):
    """Python's own arithmetic kept exact: every number and every result a Fraction (Python's
    ``//`` of two Fractions is an int, and an int divided by an int a float)."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Call(ast.Name("Fraction", ast.Load()), [ast.Constant(str(node.value))], [])

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        return ast.Call(ast.Name("Fraction", ast.Load()), [node], [])


def python_value(text: str, env: dict[str, Fraction]) -> Fraction:
    tree = ast.fix_missing_locations(_Exact().visit(ast.parse(text, mode="eval")))
    code = compile(tree, "<oracle>", "eval")  # the text is generated by the test, not read
    return Fraction(eval(code, {"__builtins__": {}, "Fraction": Fraction}, env))


@settings(max_examples=EXAMPLES, deadline=None)
@given(arithmetic(), st.integers(-20, 20), st.integers(-20, 20), st.integers(1, 9))
def test_arithmetic_agrees_with_python_on_fractions(text: str, a: int, b: int, c: int) -> None:
    env = {"a": Fraction(a), "b": Fraction(b), "c": Fraction(c)}
    try:
        expected = python_value(text, env)
    except ZeroDivisionError:
        with pytest.raises(ExpressionError, match="division by zero"):
            evaluate(text, {"a": a, "b": b, "c": c})
        return
    assert evaluate(text, {"a": a, "b": b, "c": c}) == expected


@pytest.mark.parametrize("item", ["conv1-$(2*4)", "conv: {filters: $(2*4), k: 1}",
                                  "conv: {filters: 8, k: 1}\n    if: $(1 < 2)"])
def test_an_expression_in_the_specs_own_layers_says_where_expressions_work(item: str) -> None:
    """``$(2*4)`` names no argument, so "uses an argument outside a block" misled: the
    problem says that ``$`` is filled in only inside a block's body."""
    loaded = load_text(f"input: 8x8x16\nlayers:\n  - {item}\n", "net.yaml")
    [problem] = loaded.problems
    assert problem.code == "undefined-argument"
    assert "only inside a block's body" in problem.message
    assert "uses an argument" not in problem.message
