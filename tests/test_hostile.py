"""Hostile and malformed input: a corpus with expected codes, bounds, and fuzzing.

Every file in tests/hostile/ is listed in tests/hostile/EXPECTED with the problem code it
must produce (or `none`). Nothing may escape as an exception, take long, or exit with a
code other than 0, 1 or 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc.analysis import analyze
from convcalc.language import MAX_BYTES, load_file, load_text
from convcalc.language.builder import TOP_KEYS
from convcalc.layers import KINDS
from convcalc.render.json_ import summary
from convcalc.render.problems import github, parsable
from convcalc.render.summary import draw
from convcalc.render.tabular import to_csv, to_markdown

HOSTILE = Path(__file__).parent / "hostile"
EXPECTED = dict(line.split() for line in (HOSTILE / "EXPECTED").read_text().splitlines()
                if line and not line.startswith("#"))
Cli = Any


def test_the_corpus_is_large_and_listed() -> None:
    files = {path.name for path in HOSTILE.glob("*.yaml")}
    assert len(files) >= 100
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_gives_its_code_quickly(name: str) -> None:
    start = time.perf_counter()
    loaded = load_file(HOSTILE / name)
    problems = loaded.problems
    if loaded.model is not None:
        problems = analyze(loaded.model, known=loaded.problems).problems
    elapsed = time.perf_counter() - start
    codes = [p.code for p in problems if p.level == "error"]
    expected = EXPECTED[name]
    assert codes == [] if expected == "none" else expected in codes, (codes, problems)
    assert all("\n" not in p.message for p in problems)
    assert elapsed < 1.0


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_through_the_cli(cli: Cli, name: str) -> None:
    for command in ("summarize", "check"):
        run = cli(command, str(HOSTILE / name))
        assert run.code in (0, 1, 2)
        assert "internal error" not in run.err and "Traceback" not in run.err
    expected = EXPECTED[name]
    if expected != "none":
        assert f"[{expected}]" in cli("check", str(HOSTILE / name)).out + \
            cli("summarize", str(HOSTILE / name)).err


def run_cli(*args: str, cwd: Path | None = None) -> tuple[int, str, float]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "convcalc", *args], capture_output=True,
                            text=True, check=False, cwd=cwd)
    return result.returncode, result.stderr, time.perf_counter() - start


@pytest.mark.parametrize("name", ["alias-bomb-9x10.yaml", "deep-flow-list-10000.yaml",
                                  "block-recursive.yaml"])
def test_named_attacks_end_in_a_second_with_exit_2(name: str) -> None:
    code, err, elapsed = run_cli("summarize", str(HOSTILE / name))
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert elapsed < 1.0 + 0.5  # a second of work plus interpreter start-up


def test_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:  # sparse: the refusal must not depend on reading it
        f.seek(MAX_BYTES + 1)
        f.write(b"\n")
    code, err, elapsed = run_cli("summarize", str(big))
    assert code == 2 and "[too-large]" in err and elapsed < 1.5
    code, err, _ = run_cli("check", str(big))
    assert code == 2 and "cannot be read" in err


def test_deep_block_nesting_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("input: 8x8x1\nlayers:\n" + "".join("  " * i + "- \n" for i in range(1, 2000)))
    code, err, elapsed = run_cli("summarize", str(deep))
    assert code == 2 and "[too-deep]" in err and elapsed < 1.5


# --- fuzzing ---------------------------------------------------------------------------------

FUZZ = settings(max_examples=int(os.environ.get("CONVCALC_FUZZ_EXAMPLES", "300")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])  # cli is stateless
WORDS = [*KINDS, *TOP_KEYS, "filters", "k", "stride", "pad", "dilation", "groups", "repeat",
         "name", "args", "add", "concat", "mul", "allow", "units", "conv3-64", "maxpool",
         "fc-10", "same", "$x", "$(x*2)", "3x3", "0x3", "224x224x3", "x"]
scalars = st.one_of(st.integers(-5, 300), st.integers(), st.sampled_from(WORDS), st.booleans(),
                    st.none(), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=12))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.sampled_from(WORDS), inner, max_size=5)),
    max_leaves=40)


def printable(text: str) -> bool:
    """No control or invisible formatting character but the newline: safe for a terminal."""
    return all(c == "\n" or c.isprintable() for c in text)


def exercise(text: str) -> None:
    """Load, analyse and render a spec: no exception, and no raw control character in any
    human or line-based output (JSON is exact, and is only parsed back)."""
    loaded = load_text(text, "fuzz.yaml")
    assert loaded.model is not None or loaded.problems or loaded.library
    problems = loaded.problems
    if loaded.model is not None:
        report = analyze(loaded.model, known=loaded.problems)
        problems = report.problems
        json.loads(summary(report))
        assert printable(draw(report)) and printable(to_csv(report))
        assert printable(to_markdown(report))
    assert all(printable(str(p)) for p in problems)
    assert printable(parsable(problems)) and printable(github(problems))


@FUZZ
@given(st.text(max_size=300))
def test_any_text_loads_or_gives_problems(text: str) -> None:
    exercise(text)


@FUZZ
@given(documents)
def test_any_yaml_document_loads_or_gives_problems(document: object) -> None:
    exercise(yaml.safe_dump(document))


@FUZZ
@given(st.dictionaries(st.sampled_from(["input", "layers", "blocks", "defaults"]), documents,
                       max_size=4),
       st.sampled_from(["input: 32x32x3\n", "input: 8x8x2\n", ""]))
def test_spec_shaped_documents(document: dict[str, object], prefix: str) -> None:
    exercise(prefix + yaml.safe_dump(document))


# Hostile pieces written into spec text: YAML tags, numbers past Python's 4,300-digit
# limit, names full of control characters, long expressions.
TAGS = ["!!bool", "!!int", "!!float", "!!str", "!!null", "!!timestamp", "!!binary", "!!set",
        "!!omap", "!!pairs", "!!merge", "!custom", "!!python/name:os.system", "!<tag:x,1:y>"]
tagged = st.tuples(st.sampled_from(TAGS), st.sampled_from(
    ["", '""', "3", "8x8x3", "2020-01-01", "aGVsbG8=", ".inf", ".nan", "1e400", "true",
     "{a: 1}", "[1, 2]", "-1", "0x10"])).map(" ".join)
huge = st.tuples(st.integers(1, 6000), st.sampled_from(["", "M", "x3", "x8x3", ".5k", "e400"])
                 ).map(lambda pair: "9" * pair[0] + pair[1])
hostile_names = st.lists(st.one_of(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Zs"]),
                                   st.sampled_from(["\x1b[31m", "\x1b]0;x\x07", "\r", "\n",
                                                    "fake.yaml:1:1: error [x] forged", "a"])),
                         max_size=12).map(lambda parts: json.dumps("".join(parts)))
# (a JSON string is a YAML string)
expressions = st.lists(st.sampled_from(["n", "2", "(n+1)", "-n", "n*n", "7//2", "9"]),
                       min_size=1, max_size=300).flatmap(
    lambda terms: st.lists(st.sampled_from(["+", "-", "*", "//"]), min_size=len(terms) - 1,
                           max_size=len(terms) - 1).map(
        lambda ops: terms[0] + "".join(o + t for o, t in zip(ops, terms[1:], strict=True))))
PLACES = [
    "name: {name}\ninput: {value}\nlayers: [relu]\n",
    "name: {name}\nsource: {value}\ninput: 8x8x3\nlayers: [{{relu: {{name: {name}}}}}]\n",
    "input: 8x8x3\nlayers: [{{conv: {{k: 3, filters: {value}, name: {name}}}}}]\n",
    "input: 8x8x3\nlayers: [conv3-{value}]\n",
    "input: 8x8x3\nlayers: [relu]\nexpect: {{params: {value}}}\n",
    "input: 8x8x3\nlayers: [relu]\nbudget: {{memory: {value}}}\n",
    "input: 8x8x3\nlayers: [{{dropout: {{rate: {value}}}}}, {{lrn: {{alpha: {value}}}}}]\n",
    "input: 8x8x3\nlayers: [{{leaky-relu: {{slope: {value}}}}}]\n",
    "input: 8x8x3\nlayers: [{{upsample: {{scale: {value}}}}}]\n",
    "input: 8x8x3\nblocks:\n  {name}:\n    args: {{n: {value}}}\n"
    "    layers: [conv1-$({expression}), relu]\nlayers: [{name}]\n",
    "input: 8x8x3\nblocks:\n  b:\n    args: {{n: 3}}\n    layers: [conv1-$({expression})]\n"
    "layers: [{{b: {{name: {name}}}}}]\n",
]


@FUZZ
@given(st.sampled_from(PLACES), hostile_names, st.one_of(tagged, huge, st.integers(-3, 99).map(
    str), hostile_names), expressions)
def test_hostile_pieces_in_spec_text(place: str, name: str, value: str, expression: str) -> None:
    exercise(place.format(name=name, value=value, expression=expression))


OPTION_VALUES = st.one_of(st.integers(-3, 40).map(str), st.sampled_from(
    ["3x5", "0", "-1", "same", "valid", "full", "1x2", "0,1", "x", "", "2x2x2x2", "1e3",
     "999999999999"]), st.text(max_size=6))


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["--k", "--stride", "--pad", "--dilation",
                                           "--groups", "--filters", "--output-padding",
                                           "--out-size", "--in", "--kind", "--batch"]),
                          OPTION_VALUES), max_size=6),
       st.sampled_from(["conv", "conv-transpose", "depthwise", "separable", "local", "maxpool",
                        "avgpool", "global-avgpool", "adaptive-avgpool", "fc"]))
def test_layer_command_never_crashes(cli: Cli, options: list[tuple[str, str]],
                                     kind: str) -> None:
    args = ["layer", "--in", "32x32x3", "--kind", kind]
    for option, value in options:
        args += [option, value]
    run = cli(*args)
    assert run.code in (0, 1, 2)
    assert "internal error" not in run.err


@pytest.mark.parametrize("args", [
    ["layer", "--in", "999999999999x999999999999x3", "-f", "1", "--k", "99999999", "-s",
     "77777777"],
    ["layer", "--in", "999999999999x3", "-f", "1", "--k", "99999", "-d", "3", "-s", "7"],
    ["layer", "--kind", "adaptive-avgpool", "--in", "999999999x3", "--out-size", "99999997"],
])
def test_absurd_sizes_are_answered_at_once(cli: Cli, args: list[str]) -> None:
    start = time.perf_counter()
    run = cli(*args)
    assert run.code == 0 and time.perf_counter() - start < 1.0


@pytest.mark.parametrize("args", [
    ["sizes", "vgg16", "--range", "1:1000000000"],
    ["sweep", "vgg16", "--sizes", "1:300"],
    ["solve", "--in", "224", "--out", "3", "--k", "1:1000", "--stride", "1:1000"],
])
def test_unbounded_searches_are_refused(cli: Cli, args: list[str]) -> None:
    start = time.perf_counter()
    run = cli(*args)
    assert run.code == 2 and time.perf_counter() - start < 1.0
    assert run.err.startswith("convcalc: error:")


def test_huge_kernels_keep_the_lost_count_exact() -> None:
    from convcalc.arith import Window

    w = Window(999_999_999_999, 99_999_999, 77_777_777)
    end_of_kept = (w.output - 1) * w.stride + w.span  # first position no kept window reads
    assert w.lost == 999_999_999_999 - end_of_kept
