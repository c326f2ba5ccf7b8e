"""Importers: an ONNX file or a PyTorch model in, a convcalc model (and the real facts) out.

Each reader builds the framework-neutral op graph of :mod:`convcalc.importers.graph`;
:mod:`convcalc.importers.lower` turns it into the same :class:`~convcalc.model.Model` the
spec reader builds, checked against the real model before anything is written. Frameworks
are imported only by their reader, and only when a model of theirs is read.
"""

from __future__ import annotations

from convcalc.importers.graph import ImportFailure
from convcalc.importers.lower import Imported
from convcalc.shape import Shape

__all__ = ["ImportFailure", "Imported", "load"]


def load(ref: str, input_shape: Shape | None = None, allow_opaque: bool = False) -> Imported:
    """``model.onnx``, ``model.keras`` (or a Keras ``to_json()`` file), ``deploy.prototxt``,
    ``torchvision:NAME`` or ``package.module:factory`` as a checked model.

    Raises :class:`ImportFailure` (one line, or one problem per op convcalc cannot express).
    """
    from convcalc.importers.lower import lower

    lowered = ref.lower()
    if lowered.endswith(".onnx"):
        from convcalc.importers.from_onnx import read as read_onnx

        graph = read_onnx(ref, input_shape)
    elif lowered.endswith((".keras", ".json")):
        from convcalc.importers.from_keras import read as read_keras

        graph = read_keras(ref, input_shape)
    elif lowered.endswith(".prototxt"):
        from convcalc.importers.from_caffe import read as read_caffe

        graph = read_caffe(ref, input_shape)
    else:
        from convcalc.importers.from_torch import read as read_torch

        graph = read_torch(ref, input_shape)
    return lower(graph, allow_opaque)
