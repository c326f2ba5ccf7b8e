"""Receptive fields, memory models and counting conventions (issue: honest assumptions)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import convcalc
from convcalc.counting import PRESETS, count, custom
from convcalc.memory import inference_peak, memory, training
from tests.conftest import summary_json

Cli = Any

# Araujo, Norris & Sim (Distill 2019), VGG-16: receptive field, effective stride and padding
# after every layer through pool5.
VGG16_FIELDS = [(3, 1, 1), (5, 1, 2), (6, 2, 2), (10, 2, 4), (14, 2, 6), (16, 4, 6),
                (24, 4, 10), (32, 4, 14), (40, 4, 18), (44, 8, 18), (60, 8, 26), (76, 8, 34),
                (92, 8, 42), (100, 16, 42), (132, 16, 58), (164, 16, 74), (196, 16, 90),
                (212, 32, 90)]


summary = summary_json


def test_vgg16_receptive_fields_match_the_published_table(cli: Cli) -> None:
    doc = summary(cli, "vgg16")
    spatial = [row for row in doc["layers"][1:] if row["receptive_field"]][:18]
    fields = [(f["size"], f["stride"], f["pad"]) for f in
              (row["receptive_field"][0] for row in spatial)]
    assert fields == VGG16_FIELDS
    same = [{k: v for k, v in f.items() if k != "axis"} for row in spatial
            for f in row["receptive_field"]]
    assert same[0::2] == same[1::2]  # H and W alike
    assert not any(row["covers_input"] for row in spatial)  # 212 < 224
    assert doc["layers"][-1]["covers_input"]  # after the dense layers: the whole image


def test_rf_columns_in_the_table(cli: Cli) -> None:
    run = cli("summarize", "vgg16", "--rf")
    pool5 = next(line for line in run.out.splitlines() if line.startswith("maxpool5"))
    assert pool5.split()[-3:] == ["212", "32", "90"]


def test_misaligned_branches_are_reported_at_the_merge(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "misaligned.yaml"
    spec.write_text("input: 8x8x4\nlayers:\n  - add:\n      - [conv1-4-s2]\n"
                    "      - [conv5-4]\n")  # both 4x4x4: effective strides 2 and 1
    run = cli("summarize", str(spec))
    assert run.code == 0  # a warning, not an error
    assert f"{spec}:3:5: warning [misaligned-merge] add1:" in run.err
    assert "stride 2" in run.err and "stride 1" in run.err


def test_vgg16_forward_activations_and_a_smaller_inference_peak(cli: Cli) -> None:
    run = cli("summarize", "vgg16")
    assert "forward activations  60.95 MB (58.13 MiB)" in run.out
    assert "the input and every output a framework keeps" in run.out
    assert "freed after its last reader" in run.out
    doc = summary(cli, "vgg16")
    assert doc["memory"]["forward_bytes"] == 15_237_608 * 4
    peak = doc["memory"]["inference_peak_activations"]
    assert peak == 224 * 224 * 64 * 2  # conv1_2 reads conv1_1's output while writing its own
    assert peak < doc["totals"]["activations"]


RESIDUAL = """\
input: 8x8x16
layers:
  - add:
      - [conv1-16, conv1-16]
      - []
"""


def test_inference_peak_keeps_the_shortcut_alive() -> None:
    model = convcalc.load_text(RESIDUAL)
    report = convcalc.analyze(model)
    x = branch = 8 * 8 * 16
    # the second conv runs while the input (kept for the shortcut), the first conv's output
    # and its own output are alive; then the add writes its output beside the branch and x
    assert inference_peak(model, report) == x + branch + branch
    assert inference_peak(model, report) > 2 * x  # more than a plain chain would need


def test_adam_training_memory_is_activations_plus_four_parameter_copies(cli: Cli) -> None:
    model = convcalc.load("vgg16")
    report = convcalc.analyze(model)
    plan = training(report, "adam")
    assert plan.total == 15_237_608 * 4 + 4 * 138_357_544 * 4
    assert (plan.parameters, plan.gradients, plan.optimizer_state) == (
        138_357_544 * 4, 138_357_544 * 4, 2 * 138_357_544 * 4)
    run = cli("summarize", "vgg16", "--optimizer", "adam")
    assert "with adam, float32: activations 60.95 MB + parameters 553.43 MB + gradients " \
           "553.43 MB + optimizer state 1.11 GB" in run.out
    assert training(report, "sgd").total == 15_237_608 * 4 + 2 * 138_357_544 * 4
    assert training(report, "momentum").total == 15_237_608 * 4 + 3 * 138_357_544 * 4


def test_mixed_precision() -> None:
    model = convcalc.load("resnet50")
    report = convcalc.analyze(model, dtype="float16")
    plan = training(report, "adam", mixed=True)
    params, buffers = 25_557_032, 53_120
    assert plan.activations == report.totals.activations * 2
    assert plan.parameters == params * (4 + 2)  # fp32 master + fp16 copy
    assert plan.gradients == params * 4 and plan.optimizer_state == 2 * params * 4
    assert plan.buffers == buffers * 4


def test_fit_answers_the_largest_batch(cli: Cli) -> None:
    model = convcalc.load("resnet50")
    report = convcalc.analyze(model)
    budget = 16 * 2**30
    fitted = memory(model, report, "adam", fit_budget=budget).fit
    assert fitted is not None and fitted.batch > 1
    assert fitted.memory <= budget < fitted.next_memory
    assert fitted.memory == training(report, "adam", batch=fitted.batch).total
    run = cli("summarize", "resnet50", "--optimizer", "adam", "--fit", "16GiB")
    assert f"batch {fitted.batch:,} needs" in run.out and "would need" in run.out
    doc = summary(cli, "resnet50", "--fit", "1GiB")  # inference without an optimizer
    assert doc["memory"]["fit"]["bytes"] <= 2**30 < doc["memory"]["fit"]["next_batch_bytes"]


def test_presets_reproduce_the_counters_published_totals(cli: Cli) -> None:
    vgg = convcalc.analyze(convcalc.load("vgg16"))
    resnet = convcalc.analyze(convcalc.load("resnet50"))
    rounded = {name: (round(count(vgg, PRESETS[name]).total / 1e9, 2),
                      round(count(resnet, PRESETS[name]).total / 1e9, 2))
               for name in ("macs", "ptflops", "fvcore", "torchinfo")}
    assert rounded == {"macs": (15.47, 4.09), "ptflops": (15.52, 4.13),
                       "fvcore": (15.47, 4.11), "torchinfo": (15.48, 4.09)}
    run = cli("summarize", "resnet50", "--preset", "ptflops")
    assert run.out.splitlines()[0].endswith("counting: ptflops")
    assert "4,132,436,968" in run.out
    assert summary(cli, "vgg16", "--preset", "ptflops")["counting"]["ops"] == 15_523_176_400


def test_custom_switches() -> None:
    model = convcalc.load_text(RESIDUAL)
    report = convcalc.analyze(model)
    macs = 2 * 8 * 8 * 16 * 16
    assert count(report, custom(["bias"])).total == macs + 2 * 8 * 8 * 16
    assert count(report, custom(["add"])).total == macs + 8 * 8 * 16  # one add per element


def test_bad_counting_options(cli: Cli) -> None:
    assert cli("summarize", "vgg16", "--preset", "thop").code == 2
    assert cli("summarize", "vgg16", "--count", "bias,colour").code == 2
    assert cli("summarize", "vgg16", "--mixed", "--optimizer", "adam").code == 2


def test_a_fused_swish_is_silu_and_counted_as_one() -> None:
    def ops(act: str, preset: str) -> int:
        model = convcalc.load_text(f"input: 8x8x3\nlayers: [conv3-4: {{act: {act}}}]\n")
        convention = custom(["act"]) if preset == "act" else PRESETS[preset]
        return count(convcalc.analyze(model), convention).total

    macs = 6 * 6 * 4 * 27
    assert ops("swish", "act") == ops("silu", "act") == macs + 6 * 6 * 4
    assert ops("swish", "ptflops") == ops("silu", "ptflops") == macs + 2 * 6 * 6 * 4
