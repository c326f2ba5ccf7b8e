"""Keras models in, from files Keras itself writes (``model.save`` to .keras, and
``model.to_json()``), read with no Keras: the Keras Applications' parameter counts and every
layer's output shape as Keras computes it."""

from __future__ import annotations

import os
from math import prod
from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyze
from convcalc.importers import ImportFailure, load
from convcalc.language import load_text
from convcalc.shape import Shape
from tests.oracles import need

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = need("keras")
Cli = Any

# keras.io/api/applications: the table's parameter counts (Keras' count_params(): trainable
# weights and batch norm's moving statistics together)
APPLICATIONS = {"VGG16": 138_357_544, "ResNet50": 25_636_712, "MobileNet": 4_253_864,
                "MobileNetV2": 3_538_984, "DenseNet121": 8_062_504}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path, Path]]:
    """Each application built by Keras (weights=None: nothing is downloaded), saved as
    .keras and as to_json()."""
    folder = tmp_path_factory.mktemp("keras")
    models = {}
    for name in APPLICATIONS:
        model = getattr(keras.applications, name)(weights=None)
        archive, text = folder / f"{name}.keras", folder / f"{name}.json"
        model.save(archive)
        text.write_text(model.to_json(), encoding="utf-8")
        models[name] = (model, archive, text)
    return models


def output_shapes(model: Any) -> dict[str, Shape]:
    """Keras' own output shape of each single-output layer, as convcalc writes shapes."""
    shapes = {}
    for layer in model.layers:
        dims = tuple(layer.output.shape[1:])
        shapes[layer.name] = Shape(dims[:-1], dims[-1]) if len(dims) > 1 else Shape((), dims[0])
    return shapes


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_applications(saved: dict[str, tuple[Any, Path, Path]], name: str) -> None:
    model, archive, text = saved[name]
    trainable = sum(prod(w.shape) for w in model.trainable_weights)
    assert model.count_params() == APPLICATIONS[name]
    theirs = output_shapes(model)
    for path in (archive, text):
        result = load(str(path))
        assert result.model.rules == "keras"
        report = analyze(result.model)
        assert not [p for p in report.problems if p.level == "error"]
        totals = report.totals
        # Keras' total is the trainable weights plus the moving statistics: convcalc's
        # params plus its non-trainable buffers
        assert (totals.params, totals.non_trainable_params) == \
            (trainable, APPLICATIONS[name] - trainable)
        rows = {row.name: row for row in report.rows if row.name in theirs}
        assert len(rows) >= len(theirs) - 1  # every layer but the input
        for row_name, row in rows.items():
            assert row.output_shape == theirs[row_name], (name, row_name)


def small_models() -> list[Any]:
    """The kinds the applications do not have: Conv1D, Conv3D, SeparableConv2D,
    Conv2DTranspose (inferred and given output padding), Multiply, Reshape."""
    layers = keras.layers
    x = inputs = keras.Input((20, 18, 3))
    x = layers.ZeroPadding2D(((1, 2), (0, 1)))(x)
    x = layers.SeparableConv2D(8, 3, strides=2, padding="same", depth_multiplier=2)(x)
    y = layers.Conv2DTranspose(8, 2, strides=3)(x)
    z = layers.Conv2DTranspose(8, 3, strides=3, padding="same", output_padding=1)(x)
    y = layers.MaxPooling2D(3, strides=3, padding="same")(y)
    z = layers.AveragePooling2D(3, strides=3, padding="same")(z)
    x = layers.Concatenate()([y, z])
    gate = layers.GlobalAveragePooling2D(keepdims=True)(x)
    gate = layers.Activation("sigmoid")(gate)
    x = layers.Multiply()([x, gate])
    x = layers.Dropout(0.2)(layers.BatchNormalization()(x))
    outputs = layers.Dense(5, activation="softmax")(layers.Flatten()(x))
    functional = keras.Model(inputs, outputs)
    one_d = keras.Sequential([keras.Input((50, 4)), layers.Conv1D(6, 5, strides=2),
                              layers.LeakyReLU(0.1), layers.MaxPooling1D(2),
                              layers.GlobalMaxPooling1D(), layers.Dense(3)])
    three_d = keras.Sequential([keras.Input((9, 10, 11, 2)),
                                layers.Conv3D(4, 3, padding="same", dilation_rate=2),
                                layers.ReLU(6.0), layers.Conv3D(4, 2, strides=2),
                                layers.GlobalAveragePooling3D()])
    reshape = keras.Sequential([keras.Input((6, 6, 2)), layers.Conv2D(4, 3),
                                layers.GlobalAveragePooling2D(keepdims=True),
                                layers.Reshape((4,)), layers.Dense(2)])
    return [functional, one_d, three_d, reshape]


@pytest.mark.parametrize("index", range(4))
def test_the_other_layer_kinds(tmp_path: Path, index: int) -> None:
    model = small_models()[index]
    path = tmp_path / "small.keras"
    model.save(path)
    result = load(str(path))
    report = analyze(result.model)
    assert report.totals.params + report.totals.non_trainable_params == model.count_params()
    theirs = output_shapes(model)
    rows = {row.name: row.output_shape for row in report.rows if row.name in theirs}
    assert rows and all(shape == theirs[name] for name, shape in rows.items()), rows


def test_the_spec_written_reads_back(cli: Cli, tmp_path: Path) -> None:
    model = small_models()[1]
    path = tmp_path / "small.json"
    path.write_text(model.to_json(), encoding="utf-8")
    run = cli("import", str(path))
    assert run.code == 0, run.err
    assert "\nrules: keras\n" in run.out
    loaded = load_text(run.out, "written.yaml")
    assert loaded.model is not None and loaded.model.rules == "keras"


def test_what_is_not_a_keras_model(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"class_name": "Lambda", "config": {}}', encoding="utf-8")
    with pytest.raises(ImportFailure):
        load(str(bad))
    run = cli("import", str(bad))
    assert run.code == 2 and run.err.count("\n") == 1
    lam = tmp_path / "lambda.keras"
    layers = keras.layers
    inputs = keras.Input((8, 8, 3))
    keras.Model(inputs, layers.Conv2D(2, 3)(layers.UpSampling2D()(inputs))).save(lam)
    run = cli("import", str(lam))
    assert run.code == 2 and "UpSampling2D" in run.err


@pytest.mark.parametrize(("layer", "config", "words"), [
    ("Conv2D", {"filters": True, "kernel_size": [3, 3]}, "filters True"),
    ("Conv2D", {"filters": 8.5, "kernel_size": [3, 3]}, "filters 8.5"),
    ("Conv2D", {"filters": 8, "kernel_size": [3, 3], "strides": [0, 0]}, "stride (0,)"),
    ("Dropout", {"rate": float("nan")}, "rate nan"),
    ("LeakyReLU", {"negative_slope": float("inf")}, "slope inf"),
    ("ZeroPadding2D", {"padding": [[-1, -1], [0, 0]]}, "pad ((-1, -1), (0, 0))"),
])
def test_a_setting_the_language_refuses_names_the_layer(
        cli: Cli, tmp_path: Path, layer: str, config: dict[str, Any], words: str) -> None:
    """filters: true came out as a 32x32xTrue tensor; each is now the layer's problem."""
    import json

    path = tmp_path / "odd.json"
    path.write_text(json.dumps({"class_name": "Sequential", "config": {"name": "m", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 8, 8, 3], "name": "in"}},
        {"class_name": layer, "config": {"name": "odd", **config}}]}}), encoding="utf-8")
    run = cli("import", str(path), "--summarize")
    assert run.code == 2 and f"odd ({layer})" in run.err and words in run.err, run.err
    assert "out of range" in run.err and "Traceback" not in run.err
