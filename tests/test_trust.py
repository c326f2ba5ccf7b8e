"""Regressions of issue #13: what independent testing found, each pinned by a test.

Hostile input that used to stop a run ("internal error"), answers that disagreed with the
frameworks, and friction met writing specs from the README alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import Analysis, analyze
from convcalc.language import load_text
from convcalc.model import LayerNode
from convcalc.problem import ERROR, Problem
from convcalc.render.json_ import summary
from convcalc.units import MAX_DIGITS, parse_quantity

Cli = Any
BIG = "9" * 5000  # past Python's 4,300-digit conversion limit


def problems_of(text: str) -> list[Problem]:
    """Every problem of a spec's text, loading and analysis both (no exception may escape)."""
    loaded = load_text(text, "spec.yaml")
    if loaded.model is None:
        return list(loaded.problems)
    return list(analyze(loaded.model, known=loaded.problems).problems)


def codes(text: str) -> list[tuple[int, int, str]]:
    return [(p.line, p.col, p.code) for p in problems_of(text) if p.level == ERROR]


# --- YAML tags, dates and numbers past Python's limits ----------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("input: !!bool 8x8x3\nlayers: [relu]\n", (1, 8, "yaml-syntax")),
    ("input: 8x8x3\nname: !!timestamp 2020-01-01\nlayers: [relu]\n", (2, 7, "yaml-tag")),
    ('input: 8x8x3\nlayers: [{conv: {filters: !!int "", k: 3}}]\n', (2, 27, "yaml-syntax")),
    ('input: 8x8x3\nlayers: [{dropout: {rate: !!float ""}}]\n', (2, 27, "yaml-syntax")),
    ("input: 8x8x3\nname: !!binary aGVsbG8=\nlayers: [relu]\n", (2, 7, "yaml-tag")),
    ("input: 8x8x3\nname: !!set {a}\nlayers: [relu]\n", (2, 7, "yaml-tag")),
])
def test_explicit_yaml_tags_are_problems_at_their_position(
        text: str, expected: tuple[int, int, str]) -> None:
    assert codes(text) == [expected]


def test_a_date_like_name_stays_the_text_written() -> None:
    loaded = load_text("name: 2020-1-1\nsource: 2001-12-14t21:59:43.10-05:00\ninput: 8x8x3\n"
                       "layers: [{relu: {name: 2020-01-01}}]\n", "spec.yaml")
    assert loaded.model is not None
    assert (loaded.model.name, loaded.model.source) == ("2020-1-1",
                                                        "2001-12-14t21:59:43.10-05:00")
    assert [row.name for row in analyze(loaded.model).rows] == ["input", "2020-01-01"]


@pytest.mark.parametrize(("text", "at"), [
    (f"input: {BIG}\nlayers: [relu]\n", (1, 8)),
    (f"input: {BIG}x3\nlayers: [relu]\n", (1, 8)),
    (f"input: [{BIG}, 3]\nlayers: [relu]\n", (1, 9)),
    (f"input: 8x8x3\nlayers: [relu]\nexpect: {{params: {BIG}}}\n", (3, 18)),
    (f"input: 8x8x3\nlayers: [relu]\nexpect: {{params: {BIG}M}}\n", (3, 18)),
    (f"input: 8x8x3\nlayers: [relu]\nbudget: {{macs: {BIG}}}\n", (3, 16)),
    (f"input: 8x8x3\nlayers: [conv3-{BIG}]\n", (2, 10)),
    (f"input: 8x8x3\nlayers: [{{conv: {{filters: 8, k: '{BIG}'}}}}]\n", (2, 33)),
])
def test_numbers_past_the_digit_limit_are_too_large_at_their_position(
        text: str, at: tuple[int, int]) -> None:
    problems = problems_of(text)
    assert [(p.line, p.col, p.code) for p in problems] == [(*at, "too-large")]
    assert "set_int_max_str_digits" not in problems[0].message
    assert f"{MAX_DIGITS:,} digits" in problems[0].message


@pytest.mark.parametrize("layers", [
    "[{upsample: {scale: 999999999999}, repeat: 400}]",
    "[{maxpool: {k: 1, stride: 999999999999}, repeat: 400}]",
])
def test_numbers_that_layers_multiply_past_the_limit_are_refused(layers: str) -> None:
    loaded = load_text(f"input: 1000000000000x3\nlayers: {layers}\n", "spec.yaml")
    assert loaded.model is not None
    report = analyze(loaded.model)
    assert [p.code for p in report.problems] == ["too-large"]
    assert summary(report)  # and what was computed still prints


def test_numbers_below_the_limit_stay_exact() -> None:
    near = "9" * (MAX_DIGITS - 1)
    loaded = load_text(f"input: {near}x3\nlayers: [relu]\nexpect: {{output: {near}x3}}\n",
                       "spec.yaml")
    assert loaded.model is not None
    report = analyze(loaded.model)
    assert report.problems == () and report.totals.output_shape.spatial == (int(near),)


@pytest.mark.parametrize("setting", [
    "lrn: {alpha: .inf}", "lrn: {beta: .nan}", "lrn: {k: 1e400}", "lrn: {alpha: -.inf}",
    "leaky-relu: {slope: .nan}", "leaky-relu: {slope: 1e400}", "dropout: {rate: .nan}",
    "dropout: {rate: .inf}", f"dropout: {{rate: {'9' * 400}}}",
])
def test_infinite_and_nan_settings_are_wrong_type(setting: str) -> None:
    assert [c for *_, c in codes(f"input: 8x8x3\nlayers: [{{{setting}}}]\n")] == ["wrong-type"]


def test_quantities_are_parsed_exactly() -> None:
    digits = "12345678901234567890123456789012345678901"
    assert parse_quantity(f"{digits}M") == int(digits) * 10**6
    assert parse_quantity(f"{digits}.5k") == int(digits) * 1000 + 500
    assert parse_quantity("0.000001G") == 1_000
    assert parse_quantity("1.5KiB") == 1536
    with pytest.raises(ValueError, match="whole number"):
        parse_quantity(f"{digits}.0001k")
    problems = problems_of(f"input: 8x8x3\nlayers: [relu]\nexpect: {{params: {digits}M}}\n")
    assert f"{int(digits) * 10**6:,}" in problems[0].message


# --- the command line ---------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["summarize", "vgg16", "--batch", "３"], ["summarize", "vgg16", "--batch", "1_0"],
    ["summarize", "vgg16", "--depth", "١"], ["layer", "--in", "8x8x3", "-f", "١", "--k", "3"],
    ["layer", "--in", "８x8x3", "-f", "1", "--k", "3"],
    ["layer", "--in", "8x8x3", "-f", "1", "--k", "３"],
    ["layer", "--in", "8x8x3", "-f", "1", "--k", "3", "--pad", "1_0"],
    ["solve", "--in", "２２４", "--out", "112"], ["solve", "--in", "224", "--out", "112",
                                                   "--k", "3,٧"],
    ["check", "architectures", "--batch", "1_0"],
])
def test_integers_are_ascii_digits_only(cli: Cli, args: list[str]) -> None:
    run = cli(*args)
    assert run.code == 2 and "internal error" not in run.err
    assert "Invalid value" in run.err or run.err.startswith("convcalc: error:")


@pytest.mark.parametrize("args", [
    ["sizes", "vgg16", "--range", f"1:{2**63}"],
    ["sizes", "vgg16", "--range", f"{2**63}:{2**64}"],
    ["sweep", "vgg16", "--sizes", f"1:{2**63}"],
    ["solve", "--in", "224", "--out", "3", "--k", f"1:{2**63}"],
    ["solve", "--in", "224", "--out", "3", "--stride", f"{2**63}:{2**64}"],
])
def test_ranges_past_2_to_the_63_are_a_usage_error(cli: Cli, args: list[str]) -> None:
    run = cli(*args)
    assert run.code == 2 and run.err.startswith("convcalc: error:"), run.err


def test_a_huge_single_size_is_answered(cli: Cli) -> None:
    run = cli("sweep", "lenet5", "--sizes", f"{2**63}")
    assert run.code == 0 and "internal error" not in run.err


@pytest.mark.parametrize("command", [["summarize"], ["check"], ["export"], ["verify"],
                                     ["explain", "-", "conv1"], ["sizes"], ["sweep", "--sizes",
                                                                            "32"]])
def test_a_spec_argument_longer_than_a_file_name_can_be(cli: Cli, command: list[str]) -> None:
    name = "a" * 300 + "/" + "b" * 300
    args = [command[0], name, *command[1:]] if command[0] != "explain" else \
        ["explain", name, "conv1"]
    run = cli(*args)
    assert run.code == 2 and "internal error" not in run.err
    assert len(run.err.strip().splitlines()) == (2 if command == ["check"] else 1)


def test_one_bad_file_never_stops_check(cli: Cli, tmp_path: Path) -> None:
    bad = {"a-tag.yaml": "input: !!bool 8x8x3\nlayers: [relu]\n",
           "b-huge.yaml": f"input: {BIG}\nlayers: [relu]\n",
           "c-date.yaml": "input: 8x8x3\nname: !!timestamp 2020-01-01\nlayers: [relu]\n",
           "d-nan.yaml": "input: 8x8x3\nlayers: [{dropout: {rate: .nan}}]\n",
           "e-bad.yaml": "input: 8x8x3\nlayers: [conv3-8-zz]\n"}
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
    run = cli("check", str(tmp_path))
    assert run.code == 1 and "internal error" not in run.err
    named = [line.split(":")[0] for line in run.out.splitlines()]
    assert named == [str(tmp_path / name) for name in sorted(bad)]


def test_a_bug_on_one_file_is_that_files_problem(cli: Cli, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(model: Any, *args: Any) -> Any:
        if model.name == "first":
            raise ZeroDivisionError
        return Analysis(model, *args)

    monkeypatch.setattr("convcalc.check.Analysis", broken)
    (tmp_path / "a.yaml").write_text("name: first\ninput: 8x8x3\nlayers: [relu]\n")
    (tmp_path / "b.yaml").write_text("input: 8x8x3\nlayers: [{conv: {k: 3}}]\n")
    run = cli("check", str(tmp_path))
    assert run.code == 1
    assert f"{tmp_path / 'a.yaml'}:1:1: error [internal-error]" in run.out
    assert f"{tmp_path / 'b.yaml'}:2:11: error [missing-key]" in run.out


# --- terminal escapes ---------------------------------------------------------------------------

FORGED = "a\x1b[31m\nfake.yaml:1:1: error [x] forged"
EVIL_SPEC = (
    'name: "net\\e]0;pwned\\a\\u202e"\n'
    'source: "\\e[2J\\rcleared"\n'
    "input: 9x9x3\n"
    "blocks:\n"
    '  "blk\\e[5m\\u2028":\n'
    "    - conv3-4-s2\n"
    "layers:\n"
    f"  - conv: {{k: 2, filters: 4, stride: 2, name: {FORGED!r}}}\n".replace("'", '"')
    .replace("\\x1b", "\\e") +
    '  - "blk\\e[5m\\u2028"\n'
)


def _is_safe(text: str) -> bool:
    """No control or invisible formatting character but the newline, no forged line."""
    lines = text.splitlines()
    return all(c == "\n" or c.isprintable() for c in text) and \
        not any(line.lstrip().startswith("fake.yaml") for line in lines)


@pytest.fixture
def evil(tmp_path: Path) -> Path:
    folder = tmp_path / "in\x1b[31mred\x07"
    folder.mkdir()
    path = folder / "evil\r\n.yaml"
    path.write_text(EVIL_SPEC)
    (folder / "b.yaml").write_text("input: 8x8x3\nlayers: [conv3-8, fc-10]\n")
    return path


def test_the_evil_spec_holds_what_it_should(evil: Path) -> None:
    from convcalc.language import load_file

    loaded = load_file(evil)
    assert loaded.model is not None, loaded.problems
    report = analyze(loaded.model)
    names = [row.name for row in report.rows]
    assert FORGED in names and "\x07" in report.name and "\r" in report.source
    assert any(FORGED in p.message or "forged" in p.message for p in report.problems)


@pytest.mark.parametrize("args", [
    ["summarize", "{spec}"], ["summarize", "{spec}", "--format", "csv"],
    ["summarize", "{spec}", "--format", "markdown"], ["summarize", "{spec}", "--rf"],
    ["summarize", "{spec}", "--depth", "0"], ["compare", "{spec}", "{spec}"],
    ["compare", "{spec}", "{other}"], ["check", "{folder}"],
    ["check", "{folder}", "--format", "github"], ["check", "{spec}", "{folder}/*.yaml"],
    ["check", "{folder}/nothing-here"], ["explain", "{spec}", FORGED],
    ["explain", "{spec}", "nothing"], ["sizes", "{spec}", "--range", "8:40"],
    ["sweep", "{spec}", "--sizes", "9,17"], ["export", "{spec}"],
    ["summarize", "{spec}", "--input", "\x1b[31m"], ["summarize", "\x1b[31m\n"],
])
def test_spec_text_never_reaches_the_terminal_raw(cli: Cli, evil: Path, args: list[str]) -> None:
    spots = {"spec": str(evil), "folder": str(evil.parent), "other": str(evil.parent / "b.yaml")}
    run = cli(*(arg.format(**spots) for arg in args))
    assert run.code in (0, 1, 2) and "internal error" not in run.err
    assert _is_safe(run.out) and _is_safe(run.err), (run.out, run.err)


@pytest.mark.parametrize("args", [["summarize", "{spec}", "--format", "json"],
                                  ["check", "{folder}", "--format", "json"]])
def test_json_carries_spec_text_exactly(cli: Cli, evil: Path, args: list[str]) -> None:
    import json

    run = cli(*(arg.format(spec=evil, folder=evil.parent) for arg in args))
    document = json.loads(run.out)
    if args[0] == "summarize":
        assert FORGED in [layer["name"] for layer in document["layers"]]
        assert document["path"] == str(evil) and "\x07" in document["name"]
        assert {layer["file"] for layer in document["layers"]} == {str(evil)}
    else:
        assert str(evil) in [problem["path"] for problem in document]


# --- shorthand, suggestions and aliases ---------------------------------------------------------

def _layer_of(text: str) -> object:
    loaded = load_text(f"input: 12x12x4\nlayers: [{text}]\n", "spec.yaml")
    assert loaded.model is not None, loaded.problems
    node = loaded.model.layers[0]
    return getattr(node, "layer", None)


@pytest.mark.parametrize(("short", "long"), [
    ("adaptive-avgpool1", "{adaptive-avgpool: {out: 1}}"),
    ("adaptive-maxpool3x2", "{adaptive-maxpool: {out: 3x2}}"),
    ("adaptive-avgpool-3x2", "{adaptive-avgpool: {out: 3x2}}"),
    ("adaptive-maxpool-7", "{adaptive-maxpool: {out: 7}}"),
    ("channel-shuffle2", "{channel-shuffle: {groups: 2}}"),
    ("max-pool3", "{maxpool: {k: 3}}"), ("avg-pool2", "{avgpool: {k: 2}}"),
    ("max-pool3-s2-ceil", "{maxpool: {k: 3, stride: 2, ceil: true}}"),
    ("global-avgpool", "{global-avgpool: {}}"), ("leaky-relu", "{leaky-relu: {}}"),
    ("conv-transpose4-8-s2-p1", "{conv-transpose: {k: 4, filters: 8, stride: 2, pad: 1}}"),
    ("transposed-conv3-8", "{conv-transpose: {k: 3, filters: 8}}"),
    ("relu6", "{relu6: {}}"), ("conv1x3-8-p0x1", "{conv: {k: 1x3, filters: 8, pad: 0x1}}"),
])
def test_hyphenated_kinds_have_a_shorthand(short: str, long: str) -> None:
    assert _layer_of(short) == _layer_of(long)


@pytest.mark.parametrize(("text", "code", "says"), [
    ("conv3-64-p1-p2", "duplicate-key", "pad is given twice"),
    ("conv3-64-s1-s2", "duplicate-key", "stride is given twice"),
    ("conv3-64-same-p1", "duplicate-key", "pad is given twice"),
    ("maxpool3-ceil-ceil", "duplicate-key", "ceil is given twice"),
    ("conv3-64-s2-zz", "unknown-layer", "no option -zz"),
    ("relu3", "unknown-layer", "relu takes no number"),
])
def test_a_shorthand_of_a_known_kind_says_what_is_wrong(text: str, code: str, says: str) -> None:
    problems = problems_of(f"input: 8x8x3\nlayers: [{text}]\n")
    assert [(p.line, p.col, p.code) for p in problems] == [(2, 10, code)]
    assert says in problems[0].message and "did you mean" not in problems[0].message


@pytest.mark.parametrize(("text", "hint"), [
    ("cnov3-64", "conv3-64"), ("adaptve-avgpool1", "adaptive-avgpool1"), ("maxpol", "maxpool"),
    ("conv-transpos4-8", "conv-transpose4-8"), ("dropuot", "dropout"),
    ("groupnorm", None), ("rmsnorm", None), ("conv3-64-s2-zz", None), ("lstm", None),
])
def test_suggestions_are_real_and_different_names(text: str, hint: str | None) -> None:
    problems = problems_of(f"input: 8x8x3\nlayers: [{text}]\n")
    message = problems[0].message
    if hint is None:
        assert "did you mean" not in message
    else:
        assert message.endswith(f"(did you mean {hint!r}?)")
        assert not problems_of(f"input: 8x8x3\nlayers: [{hint}]\n") or \
            problems_of(f"input: 8x8x3\nlayers: [{hint}]\n")[0].code != "unknown-layer"


@pytest.mark.parametrize(("alias", "kind"), [
    ("hardswish", "hard-swish"), ("hardsigmoid", "hard-sigmoid"), ("hard_swish", "hard-swish"),
    ("batch_norm", "bn"), ("batchnormalization", "bn"), ("leaky_relu", "leaky-relu"),
    ("max_pool", "maxpool"), ("maxpooling", "maxpool"), ("averagepooling", "avgpool"),
    ("globalaveragepooling", "global-avgpool"), ("global_average_pooling", "global-avgpool"),
    ("globalmaxpooling", "global-maxpool"), ("adaptiveavgpool", "adaptive-avgpool"),
    ("adaptive_max_pool", "adaptive-maxpool"), ("convtranspose", "conv-transpose"),
    ("conv_transpose", "conv-transpose"), ("depthwiseconv", "depthwise"),
    ("separableconv", "separable"), ("localresponsenorm", "lrn"), ("upsampling", "upsample"),
    ("channelshuffle", "channel-shuffle"), ("zeropadding", "zeropad"),
    ("fully_connected", "fc"),
])
def test_torch_and_keras_spellings_are_aliases(alias: str, kind: str) -> None:
    from convcalc.layers import KINDS, lookup

    assert lookup(alias) is KINDS[kind]


def test_activation_spellings_are_aliases_too() -> None:
    for act in ("hardswish", "hard_swish", "hardsigmoid", "leaky_relu", "hswish"):
        assert codes(f"input: 8x8x3\nlayers: [{{conv: {{k: 3, filters: 2, act: {act}}}}}]\n") \
            == []


# --- include confinement and bounded reading ----------------------------------------------------

LIBRARY = "blocks:\n  twice: [relu, relu]\n"


def _include_problems(spec: Path, include: str) -> list[tuple[int, str, str]]:
    from convcalc.language import load_file

    spec.write_text(f"include: [{include}]\ninput: 8x8x3\nlayers: [twice]\n")
    return [(p.line, p.code, p.message) for p in load_file(spec).problems]


def test_includes_reach_the_spec_folder_tree_and_the_bundled_libraries(tmp_path: Path) -> None:
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "twice.yaml").write_text(LIBRARY)
    assert _include_problems(tmp_path / "net.yaml", "libs/twice.yaml") == []
    (tmp_path / "uses-bundled.yaml").write_text(
        "include: [resnet-blocks.yaml]\ninput: 56x56x64\nlayers: [{basic: {out: 64}}]\n")
    from convcalc.language import load_file

    assert load_file(tmp_path / "uses-bundled.yaml").ok


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside.yaml", "{outside}",
                                  "link.yaml", "/proc/self/environ", "linked/outside.yaml"])
def test_includes_are_confined(tmp_path: Path, name: str) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(LIBRARY)
    inside = tmp_path / "spec"
    inside.mkdir()
    (inside / "link.yaml").symlink_to(outside)
    (inside / "linked").symlink_to(tmp_path)
    found = _include_problems(inside / "net.yaml", name.format(outside=outside))
    assert found[0][:2] == (1, "bad-include") and "outside the spec's folder" in found[0][2]


def test_a_spec_that_includes_itself_says_so(tmp_path: Path) -> None:
    found = _include_problems(tmp_path / "net.yaml", "net.yaml")
    assert found[0][:2] == (1, "bad-include") and "is this spec itself" in found[0][2]
    (tmp_path / "a.yaml").write_text("include: [b.yaml]\n" + LIBRARY)
    (tmp_path / "b.yaml").write_text("include: [a.yaml]\nblocks:\n  once: [relu]\n")
    assert _include_problems(tmp_path / "net.yaml", "a.yaml") == []  # a cycle is harmless


def test_what_is_read_is_bounded_whatever_size_a_file_reports() -> None:
    from convcalc.language import MAX_BYTES, load_file, read_spec

    zero = Path("/dev/zero")  # reports no size at all, like a /proc file's 0 bytes
    assert zero.stat().st_size == 0
    with pytest.raises(ValueError, match=f"more than {MAX_BYTES:,} bytes"):
        read_spec(zero)
    assert [(p.code, p.line) for p in load_file(zero).problems] == [("too-large", 1)]


def test_checking_a_folder_does_not_follow_links_out_of_it(cli: Cli, tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("input: 8x8x3\nlayers: [nonsense]\n")
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "good.yaml").write_text("input: 8x8x3\nlayers: [relu]\n")
    (folder / "leak.yaml").symlink_to(secret)
    (folder / "alias.yaml").symlink_to(folder / "good.yaml")
    run = cli("check", str(folder))
    assert run.code == 0 and "nonsense" not in run.out
    assert f"{folder / 'leak.yaml'}:1:1: warning [outside-folder]" in run.out
    assert "checked 2 file(s)" in run.err


# --- friction met writing specs from the README -------------------------------------------------

def test_explain_names_the_file_that_defines_the_layer(cli: Cli) -> None:
    library = Path(__file__).parents[1] / "architectures" / "resnet-blocks.yaml"
    line = 1 + next(n for n, text in enumerate(library.read_text().splitlines())
                    if "conv7-64-s2-p3" in text)
    run = cli("explain", "resnet50", "stem1.conv1")
    first = run.out.splitlines()[0]
    assert first.startswith("stem1.conv1 (") and f"resnet-blocks.yaml:{line}:" in first


def test_json_and_csv_rows_name_their_file(cli: Cli) -> None:
    import csv
    import io
    import json

    rows = json.loads(cli("summarize", "resnet50", "--format", "json").out)["layers"]
    files = {row["name"]: Path(row["file"]).name for row in rows}
    assert files["input"] == "resnet50.yaml" and files["stem1"] == "resnet50.yaml"
    assert files["stem1.conv1"] == "resnet-blocks.yaml"
    table = list(csv.DictReader(io.StringIO(cli("summarize", "resnet50", "--format",
                                                "csv").out)))
    assert {row["name"]: Path(row["file"]).name for row in table} == files
    assert all(row["line"] and row["col"] for row in table)


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown"])
def test_summarize_prints_problems_on_stderr_in_every_format(cli: Cli, tmp_path: Path,
                                                             fmt: str) -> None:
    spec = tmp_path / "lossy.yaml"
    spec.write_text("input: 224x224x3\nlayers: [conv11-96-s4]\n")
    run = cli("summarize", str(spec), "--format", fmt)
    assert run.code == 1
    assert run.err.startswith(f"{spec}:2:10: error [non-integer-size] conv1:")


def test_defaults_of_conv_say_which_convolutions_they_do_not_reach() -> None:
    text = ("input: 32x32x8\ndefaults:\n  conv: {bias: false, filters: 8}\n  separable: {}\n"
            "layers: [conv3, dwconv3, dwconv3, {depthwise: {k: 3, bias: false}}, sepconv3-8]\n")
    loaded = load_text(text, "spec.yaml")
    assert loaded.model is not None
    warnings = {(p.line, p.col, p.level, p.code, p.message) for p in loaded.problems}
    assert warnings == {
        (3, 3, "warning", "defaults-not-applied", "the defaults of conv (bias) do not reach the "
         "2 depthwise layer(s), which keep their own; give depthwise defaults of its own"),
        (3, 3, "warning", "defaults-not-applied", "the defaults of conv (bias) do not reach the "
         "1 separable layer(s), which keep their own; give separable defaults of its own")}
    biases = [node.layer.bias for node in loaded.model.layers  # type: ignore[attr-defined]
              if isinstance(node, LayerNode)]
    assert biases == [False, True, True, False, True]  # each kind its own defaults


@pytest.mark.parametrize("command", [["summarize", "-"], ["check", "-"], ["export", "-"],
                                     ["summarize", "-", "--format", "json"]])
def test_a_spec_can_come_from_standard_input(command: list[str]) -> None:
    import subprocess
    import sys

    spec = (Path(__file__).parents[1] / "architectures" / "resnet18.yaml").read_text()
    run = subprocess.run([sys.executable, "-m", "convcalc", *command], input=spec,
                         capture_output=True, text=True, check=False, cwd=Path(__file__).parent)
    assert run.returncode == 0, run.stderr
    if command[0] == "summarize":
        assert "11,689,512" in run.stdout if "json" not in command else \
            '"params": 11689512' in run.stdout
    elif command[0] == "export":
        assert "from <stdin>" in run.stdout and "class Net(nn.Module)" in run.stdout
    bad = subprocess.run([sys.executable, "-m", "convcalc", *command], input="input: [\n",
                         capture_output=True, text=True, check=False)
    assert bad.returncode in (1, 2) and "<stdin>:" in bad.stdout + bad.stderr


def test_sweep_says_why_conv_macs_outgrow_the_area(cli: Cli) -> None:
    run = cli("sweep", "resnet50", "--sizes", "224,240")
    line = next(line for line in run.out.splitlines() if "conv MACs ×" in line)
    assert "not the input's ×1.15" in line and "strided layers round sizes" in line
    assert "7x7x2048 → 8x8x2048" in line
    exact = cli("sweep", "vgg16", "--sizes", "224,448").out
    assert "conv MACs ×4.00 — convolutions grow with the area" in exact


def test_check_counts_each_level_by_its_name(cli: Cli) -> None:
    run = cli("check", "architectures/squeezenet1_1.yaml")
    assert run.err.strip().endswith("checked 1 file(s): 0 error(s), 0 warning(s), 1 info")
    assert "info [waived-size]" in run.out


# --- acceptance: time, memory and control characters, end to end -------------------------------

HOSTILE = Path(__file__).parent / "hostile"
HEAVY = sorted(path for path in HOSTILE.glob("*.yaml") if path.name.startswith(
    ("alias-bomb", "block-chain", "deep-", "huge-", "include-", "repeat-", "tag-", "terminal-")))
RUNNER = """
import json, resource, subprocess, sys


def cpu():  # seconds of CPU the finished children used: what load on the machine leaves be
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


worst, unsafe = 0.0, []
for command in [["summarize", p] for p in sys.argv[1:]] + [["check", *sys.argv[1:]]]:
    start = cpu()
    run = subprocess.run([sys.executable, "-m", "convcalc", *command], capture_output=True,
                         text=True, errors="replace")
    worst = max(worst, cpu() - start)
    if not all(c == "\\n" or c.isprintable() for c in run.stdout + run.stderr) or \\
            run.returncode not in (0, 1, 2) or "internal error" in run.stderr:
        unsafe.append(command[:2])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
print(json.dumps({"seconds": worst, "mib": peak / 1024, "unsafe": unsafe}))
"""


def test_hostile_files_cost_under_2_cpu_seconds_and_300_mib_each() -> None:
    import json
    import subprocess
    import sys

    assert len(HEAVY) >= 40
    run = subprocess.run([sys.executable, "-c", RUNNER, *map(str, HEAVY)], capture_output=True,
                         text=True, check=True)
    measured = json.loads(run.stdout)
    assert measured["unsafe"] == []
    assert measured["seconds"] < 2.0 and measured["mib"] < 300, measured
