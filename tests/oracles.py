"""The real frameworks that tests compare convcalc with: torch, torchvision, onnx, keras, …

A test module asks for its oracle with :func:`need`. Without it the module is skipped on a
developer's machine; in CI (``CONVCALC_REQUIRE_ORACLES=1``, or the older
``CONVCALC_REQUIRE_TORCH=1``) a missing oracle is a failure, never a silent skip.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def required() -> bool:
    return bool(os.environ.get("CONVCALC_REQUIRE_ORACLES") or
                os.environ.get("CONVCALC_REQUIRE_TORCH"))


def need(module: str) -> ModuleType:
    """The oracle module, imported; skip the calling test module when it is missing."""
    if required():
        return importlib.import_module(module)
    found: ModuleType = pytest.importorskip(module)
    return found
