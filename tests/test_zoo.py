"""The bundled zoo against the published figures of REFERENCE.md (sections 2, 3, 5 and 6).

The expected numbers are written here, not read from the specs' own `expect` blocks, so a
spec that drifted together with its `expect` still fails.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from convcalc.language import bundled
from convcalc.zoo import catalogue
from tests.conftest import summary_json

ARCHITECTURES = Path(__file__).parent.parent / "architectures"
Cli = Any

# REFERENCE.md section 6: torchvision's published figures (params, MACs) at batch 1.
TORCHVISION = {
    "alexnet-torchvision": (61_100_840, 714_188_480),
    "vgg11": (132_863_336, 7_609_090_048), "vgg11-bn": (132_868_840, 7_609_090_048),
    "vgg13": (133_047_848, 11_308_466_176), "vgg13-bn": (133_053_736, 11_308_466_176),
    "vgg16": (138_357_544, 15_470_264_320), "vgg16-bn": (138_365_992, 15_470_264_320),
    "vgg19": (143_667_240, 19_632_062_464), "vgg19-bn": (143_678_248, 19_632_062_464),
    "resnet18": (11_689_512, 1_814_073_344), "resnet34": (21_797_672, 3_663_761_408),
    "resnet50": (25_557_032, 4_089_184_256), "resnet101": (44_549_160, 7_801_405_440),
    "resnet152": (60_192_808, 11_513_626_624),
    "googlenet": (6_624_904, 1_498_376_192), "inception-v3": (23_834_568, 5_713_216_096),
    "squeezenet1_0": (1_248_424, 818_924_576), "squeezenet1_1": (1_235_496, 349_151_936),
    "densenet121": (7_978_856, 2_834_161_664), "mobilenet-v2": (3_504_872, 300_774_272),
    "efficientnet-b0": (5_288_548, 385_814_752),
}

# The VGG paper's Table 2, parameters in millions.
VGG_PAPER = {"vgg11": 133, "vgg11-lrn": 133, "vgg13": 133, "vgg16-c": 134, "vgg16": 138,
             "vgg19": 144}


summary = summary_json


def test_every_bundled_spec_is_clean_and_meets_its_expect() -> None:
    entries = catalogue()
    assert len(entries) >= 30
    for entry in entries:
        assert entry.report is not None, (entry.name, entry.problems)
        noted = [p for p in entry.problems if p.level != "info"]  # waived sizes are noted
        assert noted == [], (entry.name, noted)


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_torchvision_figures(cli: Cli, name: str) -> None:
    totals = summary(cli, name)["totals"]
    assert (totals["params"], totals["macs"]) == TORCHVISION[name]


@pytest.mark.parametrize("name", sorted(VGG_PAPER))
def test_vgg_paper_table_within_its_rounding(cli: Cli, name: str) -> None:
    assert round(summary(cli, name)["totals"]["params"] / 10**6) == VGG_PAPER[name]


def test_alexnet_papers_grouped_network(cli: Cli) -> None:
    doc = summary(cli, "alexnet")
    assert doc["totals"]["params"] == 60_965_224
    assert {row["size_status"] for row in doc["layers"]} == {"exact"}


def test_alexnet_at_224_is_lossy_at_conv1(cli: Cli) -> None:
    run = cli("summarize", "alexnet", "--input", "224x224x3", "--format", "json")
    doc = run.json()
    conv1 = next(row for row in doc["layers"] if row["name"] == "conv1")
    assert conv1["size_status"] == "lossy"
    assert conv1["sizes"][0]["exact_decimal"] == "54.25"
    assert any(p["code"] == "non-integer-size" and "conv1" in p["message"]
               for p in doc["problems"])


# REFERENCE.md section 3: the course's AlexNet shape walk.
ALEXNET_WALK = [("conv1", [55, 55, 96]), ("pool1", [27, 27, 96]), ("norm1", [27, 27, 96]),
                ("conv2", [27, 27, 256]), ("pool2", [13, 13, 256]), ("norm2", [13, 13, 256]),
                ("conv3", [13, 13, 384]), ("conv4", [13, 13, 384]), ("conv5", [13, 13, 256]),
                ("pool3", [6, 6, 256]), ("fc6", [4096]), ("fc7", [4096]), ("fc8", [1000])]


def test_alexnet_course_shape_walk(cli: Cli) -> None:
    doc = summary(cli, "alexnet-cs231n")
    shapes = [(row["name"], row["output_shape"]) for row in doc["layers"][1:]]
    assert shapes == ALEXNET_WALK
    assert doc["totals"]["params"] == 62_378_344


def test_lenet5(cli: Cli) -> None:
    doc = summary(cli, "lenet5")
    assert doc["totals"]["params"] == 156 + 2_416 + 48_120 + 10_164 + 850 == 61_706
    assert [row["output_shape"] for row in doc["layers"]] == [
        [32, 32, 1], [28, 28, 6], [14, 14, 6], [10, 10, 16], [5, 5, 16], [1, 1, 120], [84],
        [10]]


def test_mobilenets_against_their_papers(cli: Cli) -> None:
    v1 = summary(cli, "mobilenet-v1")["totals"]
    assert round(v1["params"] / 10**5) == 42 and round(v1["macs"] / 10**6) == 569  # Table 8
    assert v1["params"] == 4_231_976  # Keras' MobileNet 1.0-224, trainable
    v2 = summary(cli, "mobilenet-v2")["totals"]
    assert round(v2["macs"] / 10**6) == 301  # "300M" in Table 3; torchvision 300,774,272
    assert v2["params"] == 3_504_872  # torchvision; the paper's 3.4M leaves out the classifier


def test_resnet50_counts_running_statistics_apart(cli: Cli) -> None:
    totals = summary(cli, "resnet50")["totals"]
    assert totals["params"] == 25_557_032
    assert totals["non_trainable_params"] == 53_120
    run = cli("summarize", "resnet50")
    assert "53,120 non-trainable" in run.out


def test_resnet_files_are_short_and_share_their_blocks() -> None:
    resnets = sorted(ARCHITECTURES.glob("resnet*.yaml"))
    assert len((ARCHITECTURES / "resnet152.yaml").read_text().splitlines()) < 100
    defining = [p.name for p in resnets if re.search(r"^blocks:", p.read_text(), re.M)]
    assert defining == ["resnet-blocks.yaml"]


def test_every_spec_starts_with_a_comment_naming_its_source() -> None:
    for path in bundled().values():
        first = path.read_text().splitlines()[0]
        assert first.startswith("# ") and len(first) > 20, path.name


def test_zoo_lists_every_model_from_any_folder(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "convcalc", "zoo", "--format", "json"],
                            capture_output=True, text=True, check=True, cwd=tmp_path)
    specs = json.loads(result.stdout)["specs"]
    assert len(specs) >= 30
    assert {"vgg16", "resnet50", "inception-v3", "lenet5"} <= {s["name"] for s in specs}
    result = subprocess.run([sys.executable, "-m", "convcalc", "summarize", "googlenet"],
                            capture_output=True, text=True, check=True, cwd=tmp_path)
    assert "6,624,904" in result.stdout


def test_zoo_table(cli: Cli) -> None:
    run = cli("zoo")
    assert run.code == 0
    assert "resnet50" in run.out and "25,557,032" in run.out and "4,089,184,256" in run.out
    assert "resnet-blocks" not in run.out  # libraries are not models


def test_a_block_library_is_not_a_model(cli: Cli) -> None:
    run = cli("summarize", "resnet-blocks")
    assert run.code == 2 and "block library" in run.err


def test_bundled_specs_read_the_same_in_any_yaml_reader() -> None:
    """convcalc shields a comma inside `$(…)` from YAML, but an editor, a linter or a JSON
    Schema validator would split `{out: $(max(1, c)), k: 3}` at it: the bundled specs keep
    such expressions out of flow collections (`[…]`, `{…}`), so each reader sees one spec."""
    import yaml

    def texts(node: object) -> list[str]:
        if isinstance(node, dict):
            return [t for key, value in node.items() for t in texts(key) + texts(value)]
        if isinstance(node, list):
            return [t for item in node for t in texts(item)]
        return [node] if isinstance(node, str) else []

    for name, path in bundled().items():
        torn = [text for text in texts(yaml.safe_load(path.read_text()))
                if "$(" in text and text.count("(") != text.count(")")]
        assert torn == [], name
