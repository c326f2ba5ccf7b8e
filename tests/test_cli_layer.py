"""`convcalc layer` against every row of REFERENCE.md sections 1 and 8."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

Cli = Any


def layer_json(cli: Cli, *args: str) -> dict[str, Any]:
    run = cli("layer", *args, "--format", "json")
    assert run.code == 0, run.err
    document: dict[str, Any] = run.json()
    return document


def test_course_example_table(cli: Cli) -> None:
    run = cli("layer", "--in", "32x32x3", "--filters", "10", "--k", "5", "--pad", "2")
    assert run.code == 0
    assert "32x32x10" in run.out
    assert "760" in run.out and "768,000" in run.out
    assert "(32 + 2·2 − 5)/1 + 1 = 32" in run.out
    assert "(5·5·3 + 1)·10 = 760" in run.out
    assert "MACs" in run.out and "FLOPs" in run.out


def test_course_example_json(cli: Cli) -> None:
    doc = layer_json(cli, "--in", "32x32x3", "--filters", "10", "--k", "5", "--pad", "2")
    assert doc["output_shape"] == [32, 32, 10]
    assert doc["params"] == (5 * 5 * 3 + 1) * 10
    assert doc["macs"] == 32 * 32 * 10 * 75
    assert doc["flops"] == 2 * doc["macs"]
    assert doc["activations"] == 32 * 32 * 10
    assert doc["activation_bytes"] == 32 * 32 * 10 * 4
    assert doc["size_status"] == "exact"
    assert {f["label"] for f in doc["formulas"]} >= {"output H, W", "params", "MACs"}
    assert doc["schema_version"] == 1


@pytest.mark.parametrize(("args", "shape", "params"), [
    (["--in", "32x32x3", "-f", "5", "--k", "5"], [28, 28, 5], (5 * 5 * 3 + 1) * 5),
    (["--in", "32x32x3", "-f", "5", "--k", "5", "-s", "3"], [10, 10, 5], 380),
    (["--in", "56x56x64", "-f", "32", "--k", "1"], [56, 56, 32], (64 + 1) * 32),
    (["--in", "28x28x3", "-f", "8", "--k", "3", "-p", "same"], [28, 28, 8], (27 + 1) * 8),
    (["--in", "28x28x3", "-f", "8", "--k", "3", "-p", "valid"], [26, 26, 8], 224),
    (["--in", "28x28x3", "-f", "8", "--k", "3", "-p", "valid", "-s", "2"], [13, 13, 8], 224),
    (["--in", "7x7x1", "-f", "1", "--k", "3", "-p", "1"], [7, 7, 1], 10),
    (["--kind", "maxpool", "--in", "4x4x1", "--k", "2", "-s", "2"], [2, 2, 1], 0),
])
def test_course_rows(cli: Cli, args: list[str], shape: list[int], params: int) -> None:
    doc = layer_json(cli, *args)
    assert (doc["output_shape"], doc["params"]) == (shape, params)


@pytest.mark.parametrize(("stride", "exact", "output", "status"), [
    ("1", 5, 5, "exact"), ("2", 3, 3, "exact"), ("3", "7/3", 2, "lossy"),
])
def test_seven_by_seven(cli: Cli, stride: str, exact: Any, output: int, status: str) -> None:
    doc = layer_json(cli, "--in", "7x7x1", "-f", "1", "--k", "3", "-s", stride)
    assert doc["output_shape"][:2] == [output, output]
    assert doc["size_status"] == status
    if status != "exact":
        assert doc["sizes"][0]["exact"] == exact


def test_non_integer_size_is_flagged_with_fixes(cli: Cli) -> None:
    run = cli("layer", "--in", "32x32x3", "--filters", "5", "--k", "5", "--stride", "2")
    assert run.code == 0
    assert "14.5" in run.out and "lossy" in run.out and "floored to 14" in run.out
    doc = layer_json(cli, "--in", "32x32x3", "--filters", "5", "--k", "5", "--stride", "2")
    size = doc["sizes"][0]
    assert (size["exact"], size["exact_decimal"], size["output"]) == ("29/2", "14.5", 14)
    assert size["status"] == "lossy"
    assert {"param": "stride", "value": "3", "output": 10} in size["fixes"]


def test_resnet_stem_is_harmless(cli: Cli) -> None:
    run = cli("layer", "--in", "224x224x3", "--filters", "64", "--k", "7", "--stride", "2",
              "--pad", "3")
    assert "112.5" in run.out and "harmless" in run.out and "112x112x64" in run.out


def test_sizes_are_per_axis_where_axes_differ(cli: Cli) -> None:
    doc = layer_json(cli, "--in", "32x31x1", "-f", "1", "--k", "5", "-s", "2")
    assert [s["status"] for s in doc["sizes"]] == ["lossy", "exact"]
    assert doc["size_status"] == "lossy"


# REFERENCE.md section 8: shape rules that tools get wrong.
def test_ceil_mode_pooling_drops_the_window_in_the_padding(cli: Cli) -> None:
    doc = layer_json(cli, "--kind", "maxpool", "--in", "5x5x1", "--k", "2", "--stride", "2",
                     "--pad", "1", "--ceil")
    assert doc["output_shape"] == [3, 3, 1]


def test_tensorflow_same_pads_the_extra_pixel_after(cli: Cli) -> None:
    doc = layer_json(cli, "--in", "224x224x3", "-f", "64", "--k", "7", "-s", "2", "-p", "same")
    assert doc["output_shape"] == [112, 112, 64]
    assert doc["sizes"][0]["pad"] == [2, 3]


def test_transposed_conv_and_output_padding(cli: Cli) -> None:
    base = ["--kind", "conv-transpose", "--in", "4x4x1", "-f", "1", "--k", "3", "-s", "2",
            "-p", "1"]
    assert layer_json(cli, *base)["output_shape"] == [7, 7, 1]
    doc = layer_json(cli, *base, "--output-padding", "1", "--no-bias")
    assert doc["output_shape"] == [8, 8, 1]
    assert doc["macs"] == 16 * 9  # per input position, not 64 * 9
    assert doc["params"] == 9


def test_adaptive_pooling_and_fc(cli: Cli) -> None:
    doc = layer_json(cli, "--kind", "adaptive-avgpool", "--in", "13x13x256", "--out-size", "6")
    assert doc["output_shape"] == [6, 6, 256]
    doc = layer_json(cli, "--kind", "fc", "--in", "7x7x512", "-f", "4096")
    assert doc["params"] == 25088 * 4096 + 4096
    assert doc["output_shape"] == [4096]


def test_one_dimensional_and_three_dimensional(cli: Cli) -> None:
    assert layer_json(cli, "--in", "100x16", "-f", "8", "--k", "5")["output_shape"] == [96, 8]
    doc = layer_json(cli, "--in", "16x112x112x3", "-f", "64", "--k", "3", "-p", "1")
    assert doc["output_shape"] == [16, 112, 112, 64]


def test_fully_connected_versus_local(cli: Cli) -> None:
    # REFERENCE.md section 1: 32x32x3 to one neuron, fully connected vs a 5x5x3 filter
    assert layer_json(cli, "--kind", "fc", "--in", "32x32x3", "-f", "1",
                      "--no-bias")["params"] == 3072
    assert layer_json(cli, "--in", "5x5x3", "-f", "1", "--k", "5",
                      "--no-bias")["params"] == 75
    # 200x200 image to 40K hidden units
    assert layer_json(cli, "--kind", "fc", "--in", "200x200x1", "-f", "40000",
                      "--no-bias")["params"] == 1_600_000_000
    # 1000x1000 image, 1M hidden units with 10x10 local fields (unshared): 10^8
    doc = layer_json(cli, "--kind", "local", "--in", "1009x1009x1", "-f", "1", "--k", "10",
                     "--no-bias")
    assert doc["output_shape"] == [1000, 1000, 1] and doc["params"] == 10**8


@pytest.mark.parametrize(("args", "message"), [
    (["--in", "4x4x1", "-f", "1", "--k", "7"], "larger than the padded input"),
    (["--in", "0x4x1", "-f", "1", "--k", "1"], "--in"),
    (["--in", "8x8x6", "-f", "8", "--k", "3", "-g", "4"], "do not divide"),
    (["--in", "32by32", "-f", "1", "--k", "1"], "--in"),
    (["--in", "8x8x1", "--kind", "warp", "-f", "1"], "unknown --kind"),
    (["--in", "4x4x1", "--kind", "conv-transpose", "-f", "1", "--k", "3", "-s", "2", "-p",
      "same"], "transposed"),
    (["--in", "8x8x1", "-f", "0", "--k", "3"], "--filters"),
    (["--in", "8x8x1", "-f", "1", "--k", "-3"], "--k"),
    (["--in", "8x8x1", "--k", "3"], "needs --filters"),
    (["--in", "8x8x1", "--kind", "maxpool", "-g", "2"], "does not apply"),
    (["--in", "8x8x1", "-f", "1", "--k", "3", "-p", "sometimes"], "--pad"),
])
def test_bad_input_is_one_line_and_exit_2(cli: Cli, args: list[str], message: str) -> None:
    run = cli("layer", *args)
    assert run.code == 2
    assert message in run.err
    assert len(run.err.strip().splitlines()) == 1
    assert "Traceback" not in run.err


def test_bad_input_from_a_real_process_has_no_traceback() -> None:
    result = subprocess.run([sys.executable, "-m", "convcalc", "layer", "--in", "4x4x1", "-f",
                             "1", "--k", "7"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("convcalc: error:") and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_json_is_valid_json_from_a_real_process() -> None:
    result = subprocess.run([sys.executable, "-m", "convcalc", "layer", "--in", "32x32x3", "-f",
                             "10", "--k", "5", "-p", "2", "--format", "json", "--batch", "8",
                             "--dtype", "float16"], capture_output=True, text=True, check=True)
    doc = json.loads(result.stdout)
    assert doc["activation_bytes"] == 32 * 32 * 10 * 2 * 8
    assert doc["settings"]["batch"] == 8 and doc["settings"]["dtype"] == "float16"
