"""Importing the attention models: ViT, Swin v1 and v2, MaxViT from torch; ViT from ONNX.

One model per family by the torch route (the cheapest: vit_b_32, swin_t, swin_v2_t,
maxvit_t), and vit_b_32 exported by each of torch's exporters then read from the file. The
oracle is torch itself, computed here: the params and buffers (without
``num_batches_tracked``) of the model built on the meta device at its DEFAULT weights' crop,
and the MACs of ``torch.utils.flop_counter`` (FLOPs / 2). The spec is what the user gets:
written, read back and analysed by convcalc's own formulas. The bundled spec of each model
then verifies against the model. (``scripts/import_all.py --attention`` runs all 12.)

What is not recognised fails in one line naming the nodes, never with a wrong count:
attention with a mask, a position bias an exporter folded from Swin's table.
"""

from __future__ import annotations

import contextlib
import functools
import io
import warnings
from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.importers import Imported, ImportFailure, load
from convcalc.importers.compare import compare
from convcalc.language import load_file, load_text
from convcalc.language.writer import write_spec
from convcalc.model import LayerNode, layer_nodes
from convcalc.shape import Shape
from tests.oracles import need
from tests.torchvision_models import build, sized

torch = need("torch")
torchvision = need("torchvision")
need("onnx")
need("onnxscript")
need("onnxruntime")

from tests.onnx_graphs import Graph, run  # noqa: E402 - after the oracle check

ROOT = Path(__file__).parent.parent
SPECS = {"vit_b_32": "vit-b-32", "swin_t": "swin-t", "swin_v2_t": "swin-v2-t",
         "maxvit_t": "maxvit-t"}
Totals = tuple[int, int, int, Shape]


def crop(name: str) -> int:
    return int(torchvision.models.get_model_weights(name).DEFAULT.transforms().crop_size[0])


def oracle(model: Any, size: int) -> Totals:
    """torch's params, buffers (no step counters), MACs and output of ``model``, built on
    the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for key, b in model.named_buffers()
                  if not key.endswith("num_batches_tracked"))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = model(torch.zeros(1, 3, size, size, device="meta"))
    return params, buffers, counter.get_total_flops() // 2, Shape((), out.shape[1])


@functools.cache
def traced(name: str) -> Imported:
    return load(f"torchvision:{name}")


def written(result: Imported) -> tuple[Totals, str]:
    """The totals of the written spec, read back, and its text."""
    text = write_spec(result.model, "informative")
    loaded = load_text(text, "imported.yaml")
    assert loaded.ok and loaded.model is not None, loaded.problems
    report = analyze(loaded.model)
    assert not [p for p in report.problems if p.level == "error"], report.problems
    t = report.totals
    return (t.params, t.non_trainable_params, t.macs, t.output_shape), text


def kinds(result: Imported) -> list[str]:
    return [node.kind for node in layer_nodes(result.model.layers)]


def layers_of(result: Imported, kind: str) -> list[Any]:
    return [node.layer for node in layer_nodes(result.model.layers)
            if isinstance(node, LayerNode) and node.kind == kind]


@pytest.mark.parametrize("name", list(SPECS))
def test_traced_from_torch(name: str) -> None:
    size = crop(name)
    expected = oracle(build(name, **sized(name, size)), size)
    result = traced(name)
    totals, text = written(result)
    assert totals == expected
    assert (result.totals.params, result.totals.buffers, result.totals.macs,
            result.totals.output) == expected
    assert len(text.splitlines()) <= 110, text  # blocks where the structure repeats


def test_vit_is_tokens_class_token_positions_and_global_attention() -> None:
    result = traced("vit_b_32")
    found = kinds(result)
    assert found[:4] == ["conv", "tokens", "class-token", "position-embedding"]
    assert found[-3:] == ["layernorm", "take-token", "fc"]
    attention = layers_of(result, "attention")
    assert len(attention) == 12 and {a.heads for a in attention} == {12}
    assert found.count("token-fc") == 24


def test_swin_windows_shift_every_other_block_and_merge_patches() -> None:
    for name, position in (("swin_t", "table"), ("swin_v2_t", "mlp")):
        windows = layers_of(traced(name), "window-attention")
        assert len(windows) == 12
        assert [w.shift for w in windows[:4]] == [(0,), (windows[0].window[0] // 2,)] * 2
        assert {w.position for w in windows} == {position}
        assert {w.cosine for w in windows} == {position == "mlp"}
        assert kinds(traced(name)).count("patch-merge") == 3


def test_maxvit_attends_in_blocks_then_grids() -> None:
    result = traced("maxvit_t")
    blocks, grids = layers_of(result, "block-attention"), layers_of(result, "grid-attention")
    assert len(blocks) == len(grids) == 2 + 2 + 5 + 2
    assert {b.size for b in blocks + grids} == {7}
    assert [b.heads for b in blocks] == [g.heads for g in grids]


@pytest.mark.parametrize("name", list(SPECS))
def test_the_bundled_spec_verifies_against_the_model(name: str) -> None:
    loaded = load_file(ROOT / "architectures" / f"{SPECS[name]}.yaml")
    assert loaded.model is not None
    against = compare(analyze(loaded.model), traced(name))
    assert against.agrees, against.first
    assert len(against.pairs) > 50


def test_vit_at_another_size_is_built_for_it() -> None:
    """torchvision fixes ViT's size when it builds it: the import builds it at --input."""
    result = load("torchvision:vit_b_32", Shape((384, 384), 3))
    embedding = layers_of(result, "class-token")
    assert embedding and result.model.input == Shape((384, 384), 3)
    assert result.totals.params == oracle(build("vit_b_32", image_size=384), 384)[0]


# --- ONNX ------------------------------------------------------------------------------------


def exported(model: Any, size: int, path: Path, dynamo: bool) -> Path:
    # Non-zero biases: the dynamo exporter drops a bias that is all zeros
    for key, tensor in model.named_parameters():
        if key.endswith("bias"):
            tensor.data.uniform_(-1, 1)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, size, size),), str(path), dynamo=dynamo)
    return path


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
def test_vit_exported_to_onnx(dynamo: bool, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = torchvision.models.vit_b_32().eval()
    path = exported(model, 224, tmp_path / "vit_b_32.onnx", dynamo)
    result = load(str(path))
    # counted on the meta device: on the CPU, nn.MultiheadAttention at inference takes a
    # fused path whose products torch's flop counter does not see
    expected = oracle(build("vit_b_32"), 224)
    assert written(result)[0] == expected
    assert (result.totals.params, result.totals.buffers, result.totals.macs) == expected[:3]
    found = kinds(result)
    assert found.count("attention") == 12 and found.count("token-fc") == 24
    assert found[:4] == ["conv", "tokens", "class-token", "position-embedding"]
    assert found[-2:] == ["take-token", "fc"]


def test_swin_exported_to_onnx_is_refused_in_one_line(tmp_path: Path) -> None:
    """Both exporters fold Swin's relative position bias (a table gathered by an index)
    into one constant per pair of tokens: the table's params are not in the file."""
    model = torchvision.models.SwinTransformer([4, 4], 16, [2], [2], [4, 4],
                                               num_classes=10).eval()
    path = exported(model, 32, tmp_path / "swin.onnx", dynamo=False)
    with pytest.raises(ImportFailure) as failure:
        load(str(path))
    message = failure.value.message
    assert "\n" not in message and not failure.value.problems
    assert "decomposed attention at MatMul" in message and "Softmax" in message
    assert "1x2x16x16 constant" in message and "folded" in message


IMAGE = (1, 8, 6)  # N, C, L: six positions of eight channels


def attention_graph(mask: bool = False, cross: bool = False,
                    einsum: bool = False) -> tuple[Graph, str]:
    """Global self-attention written by hand: separate q, k, v projections (no biases), two
    heads of four, the scores scaled, an output projection with a bias; its two products
    by MatMul or by Einsum."""
    g = Graph(IMAGE)
    x = g.op("Transpose", "x", perm=[0, 2, 1])  # (1, 6, 8): tokens, channels last
    other = g.op("Relu", x) if cross else x
    q, k, v = (g.op("MatMul", source, g.weight(8, 8)) for source in (x, other, x))
    heads = g.const([1, 6, 2, 4], dtype="int64")
    q = g.op("Transpose", g.op("Reshape", q, heads), perm=[0, 2, 1, 3])
    k = g.op("Transpose", g.op("Reshape", k, heads), perm=[0, 2, 1, 3] if einsum else [0, 2, 3, 1])
    v = g.op("Transpose", g.op("Reshape", v, heads), perm=[0, 2, 1, 3])
    products = g.op("Einsum", q, k, equation="bhid,bhjd->bhij") if einsum else \
        g.op("MatMul", q, k)
    scores = g.op("Mul", products, g.const(0.5), name="scores")
    if mask:
        scores = g.op("Add", scores, g.weight(1, 2, 6, 6), name="masked")
    weights = g.op("Softmax", scores, axis=-1, name="softmax")
    mixed = g.op("Einsum", weights, v, equation="bhij,bhjd->bhid") if einsum else \
        g.op("MatMul", weights, v)
    merged = g.op("Reshape", g.op("Transpose", mixed, perm=[0, 2, 1, 3]),
                  g.const([1, 6, 8], dtype="int64"))
    y = g.op("Add", g.op("MatMul", merged, g.weight(8, 8)), g.weight(8))
    return g, g.op("Transpose", y, perm=[0, 2, 1])


@pytest.mark.parametrize("einsum", [False, True], ids=["matmul", "einsum"])
def test_hand_written_attention_is_one_layer(tmp_path: Path, einsum: bool) -> None:
    g, y = attention_graph(einsum=einsum)
    path = g.save(tmp_path / "attention.onnx", y)
    result = load(str(path))
    assert result.totals.output == Shape((6,), 8) and run(path, IMAGE) == (1, 8, 6)
    assert kinds(result) == ["attention"]
    (layer,) = layers_of(result, "attention")
    assert (layer.heads, layer.qkv_bias, layer.proj_bias) == (2, False, True)
    assert result.totals.params == 4 * 8 * 8 + 8
    # four projections of 6 tokens, then QKᵀ and attention·V: 6² pairs of 8 channels each
    assert result.totals.macs == 4 * 6 * 8 * 8 + 2 * 6 * 6 * 8
    assert written(result)[0][:3] == (result.totals.params, 0, result.totals.macs)


@pytest.mark.parametrize(("options", "words"), [
    ({"mask": True}, ["MatMul", "'softmax'", "'masked' brings the 1x2x6x6 constant",
                      "folded"]),
    ({"cross": True}, ["'softmax'", "projected from different tensors"]),
])
def test_attention_not_understood_is_one_line(tmp_path: Path, options: dict[str, bool],
                                              words: list[str]) -> None:
    g, y = attention_graph(**options)
    path = g.save(tmp_path / "attention.onnx", y)
    with pytest.raises(ImportFailure) as failure:
        load(str(path))
    assert "\n" not in failure.value.message and not failure.value.problems
    for word in words:
        assert word in failure.value.message


def test_torch_attention_with_a_mask_is_named(tmp_path: Path) -> None:
    with pytest.raises(ImportFailure) as failure:
        load("tests.factories:masked_attention", Shape((16, 16), 3))
    (problem,) = failure.value.problems
    assert problem.message.startswith("attention (nn.MultiheadAttention): attention with a "
                                      "mask")


@pytest.mark.parametrize("einsum", [False, True], ids=["matmul", "einsum"])
def test_mutated_attention_is_imported_or_refused_never_crashes(tmp_path: Path,
                                                                einsum: bool) -> None:
    """Each attribute of each node removed or changed, each input cut in turn: the import
    works or says why (ImportFailure), whatever the file says."""
    onnx = need("onnx")
    g, y = attention_graph(einsum=einsum)
    model = onnx.load(g.save(tmp_path / "attention.onnx", y))
    mutations = []
    for index, node in enumerate(model.graph.node):
        mutations += [(index, "input", i) for i in range(len(node.input))]
        mutations += [(index, "attribute", a) for a in range(len(node.attribute))]
    tried = 0
    for index, what, position in mutations:
        for variant in range(2):
            mutated = onnx.ModelProto()
            mutated.CopyFrom(model)
            node = mutated.graph.node[index]
            if what == "input":
                node.input[position] = "" if variant else node.input[0]
            elif variant == 0:
                del node.attribute[position]
            else:
                attribute = node.attribute[position]
                if attribute.ints:
                    attribute.ints[:] = [7] * len(attribute.ints)
                elif attribute.s:
                    attribute.s = b"ab,cd->\x1bz"
                else:
                    attribute.i = -5
            path = tmp_path / "mutated.onnx"
            onnx.save(mutated, path)
            tried += 1
            try:
                load(str(path))
            except ImportFailure as exc:
                assert exc.message and "\x1b" not in exc.message
                assert all("\x1b" not in p.message for p in exc.problems)
    assert tried > 60
