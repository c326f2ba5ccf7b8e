"""`convcalc export`: the generated source, without torch (torch builds it in
test_torch_export.py)."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
import tokenize
from pathlib import Path
from typing import Any

import convcalc
from convcalc.analysis import analyze
from convcalc.export import identifier, to_pytorch

Cli = Any
ROOT = Path(__file__).parent.parent

HOSTILE = '''\
name: "evil\\nimport os"
input: 8x8x3
layers:
  - conv: {filters: 4, k: 3, name: "x = __import__('os').system('echo pwned')"}
  - conv: {filters: 4, k: 3, name: "class"}
  - conv: {filters: 4, k: 3, name: "\\"\\"\\"\\n    def forward(self, x): pass"}
  - relu: {name: "1st layer; del self"}
  - fc: {units: 2, name: "self"}
'''
# Code tokens the hostile names would bring if they escaped their strings and comments.
FORBIDDEN = {"__import__", "os", "system", "del", "pass", "class"}


def hostile_source() -> str:
    model = convcalc.load_text(HOSTILE, "hostile.yaml")
    return to_pytorch(model, analyze(model))


def test_hostile_names_stay_in_comments_and_escaped_strings() -> None:
    source = hostile_source()
    compile(source, "<export>", "exec")
    tokens = [token.string for token in tokenize.generate_tokens(io.StringIO(source).readline)
              if token.type not in (tokenize.COMMENT, tokenize.STRING)]
    pairs = {f"{a} {b}" for a, b in itertools.pairwise(tokens)}
    assert (set(tokens) | pairs) & FORBIDDEN == {"class"}  # `class Net`, the module's own
    assert tokens.count("class") == 1 and tokens.count("def") == 2
    comments = [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)
                if t.type == tokenize.COMMENT]
    assert any("evil import os" in c for c in comments)  # the line break is gone


def test_identifiers_are_safe_and_unique() -> None:
    taken: set[str] = set()
    names = [identifier(n, taken) for n in ("class", "1x", "a-b", "a_b", "", "self", "x")]
    assert names == ["l_class", "l_1x", "a_b", "a_b_2", "layer", "l_self", "l_x"]
    assert all(name.isidentifier() for name in names)


def test_export_passes_ruff(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "vgg16.py"
    run = cli("export", "vgg16", "--to", "pytorch", "-o", str(target))
    assert run.code == 0
    source = target.read_text()
    assert "138,357,544 parameters" in source and "nn.Conv2d(3, 64, 3, padding=1)" in source
    for generated in (target, tmp_path / "hostile.py"):
        if generated.name == "hostile.py":
            generated.write_text(hostile_source())
        for config in (["--isolated"], ["--config", str(ROOT / "pyproject.toml")]):
            result = subprocess.run([sys.executable, "-m", "ruff", "check", *config,
                                     str(generated)], capture_output=True, text=True,
                                    check=False)
            assert result.returncode == 0, result.stdout


def test_tensorflow_same_padding_is_explicit(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "same.yaml"
    spec.write_text("input: 224x224x3\nlayers: [conv7-64-s2-same, maxpool3-s2-same]\n")
    source = cli("export", str(spec)).out
    assert "F.pad(x, (2, 3, 2, 3))" in source  # W then H: 2 before, 3 after
    assert "value=float('-inf')" in source  # max pooling pads with -inf, not zeros


def test_what_torch_cannot_express_is_an_error(cli: Cli, tmp_path: Path) -> None:
    spec = tmp_path / "local.yaml"
    spec.write_text("input: 32x3\nlayers:\n  - local: {filters: 8, k: 3}\n")
    run = cli("export", str(spec))
    assert run.code == 2
    assert "local.yaml:3:5: cannot export to pytorch: local1: locally connected layers " \
           "export in 2-D only" in run.err
    spec.write_text("input: 4x4x1\nlayers:\n  - conv-transpose: {filters: 1, k: 3, stride: 2, "
                    "pad: [[0, 1], [0, 1]]}\n")
    assert "symmetric padding only" in cli("export", str(spec)).err


def test_verify_without_torch_is_a_one_line_hint() -> None:
    code = ("import sys; sys.modules['torch'] = None; sys.argv = ['convcalc', 'verify', "
            "'vgg16']; from convcalc.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "convcalc: error: verify needs PyTorch: pip install torch"]
