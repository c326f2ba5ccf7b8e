"""Tensor shapes as convcalc sees them: spatial sizes then channels (H x W x C)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from math import prod

from convcalc.units import shorten, whole_number

_SHAPE = re.compile(r"\s*[0-9]+(\s*[x×]\s*[0-9]+)*\s*")


@dataclass(frozen=True)
class Shape:
    """Channels-last shape of one example: ``spatial`` is () for a flat vector."""

    spatial: tuple[int, ...]
    channels: int

    @cached_property
    def _hash(self) -> int:
        return hash((self.spatial, self.channels))

    def __hash__(self) -> int:  # worked out once: an analysis looks shapes up per layer
        return self._hash

    @property
    def size(self) -> int:
        """Number of elements."""
        return prod(self.spatial) * self.channels

    @property
    def dims(self) -> tuple[int, ...]:
        return (*self.spatial, self.channels)

    def __str__(self) -> str:
        return "x".join(map(str, self.dims))

    @classmethod
    def of(cls, dims: tuple[int, ...] | list[int]) -> Shape:
        """Shape from sizes in the input's order; the last one is the channels."""
        if not dims or len(dims) > 4:
            raise ValueError("a shape has 1 to 4 sizes: C, LxC, HxWxC or DxHxWxC")
        if any(d < 1 for d in dims):
            raise ValueError("every size must be a positive integer")
        return cls(tuple(dims[:-1]), dims[-1])

    @classmethod
    def parse(cls, text: str) -> Shape:
        """Parse ``224x224x3`` (or ``100x16``, ``4096``, ``16x112x112x3``)."""
        if not _SHAPE.fullmatch(text):
            raise ValueError(f"{shorten(text)} is not a shape like 224x224x3")
        return cls.of([whole_number(part) for part in re.split(r"[x×]", text)])

    def flat(self) -> Shape:
        return Shape((), self.size)
