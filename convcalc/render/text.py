"""Small text pieces shared by the human renderers."""

from __future__ import annotations

from convcalc.arith import format_fraction
from convcalc.report import (
    CONVENTIONS,
    DEFAULT_FRAMEWORK,
    DEFAULT_RULES,
    AxisSize,
    ReceptiveField,
    Settings,
)
from convcalc.units import format_bytes


def grouped(items: list[tuple[str, str]]) -> list[str]:
    """``H, W: text`` for axes whose text is the same, in axis order."""
    axes: dict[str, list[str]] = {}
    for axis, text in items:
        axes.setdefault(text, []).append(axis)
    return [f"{', '.join(names)}: {text}" for text, names in axes.items()]


def size_verdict(size: AxisSize) -> str:
    """``14.5 → 14, lossy: 1 row of real input is never seen``."""
    if size.status.value == "exact":
        return f"{size.output} (exact)"
    rounding = "rounded up (ceil mode)" if size.ceil else "floored"
    text = f"{format_fraction(size.exact)} {rounding} to {size.output}, {size.status.value}"
    if size.lost:
        return text + f": the last {size.lost} real input row(s)/column(s) are seen by no window"
    return text + ": the rounding loses no real input"


def fixes(size: AxisSize) -> str:
    return "; ".join(f"{f.param} {f.value} → {f.output}" for f in size.fixes)


def rules_text(settings: Settings) -> str:
    """``caffe (declared by the spec)``: the rule set in force and who chose it."""
    origin = {"default": "the default; no framework's refusals checked",
              "spec": "declared by the spec", "--rules": "chosen with --rules"}
    if settings.rules == DEFAULT_RULES:
        framework = DEFAULT_FRAMEWORK
    else:
        from convcalc.rules import rules_named

        framework = rules_named(settings.rules).framework
    return f"{framework} ({origin[settings.rules_from]})"


def field_text(field: ReceptiveField) -> str:
    return (f"size {format_fraction(field.size)}, stride {format_fraction(field.stride)}, "
            f"padding {format_fraction(field.pad)}")


def bytes_text(elements: int, settings: Settings) -> str:
    total = settings.bytes_of(elements)
    text = (f"{elements:,} elements × {settings.dtype_bytes} B ({settings.dtype}) × batch "
            f"{settings.batch} = {total:,} B")
    if total >= 1000:
        text += f" = {format_bytes(total)} = {format_bytes(total, binary=True)}"
    return text


def conventions(width: int = 100) -> str:
    """The conventions every human output ends with, wrapped."""
    import textwrap

    return textwrap.fill("Conventions: " + "; ".join(CONVENTIONS) + ".", width)
