"""Each framework's rules for the sizes of windowed layers, and a layer adapted to them.

The same layer gives different sizes in different frameworks: Caffe's pooling rounds up,
MXNet's ``full`` pooling rounds up without dropping a last window, Darknet's max pooling
pads k − 1 in total, Keras infers a transposed convolution's output padding. A rule set
states, for one framework and with the source of each rule, what it fixes:

- the output size of convolutions and pooling (rounding, and the last-window rule);
- which padding words its layers take (every framework splits a word the same way:
  ``same`` puts the odd pixel after, ONNX's SAME_UPPER; ``same-lower`` before);
- what explicit pads it takes, and what else it refuses;
- how it sizes a transposed convolution.

``Rules.adapt(layer, x)`` gives the layer that computes, under convcalc's own arithmetic
(PyTorch's), the sizes the framework computes; so the analysis, the export and ``explain``
need no second arithmetic. Three keys are left to the framework when a spec does not set
them, because the frameworks' own layers decide them differently: a pooling's ``ceil``
(Caffe rounds up), a max pooling's ``pad`` (Darknet pads k − 1) and a transposed
convolution's ``output_padding`` (Keras infers it). Every other unset key keeps the spec
language's default.

Sources are cited by repository, file and function (their line numbers move between
versions): PyTorch 2.x, TensorFlow 2.x ``tf.nn``, Keras 3, ONNX opset 22 with onnxruntime,
BVLC Caffe (master), Apache MXNet 1.x and pjreddie's Darknet.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

from convcalc.arith import Window, resolve_pad, span
from convcalc.layers.base import Formula, Layer, Pads, per_axis, resolve_pads
from convcalc.layers.conv import Conv, ConvTranspose, Depthwise, Local, Separable
from convcalc.layers.pool import AvgPool, MaxPool
from convcalc.problem import LayerError
from convcalc.report import DEFAULT_FRAMEWORK, DEFAULT_RULES
from convcalc.shape import Shape

DEFAULT = DEFAULT_RULES

PadPairs = tuple[tuple[int, int], ...]


class PadRule(Enum):
    """Which explicit (before, after) pads a framework's layer takes."""

    ANY = "any pads"
    SYMMETRIC = "the same pad on both sides of an axis"
    SPLIT = "one total pad p per axis, p // 2 of it before"  # Darknet's max pooling
    WORDS = "no explicit pads, only its padding words"

    def refuses(self, pads: PadPairs, native: list[PadPairs]) -> bool:
        """Whether pads ``pads`` break the rule; ``native`` are the pads its words give."""
        if self is PadRule.SYMMETRIC:
            return any(before != after for before, after in pads)
        if self is PadRule.SPLIT:
            return any(before != (before + after) // 2 for before, after in pads)
        if self is PadRule.WORDS:
            return pads not in native
        return False


class PadLimit(Enum):
    """How large a pooling's explicit pad may be, against its kernel k."""

    NONE = "no limit"
    HALF_KERNEL = "at most k // 2"  # PyTorch
    BELOW_KERNEL = "below k"  # Caffe, onnxruntime
    KERNEL = "at most k"  # tf.nn.max_pool2d

    def refuses(self, pad: int, kernel: int) -> bool:
        limits = {PadLimit.NONE: pad, PadLimit.HALF_KERNEL: kernel // 2,
                  PadLimit.BELOW_KERNEL: kernel - 1, PadLimit.KERNEL: kernel}
        return pad > limits[self]


class Clip(Enum):
    """When ceil mode drops a last window that would start in the end padding."""

    ALWAYS = "always"  # PyTorch, onnxruntime
    IF_PADDED = "when the layer has padding"  # Caffe
    NEVER = "never"  # MXNet's "full" convention


class WordSizes(Enum):
    """What a padding word means for a transposed convolution's output size."""

    NONE = "no padding words"
    KERAS = "Keras"  # valid: (i − 1)s + max(k̂, s); same: i·s (output_padding unset)
    ONNX = "onnxruntime"  # same, same-lower: min(i·s, (i − 1)s + k̂ + a)


@dataclass(frozen=True)
class ConvRules:
    """Convolutions (also depthwise, separable and locally connected)."""

    formula: str
    source: str
    words: tuple[str, ...] = ()  # padding words its layer takes itself
    pads: PadRule = PadRule.SYMMETRIC
    same_strided: bool = True  # `same` with a stride above 1 (PyTorch: refused)
    dilation: bool = True
    dilated_strides: bool = True  # stride > 1 together with dilation > 1 (Keras: refused)
    dilated_words: bool = True  # `same` words with dilation > 1 (onnxruntime: refused)
    truncates: bool = False  # C division toward zero: a kernel a little larger than the
    # padded input still gives one output, its missing taps read as zeros


@dataclass(frozen=True)
class PoolRules:
    """Max and average pooling with a window."""

    formula: str
    source: str
    words: tuple[str, ...] = ()
    pads: PadRule = PadRule.SYMMETRIC
    avg_pads: PadRule | None = None  # when average pooling differs (tf.nn.avg_pool2d)
    limit: PadLimit = PadLimit.NONE
    ceil: bool = True  # it has a ceil mode
    ceil_default: bool = False  # what an unset `ceil` means
    clip: Clip = Clip.ALWAYS
    dilation: bool = True
    windowed_avg: bool = True  # Darknet's [avgpool] is global only
    pads_kernel: bool = False  # an unset max-pooling pad is k − 1 in total (Darknet)
    truncates: bool = False  # C division toward zero, as ConvRules.truncates
    dilated_words: bool = True  # `same` words with dilation > 1 (onnxruntime sizes them as
    # if undilated, against ONNX's own formula: refused as not portable)
    max_same_gaps: bool = True  # max pooling's `same` when the windows leave gaps, its
    # padding formula negative (onnxruntime: "padding values must be non-negative")


@dataclass(frozen=True)
class TransposedRules:
    """Transposed convolutions."""

    formula: str
    source: str
    words: WordSizes = WordSizes.NONE
    pads: PadRule = PadRule.SYMMETRIC
    output_padding: bool = True  # it has an output padding (Caffe, Darknet: none)
    below_stride: bool = False  # output_padding must be below the stride (Keras, ONNX)
    dilation: bool = True
    dilated_strides: bool = True  # stride > 1 together with dilation > 1 (Keras: refused)


@dataclass(frozen=True)
class Rules:
    """One framework's rules, each with its source."""

    name: str
    framework: str
    conv: ConvRules
    pool: PoolRules
    transposed: TransposedRules

    def adapt(self, layer: Layer, x: Shape, refuse: bool = True) -> Layer:
        """The layer that gives, under convcalc's arithmetic, this framework's sizes.

        With ``refuse``, a layer this framework's own layer would not accept raises a
        :class:`LayerError` with code ``refused``. Kinds whose sizes no framework disputes
        come back unchanged, as do inputs the layer cannot take (``apply`` says why).
        """
        if not x.spatial or (self.name == DEFAULT and not refuse):
            return layer  # PyTorch's rules are convcalc's own arithmetic: nothing to adapt
        if isinstance(layer, MaxPool | AvgPool):
            return self._pool(layer, x, refuse)
        if isinstance(layer, ConvTranspose):
            return self._transposed(layer, x, refuse)
        if isinstance(layer, Conv | Depthwise | Separable | Local):
            return self._conv(layer, x, refuse)
        return layer

    def formulas(self, layer: Layer) -> tuple[Formula, ...]:
        """The framework's own size formula for a windowed layer, with its source."""
        if isinstance(layer, MaxPool | AvgPool):
            family: ConvRules | PoolRules | TransposedRules = self.pool
        elif isinstance(layer, ConvTranspose):
            family = self.transposed
        elif isinstance(layer, Conv | Depthwise | Separable | Local):
            family = self.conv
        else:
            return ()
        return (Formula(f"{self.name} rule", f"{family.formula}  [{family.source}]"),)

    # --- convolutions -----------------------------------------------------------------------

    def _conv(self, layer: Conv | Depthwise | Separable | Local, x: Shape,
              refuse: bool) -> Layer:
        rules, ndim = self.conv, len(x.spatial)
        ks, ss = per_axis(layer.k, ndim, "k"), per_axis(layer.stride, ndim, "stride")
        ds = per_axis(getattr(layer, "dilation", (1,)), ndim, "dilation")
        pads = resolve_pads(layer.pad, x.spatial, ks, ss, ds)
        if refuse:
            what = "convolution"
            if max(ds) > 1 and not rules.dilation:
                raise self._refused(what, "has no dilation", rules.source, "dilation")
            if max(ds) > 1 and max(ss) > 1 and not rules.dilated_strides:
                raise self._refused(what, "refuses a stride above 1 with a dilation above 1",
                                    rules.source, "dilation")
            if layer.pad in ("same", "same-lower") and layer.pad in rules.words and \
                    max(ds) > 1 and not rules.dilated_words:
                raise self._refused(what, "refuses a padding word with a dilation above 1 "
                                    "(give the pads as numbers)", rules.source, "pad")
            if layer.pad == "same" and "same" in rules.words and max(ss) > 1 \
                    and not rules.same_strided:
                raise self._refused(what, "refuses padding 'same' with a stride above 1 "
                                    "(give the pads as numbers)", rules.source, "pad")
            self._judge_pads(what, layer.pad, pads, rules.words, rules.pads, rules.source,
                             x, ks, ss, ds)
        if rules.truncates:
            truncated = _truncated(x.spatial, ks, ss, ds, pads)
            if truncated != pads:
                return dataclasses.replace(layer, pad=truncated)
        return layer

    # --- pooling ----------------------------------------------------------------------------

    def _pool(self, layer: MaxPool | AvgPool, x: Shape, refuse: bool) -> Layer:
        rules, ndim = self.pool, len(x.spatial)
        is_max = isinstance(layer, MaxPool)
        what = "max pooling" if is_max else "average pooling"
        ks = per_axis(layer.k, ndim, "k")
        ss = per_axis(layer.k if layer.stride is None else layer.stride, ndim, "stride")
        ds = per_axis(layer.dilation, ndim, "dilation") if isinstance(layer, MaxPool) \
            else (1,) * ndim
        ceil = rules.ceil_default if layer.ceil is None else layer.ceil
        pad: Pads = ((0, 0),) if layer.pad is None else layer.pad
        if layer.pad is None and is_max and rules.pads_kernel:
            pad = tuple(((k - 1) // 2, k - 1 - (k - 1) // 2) for k in ks)
        pads = resolve_pads(pad, x.spatial, ks, ss, ds)
        if refuse:
            if not is_max and not rules.windowed_avg:
                raise self._refused(what, "is global only", rules.source, "k")
            if ceil and not rules.ceil:
                raise self._refused(what, "has no ceil mode", rules.source, "ceil")
            if max(ds) > 1 and not rules.dilation:
                raise self._refused(what, "has no dilation", rules.source, "dilation")
            word = pad in ("same", "same-lower") and pad in rules.words
            if word and max(ds) > 1 and not rules.dilated_words:
                raise self._refused(what, "sizes a padding word with a dilation above 1 "
                                    "against its own formula (give the pads as numbers)",
                                    rules.source, "pad")
            if word and is_max and not rules.max_same_gaps and any(
                    (-(-i // s) - 1) * s + k < i
                    for i, k, s in zip(x.spatial, ks, ss, strict=True)):
                raise self._refused(what, "fails on a padding word whose windows leave gaps "
                                    "(a negative padding; give the pads as numbers)",
                                    rules.source, "pad")
            allowed = rules.pads if is_max or rules.avg_pads is None else rules.avg_pads
            native = self._judge_pads(what, pad, pads, rules.words, allowed, rules.source,
                                      x, ks, ss, ds)
            if not native and any(rules.limit.refuses(p, k) for pair, k in zip(pads, ks,
                                                                                 strict=True)
                                  for p in pair):
                raise self._refused(what, f"takes pads {rules.limit.value}", rules.source,
                                    "pad")
        adapted = dataclasses.replace(layer, pad=pad, ceil=ceil)
        if ceil and (rules.clip is Clip.NEVER or (rules.clip is Clip.IF_PADDED and
                                                  not any(map(any, pads)))):
            adapted = _unclipped(adapted, x.spatial, ks, ss, ds, pads)
        elif rules.truncates and not ceil:
            truncated = _truncated(x.spatial, ks, ss, ds, pads)
            if truncated != pads:
                adapted = dataclasses.replace(adapted, pad=truncated)
        return adapted

    # --- transposed convolutions -------------------------------------------------------------

    def _transposed(self, layer: ConvTranspose, x: Shape, refuse: bool) -> Layer:
        rules, ndim = self.transposed, len(x.spatial)
        what = "transposed convolution"
        ks, ss = per_axis(layer.k, ndim, "k"), per_axis(layer.stride, ndim, "stride")
        ds = per_axis(layer.dilation, ndim, "dilation")
        given = layer.output_padding
        extras = per_axis(given or (0,), ndim, "output_padding")
        word = layer.pad if isinstance(layer.pad, str) else None
        valid = word == "valid" or (word is None and not any(map(any, layer.pad)))
        if refuse:
            if max(ds) > 1 and not rules.dilation:
                raise self._refused(what, "has no dilation", rules.source, "dilation")
            if max(ds) > 1 and max(ss) > 1 and not rules.dilated_strides:
                raise self._refused(what, "refuses a stride above 1 with a dilation above 1",
                                    rules.source, "dilation")
            if any(extras) and not rules.output_padding:
                raise self._refused(what, "has no output padding", rules.source,
                                    "output_padding")
            if rules.below_stride and any(a >= s for a, s in zip(extras, ss, strict=True)):
                raise self._refused(what, "takes an output padding below the stride only",
                                    rules.source, "output_padding")
            if word not in (None, "valid") and (rules.words is WordSizes.NONE or
                                                (rules.words is WordSizes.KERAS and
                                                 word != "same")):
                raise self._refused(what, f"has no padding word {word!r}", rules.source,
                                    "pad")
            if word is None and not valid and rules.pads.refuses(
                    per_axis_pads(layer.pad, ndim), [((0, 0),) * ndim]):
                raise self._refused(what, f"takes {rules.pads.value}", rules.source, "pad")
        if rules.words is WordSizes.KERAS and (valid or word == "same"):
            targets = [_keras_transposed(i, span(k, d), s, word == "same",
                                         None if given is None else a)
                       for i, k, s, d, a in zip(x.spatial, ks, ss, ds, extras, strict=True)]
        elif rules.words is WordSizes.ONNX and word in ("same", "same-lower"):
            targets = [min(i * s, (i - 1) * s + span(k, d) + a)
                       for i, k, s, d, a in zip(x.spatial, ks, ss, ds, extras, strict=True)]
        else:
            return layer if given is not None else dataclasses.replace(layer, output_padding=(0,))
        return _transposed_to(layer, x.spatial, ks, ss, ds, targets, word == "same-lower")

    # --- shared -------------------------------------------------------------------------

    def _judge_pads(self, what: str, pad: Pads, pads: PadPairs, words: tuple[str, ...],
                    rule: PadRule, source: str, x: Shape, ks: tuple[int, ...],
                    ss: tuple[int, ...], ds: tuple[int, ...]) -> bool:
        """Refuse pads the layer cannot take; True when a word of its own gave them."""
        if isinstance(pad, str) and pad in words:
            return True
        native = [tuple(resolve_pad(word, i, span(k, d), s) for i, k, s, d in
                        zip(x.spatial, ks, ss, ds, strict=True)) for word in words]
        if rule.refuses(pads, native):
            shown = ", ".join(f"{a},{b}" if a != b else str(a) for a, b in pads)
            takes = rule.value if rule is not PadRule.WORDS else \
                f"only the padding words {' and '.join(repr(w) for w in words)}"
            raise self._refused(what, f"takes {takes}, not pads {shown}", source, "pad")
        return False

    def _refused(self, what: str, reason: str, source: str, field: str) -> LayerError:
        return LayerError("refused", f"{self.framework}'s {what} {reason} [{source}]", field)


def per_axis_pads(pad: Pads, ndim: int) -> PadPairs:
    """Explicit pads per axis (a 1-tuple broadcast)."""
    assert not isinstance(pad, str)
    return pad * ndim if len(pad) == 1 else pad


def _truncated(sizes: tuple[int, ...], ks: tuple[int, ...], ss: tuple[int, ...],
               ds: tuple[int, ...], pads: PadPairs) -> PadPairs:
    """Pads that give C's division toward zero under floor division.

    ``(i + p − k̂)/s + 1`` in C is 1, not 0, when the kernel overhangs the padded input by
    less than the stride: the missing taps read zeros (Caffe's im2col, Darknet's im2col_cpu
    return 0 outside the image), which is an extra pad at the end.
    """
    out = []
    for i, k, s, d, (before, after) in zip(sizes, ks, ss, ds, pads, strict=True):
        short = span(k, d) - (i + before + after)
        out.append((before, after + short) if 0 < short < s else (before, after))
    return tuple(out)


def _unclipped(layer: MaxPool | AvgPool, sizes: tuple[int, ...], ks: tuple[int, ...],
               ss: tuple[int, ...], ds: tuple[int, ...], pads: PadPairs) -> MaxPool | AvgPool:
    """Ceil mode that keeps every last window, as floor mode over a longer end padding.

    convcalc's ceil mode is PyTorch's, which drops a last window that would start in the
    end padding. Where that drops one, the framework's windows are the floored windows of
    an input padded at the end until they tile it (their last window is clipped there).
    """
    torch_sizes = [Window(i, k, s, p, d, True).output
                   for i, k, s, d, p in zip(sizes, ks, ss, ds, pads, strict=True)]
    kept = [-(-(i + a + b - span(k, d)) // s) + 1
            for i, k, s, d, (a, b) in zip(sizes, ks, ss, ds, pads, strict=True)]
    if kept == torch_sizes:
        return layer
    longer = tuple((a, b + (-(i + a + b - span(k, d))) % s)
                   for i, k, s, d, (a, b) in zip(sizes, ks, ss, ds, pads, strict=True))
    return dataclasses.replace(layer, pad=longer, ceil=False)


def _keras_transposed(size: int, kernel_span: int, stride: int, same: bool,
                      extra: int | None) -> int:
    """Keras 3's output size (backend_utils._get_output_shape_given_tf_padding)."""
    if same:
        return size * stride if extra is None else \
            (size - 1) * stride + kernel_span % 2 + extra
    extra = max(kernel_span, stride) - kernel_span if extra is None else extra
    return (size - 1) * stride + kernel_span + extra


def _transposed_to(layer: ConvTranspose, sizes: tuple[int, ...], ks: tuple[int, ...],
                   ss: tuple[int, ...], ds: tuple[int, ...], targets: list[int],
                   lower: bool) -> ConvTranspose:
    """The pads and output padding that give ``targets``: symmetric pads where they can."""
    pads, extras = [], []
    for i, k, s, d, target in zip(sizes, ks, ss, ds, targets, strict=True):
        cut = (i - 1) * s + span(k, d) - target
        if cut < 0:
            pads.append((0, 0))
            extras.append(-cut)
        elif cut % 2 and max(s, d) > 1:
            pads.append(((cut + 1) // 2, (cut + 1) // 2))
            extras.append(1)
        else:
            small, large = cut // 2, cut - cut // 2
            pads.append((large, small) if lower else (small, large))
            extras.append(0)
    return dataclasses.replace(layer, pad=tuple(pads), output_padding=tuple(extras))


# --- the rule sets ------------------------------------------------------------------------------

PYTORCH = Rules(
    DEFAULT, DEFAULT_FRAMEWORK,
    ConvRules("floor((i + p_l + p_r − d·(k − 1) − 1)/s) + 1",
              "pytorch: torch.nn.Conv2d docs, Shape; padding='same' with stride > 1 refused in "
              "torch/nn/modules/conv.py _ConvNd.__init__",
              words=("valid", "same"), same_strided=False),
    PoolRules("floor, or ceil in ceil mode, of (i + 2p − d·(k − 1) − 1)/s, + 1; ceil mode drops "
              "a last window that would start in the right padding",
              "pytorch: aten/src/ATen/native/Pool.h pooling_output_shape_pad_lr; pad ≤ k/2 "
              "checked in pool2d_shape_check",
              limit=PadLimit.HALF_KERNEL),
    TransposedRules("(i − 1)·s − 2p + d·(k − 1) + output_padding + 1",
                    "pytorch: torch.nn.ConvTranspose2d docs, Shape"),
)

TENSORFLOW = Rules(
    "tensorflow", "TensorFlow (tf.nn)",
    ConvRules("VALID: ceil((i − k̂ + 1)/s); SAME: ceil(i/s), the odd pixel of padding after; "
              "or explicit paddings",
              "tensorflow: tf.nn module docs, Notes on padding; tf.nn.conv2d padding",
              words=("valid", "same"), pads=PadRule.ANY),
    PoolRules("VALID: ceil((i − k + 1)/s); SAME: ceil(i/s); no ceil mode; max_pool2d also "
              "takes explicit paddings no larger than the window, avg_pool2d does not",
              "tensorflow: tf.nn.max_pool2d and tf.nn.avg_pool2d docs, padding",
              words=("valid", "same"), pads=PadRule.ANY, avg_pads=PadRule.WORDS,
              limit=PadLimit.KERNEL, ceil=False, dilation=False),
    TransposedRules("(i − 1)·s + k̂ − p_l − p_r + a: conv2d_transpose is given its output "
                    "shape, any size whose convolution gives back i",
                    "tensorflow: tf.nn.conv2d_transpose docs, output_shape and padding",
                    pads=PadRule.ANY),
)

KERAS = Rules(
    "keras", "Keras",
    ConvRules("valid: floor((i − k̂)/s) + 1; same: floor((i − 1)/s) + 1",
              "keras: keras/src/ops/operation_utils.py compute_conv_output_shape; strides > 1 "
              "with dilation_rate > 1 refused in keras/src/layers/convolutional/base_conv.py",
              words=("valid", "same"), pads=PadRule.WORDS, dilated_strides=False),
    PoolRules("valid: floor((i − k)/s) + 1; same: floor((i − 1)/s) + 1; no ceil mode",
              "keras: keras/src/ops/operation_utils.py compute_pooling_output_shape",
              words=("valid", "same"), pads=PadRule.WORDS, ceil=False, dilation=False),
    TransposedRules("valid: (i − 1)·s + k̂ + a, a = max(k̂, s) − k̂ when unset; same: i·s when "
                    "a is unset, else (i − 1)·s + k̂ mod 2 + a",
                    "keras: keras/src/backend/common/backend_utils.py "
                    "_get_output_shape_given_tf_padding (conv_utils.deconv_output_length in "
                    "Keras 2); output_padding < strides, and no strides > 1 with dilation_rate "
                    "> 1, in base_conv_transpose.py",
                    words=WordSizes.KERAS, pads=PadRule.WORDS, below_stride=True,
                    dilated_strides=False),
)

ONNX = Rules(
    "onnx", "ONNX (onnxruntime)",
    ConvRules("floor((i + pad_begin + pad_end − d·(k − 1) − 1)/s) + 1; auto_pad SAME_UPPER "
              "(same) and SAME_LOWER (same-lower): ceil(i/s), the odd pixel after or before",
              "onnx: docs/Operators.md, Conv (auto_pad, pads); onnxruntime: "
              "core/providers/common.h ComputePadAndOutputShape (no dilation with SAME)",
              words=("valid", "same", "same-lower"), pads=PadRule.ANY, dilated_words=False),
    PoolRules("(i + pad_begin + pad_end − d·(k − 1) − 1)/s + 1 in C integer division, or its "
              "ceil with ceil_mode, which drops a last window that would start in the end "
              "padding",
              "onnx: docs/Operators.md, MaxPool; onnxruntime: "
              "core/providers/cpu/nn/pool_attributes.h (pads below the kernel; SAME pads "
              "from the undilated kernel, never negative for MaxPool; C division)",
              words=("valid", "same", "same-lower"), pads=PadRule.ANY,
              limit=PadLimit.BELOW_KERNEL, dilated_words=False, max_same_gaps=False,
              truncates=True),
    TransposedRules("s·(i − 1) + a + d·(k − 1) + 1 − pad_begin − pad_end; auto_pad SAME_UPPER "
                    "and SAME_LOWER: min(i·s, s·(i − 1) + a + d·(k − 1) + 1)",
                    "onnx: docs/Operators.md, ConvTranspose; onnxruntime: "
                    "core/providers/cpu/nn/conv_transpose_attributes.h "
                    "ComputeTransposePadAndOutputShape (output_padding below the stride)",
                    words=WordSizes.ONNX, pads=PadRule.ANY, below_stride=True),
)

CAFFE = Rules(
    "caffe", "Caffe",
    ConvRules("(i + 2·pad − k̂)/stride + 1 in C integer division",
              "caffe: src/caffe/layers/conv_layer.cpp ConvolutionLayer::compute_output_shape",
              truncates=True),
    PoolRules("ceil((i + 2·pad − k)/stride) + 1 (round_mode CEIL, the default; FLOOR floors); "
              "when padded, a last window that would start in the padding is dropped",
              "caffe: src/caffe/layers/pooling_layer.cpp PoolingLayer::Reshape, "
              "CHECK_LT(pad, kernel) in LayerSetUp; caffe.proto PoolingParameter.round_mode",
              limit=PadLimit.BELOW_KERNEL, ceil_default=True, clip=Clip.IF_PADDED,
              dilation=False),
    TransposedRules("stride·(i − 1) + k̂ − 2·pad",
                    "caffe: src/caffe/layers/deconv_layer.cpp "
                    "DeconvolutionLayer::compute_output_shape",
                    output_padding=False),
)

MXNET = Rules(
    "mxnet", "MXNet",
    ConvRules("(i + 2·pad − k̂)/stride + 1, the kernel no larger than the padded input",
              "mxnet: src/operator/nn/convolution-inl.h ConvolutionProp::InferShape"),
    PoolRules("valid: 1 + floor((i + 2·pad − k)/stride); full: 1 + ceil((i + 2·pad − k)/stride), "
              "no window dropped",
              "mxnet: src/operator/nn/pooling-inl.h PoolingProp::InferShape "
              "(pooling_convention)",
              clip=Clip.NEVER, dilation=False),
    TransposedRules("stride·(i − 1) + k̂ − 2·pad + adj",
                    "mxnet: src/operator/nn/deconvolution-inl.h DeconvolutionParam::InferPad"),
)

DARKNET = Rules(
    "darknet", "Darknet",
    ConvRules("(i + 2·pad − size)/stride + 1 in C integer division",
              "darknet: src/convolutional_layer.c convolutional_out_height",
              dilation=False, truncates=True),
    PoolRules("(i + padding − size)/stride + 1 in C integer division, padding = size − 1 "
              "unless given, padding/2 of it before; [avgpool] is global",
              "darknet: src/maxpool_layer.c make_maxpool_layer, forward_maxpool_layer "
              "(w_offset = −l.pad/2); src/parser.c parse_maxpool",
              pads=PadRule.SPLIT, ceil=False, dilation=False, windowed_avg=False,
              pads_kernel=True, truncates=True),
    TransposedRules("(i − 1)·stride + size − 2·pad",
                    "darknet: src/deconvolutional_layer.c make_deconvolutional_layer",
                    output_padding=False, dilation=False),
)

RULES: dict[str, Rules] = {rules.name: rules for rules in
                           (PYTORCH, TENSORFLOW, KERAS, ONNX, CAFFE, MXNET, DARKNET)}


def rules_named(name: str) -> Rules:
    """The rule set called ``name``; a ``ValueError`` naming the choices otherwise."""
    if name not in RULES:
        raise ValueError(f"unknown rules {name!r}; one of: {', '.join(RULES)}")
    return RULES[name]
