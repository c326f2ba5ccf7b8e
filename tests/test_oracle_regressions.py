"""Disagreements with torch that the network oracle (tests/test_network_oracle.py) found,
each as the minimal network it shrank to, with what torch does."""

from __future__ import annotations

from convcalc import analyze
from convcalc.language import load_text
from convcalc.problem import ERROR
from tests.oracles import need

torch = need("torch")


def errors(text: str) -> list[str]:
    loaded = load_text(text, "spec.yaml")
    problems = loaded.problems if loaded.model is None else \
        analyze(loaded.model).problems
    return [p.code for p in problems if p.level == ERROR]


def test_a_block_that_is_one_split_keeps_its_parts() -> None:
    """`parts` beside a block's `split`, as beside a split item (was: unknown-key)."""
    loaded = load_text("input: 8x8x6\nblocks:\n  half:\n    split: [[], [conv1-4]]\n"
                       "    parts: [2, 4]\nlayers: [half]\n", "spec.yaml")
    assert loaded.model is not None, loaded.problems
    report = analyze(loaded.model)
    conv = next(r for r in report.rows if r.kind == "conv")
    chunks = torch.split(torch.zeros(1, 6, 8, 8), [2, 4], 1)
    branch = torch.nn.Conv2d(chunks[1].shape[1], 4, 1)
    assert conv.params == sum(p.numel() for p in branch.parameters())  # 4 channels in
    assert report.totals.output_shape.channels == torch.cat([chunks[0], branch(chunks[1])],
                                                       1).shape[1]


def test_parts_stay_with_split_in_a_block() -> None:
    assert errors("input: 8x8x6\nblocks:\n  both:\n    add: [[], []]\n    parts: [3, 3]\n"
                  "layers: [both]\n") == ["unknown-key"]


def test_lrn_and_channel_shuffle_need_spatial_axes() -> None:
    """torch refuses both on a flat vector (LocalResponseNorm: 3-D or more; ChannelShuffle:
    more than 2 dims); convcalc took them."""
    flat = torch.zeros(1, 8)
    for module in (torch.nn.LocalResponseNorm(3), torch.nn.ChannelShuffle(2)):
        try:
            module(flat)
        except (RuntimeError, ValueError):
            pass
        else:
            raise AssertionError(f"torch took {module} on a vector")
    for layer in ("lrn", "{channel-shuffle: {groups: 2}}"):
        assert errors(f"input: 2x2x2\nlayers: [flatten, {layer}]\n") == ["wrong-rank"]
        assert errors(f"input: 2x2x2\nlayers: [{layer}]\n") == []
