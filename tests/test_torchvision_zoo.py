"""Every torchvision classification CNN, reproduced exactly by a bundled spec.

Each of the 68 CNNs of torchvision 0.29 (all of its classification models but ViT, Swin and
MaxViT) has a bundled spec naming it (``torchvision: NAME``). Its params, buffers and output
shape are compared with torchvision's model built live on the meta device, at the crop size
of its DEFAULT weights; its MACs with REFERENCE.md's catalogue (torch's FLOP counter),
which is itself checked against torchvision's published GFLOPS, and for one model of each
family counted live too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from convcalc.shape import Shape
from convcalc.zoo import Entry, catalogue
from tests.oracles import need
from tests.torchvision_models import build, cnns, measure, published, transformers
from tests.torchvision_models import catalogue as reference

torch = need("torch")
torchvision = need("torchvision")

CNNS = cnns()
SPECS = {entry.torchvision: entry for entry in catalogue() if entry.torchvision}
REFERENCE = reference()
# One model of each family: its MACs are counted live, not only read from the catalogue.
COUNTED_LIVE = ["alexnet", "convnext_tiny", "densenet121", "efficientnet_b0",
                "efficientnet_v2_s", "googlenet", "inception_v3", "mnasnet0_5", "mobilenet_v2",
                "mobilenet_v3_small", "regnet_x_400mf", "regnet_y_400mf", "resnet18",
                "resnext50_32x4d", "shufflenet_v2_x0_5", "squeezenet1_1", "vgg11_bn",
                "wide_resnet50_2"]


def spec_for(name: str) -> Entry:
    if name not in SPECS:
        pytest.fail(f"no bundled spec says `torchvision: {name}`")
    entry = SPECS[name]
    assert entry.report is not None, entry.problems
    return entry


def test_the_zoo_covers_every_torchvision_classification_model() -> None:
    assert len(CNNS) == 68 and len(transformers()) == 12
    assert sorted(SPECS) == sorted(CNNS + transformers())
    listed = set(torchvision.models.list_models(torchvision.models))
    assert set(CNNS) <= listed and listed - set(CNNS) == set(transformers())


@pytest.mark.parametrize("name", CNNS)
def test_spec_reproduces_torchvision(name: str) -> None:
    entry = spec_for(name)
    report = entry.report
    assert report is not None
    live = measure(name)
    assert report.input_shape == Shape((live.crop, live.crop), 3)
    assert report.totals.params == live.params
    assert report.totals.non_trainable_params == live.buffers
    assert report.totals.output_shape.dims == live.output
    assert report.totals.macs == int(REFERENCE[name]["macs"])
    # its `expect` holds, and nothing is lossy unless waived (torchvision's SqueezeNet stem)
    assert [p for p in entry.problems if p.level != "info"] == []


@pytest.mark.parametrize("name", CNNS)
def test_catalogue_matches_what_torchvision_publishes(name: str) -> None:
    row = REFERENCE[name]
    weights = torchvision.models.get_model_weights(name).DEFAULT
    assert int(row["input"]) == weights.transforms.keywords["crop_size"]
    assert published(Decimal(str(weights.meta["_ops"])), int(row["macs"]))
    assert int(row["published_params"]) == weights.meta["num_params"]


@pytest.mark.parametrize("name", COUNTED_LIVE)
def test_macs_counted_live(name: str) -> None:
    live = measure(name, macs=True)
    report = spec_for(name).report
    assert report is not None
    assert report.totals.macs == live.macs
    assert live.macs is not None and published(live.published_gflops, live.macs)


def test_published_params_differ_only_by_inception_v3s_auxiliary_head() -> None:
    differ = [name for name in CNNS
              if int(REFERENCE[name]["params"]) != int(REFERENCE[name]["published_params"])]
    assert differ == ["inception_v3"]
    with_aux = build("inception_v3", aux_logits=True)
    aux = sum(p.numel() for p in with_aux.AuxLogits.parameters())
    row = REFERENCE["inception_v3"]
    assert int(row["params"]) + aux == int(row["published_params"])


def test_zoo_json_names_the_torchvision_model(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "convcalc", "zoo", "--format", "json"],
                            capture_output=True, text=True, check=True, cwd=tmp_path)
    specs = {s["name"]: s for s in json.loads(result.stdout)["specs"]}
    named = {s["torchvision"] for s in specs.values() if s["torchvision"]}
    assert named == set(CNNS) | set(transformers())
    assert specs["resnet50"]["torchvision"] == "resnet50"
    assert specs["lenet5"]["torchvision"] is None


@pytest.mark.parametrize("value", ["42", "[resnet50]", "'resnet 50'"])
def test_a_torchvision_name_must_be_a_name(value: str) -> None:
    from convcalc.language import load_text

    loaded = load_text(f"torchvision: {value}\ninput: 8x8x3\nlayers: [conv3-4]\n", "t.yaml")
    assert [(p.code, p.line, p.col) for p in loaded.problems] == [("wrong-type", 1, 14)]
