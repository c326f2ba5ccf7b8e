"""Attention's score tensors in the memory models: inference holds the running layer's,
training keeps every layer's, --fused-attention holds none, and --fit follows."""

from __future__ import annotations

from typing import Any

from convcalc.analysis import analyze
from convcalc.language import load_file, resolve
from convcalc.memory import fit, inference, inference_peak, liveness, memory, training
from convcalc.model import Model
from convcalc.report import Report, Settings
from tests.conftest import summary_json

Cli = Any
LAYER_SCORES = 12 * 197 * 197  # ViT-B/16: 12 heads, 197 tokens
SCORES = 12 * LAYER_SCORES  # 12 layers


def vit(settings: Settings | None = None) -> tuple[Model, Report]:
    path = resolve("vit-b-16")
    assert path is not None
    model = load_file(path).model
    assert model is not None
    return model, analyze(model, settings)


def test_vit_b_16_scores_are_12_layers_of_12_heads_of_197_squared(cli: Cli) -> None:
    model, report = vit()
    assert report.totals.scores == SCORES
    assert memory(model, report).attention_scores == SCORES * 4  # float32, batch 1
    text = cli("summarize", "vit-b-16").out
    line = next(line for line in text.splitlines() if line.startswith("attention scores"))
    assert "22.35 MB (21.32 MiB): 5,588,496 elements per example" in line
    fused = cli("summarize", "vit-b-16", "--fused-attention").out
    line = next(line for line in fused.splitlines() if line.startswith("attention scores"))
    assert "none held" in line and "MB" not in line
    document = summary_json(cli, "vit-b-16", "--batch", "2", "--dtype", "float16")
    assert document["memory"]["attention_score_bytes"] == SCORES * 2 * 2
    fused_memory = summary_json(cli, "vit-b-16", "--fused-attention")["memory"]
    assert fused_memory["attention_score_bytes"] == 0 and fused_memory["fused_attention"]


def test_a_cnn_has_no_scores_line(cli: Cli) -> None:
    assert "attention scores" not in cli("summarize", "resnet18").out


def test_inference_holds_the_running_layers_scores() -> None:
    model, report = vit()
    tokens = 197 * 768
    # in an encoder block: the block's input, the layer norm's output (the attention's input)
    # and the attention's output, with its scores
    assert inference_peak(model, report) == 3 * tokens + LAYER_SCORES
    rows = [index for index, row in enumerate(report.rows) if row.kind == "attention"]
    steps = {step.row: step.alive for step in liveness(model, report)}
    fused = {step.row: step.alive for step in liveness(model, report, fused=True)}
    assert all(steps[row] - fused[row] == LAYER_SCORES for row in rows)
    assert inference_peak(model, report, fused=True) < inference_peak(model, report)


def test_training_keeps_every_layers_scores() -> None:
    _, report = vit(Settings(batch=4))
    plan = training(report, "adam")
    assert plan.attention_scores == SCORES * 4 * 4
    assert plan.total - training(report, "adam", fused=True).total == SCORES * 4 * 4


def test_fit_counts_the_scores_or_not() -> None:
    model, report = vit()
    budget = 16 * 2**30
    plain = memory(model, report, "sgd", fit_budget=budget).fit
    fused = memory(model, report, "sgd", fit_budget=budget, fused=True).fit
    assert plain is not None and fused is not None
    assert plain.batch < fused.batch
    per_example = training(report, "sgd", batch=1).total - training(report, "sgd", batch=0).total
    assert plain == fit(budget, lambda b: training(report, "sgd", batch=b).total)
    assert per_example == (report.totals.activations + SCORES) * 4
    peak = inference_peak(model, report)
    inferred = memory(model, report, fit_budget=budget).fit
    assert inferred == fit(budget, lambda b: inference(report, peak, b))
