"""convcalc: exact convolution arithmetic for CNN architectures, no framework needed."""

from __future__ import annotations

__version__ = "0.1.0"
