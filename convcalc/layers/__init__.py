"""The registry of layer kinds: one line per kind, grouped by family module."""

from __future__ import annotations

from convcalc.layers.attention import Attention, BlockAttention, GridAttention, WindowAttention
from convcalc.layers.base import Layer
from convcalc.layers.conv import Conv, ConvTranspose, Depthwise, Local, Separable
from convcalc.layers.dense import Dense, Flatten
from convcalc.layers.norm import LRN, BatchNorm, LayerNorm, LayerScale
from convcalc.layers.opaque import Opaque
from convcalc.layers.pool import (
    AdaptiveAvgPool,
    AdaptiveMaxPool,
    AvgPool,
    GlobalAvgPool,
    GlobalMaxPool,
    MaxPool,
)
from convcalc.layers.simple import (
    GELU,
    ChannelShuffle,
    Dropout,
    HardSigmoid,
    HardSwish,
    Identity,
    LeakyReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    StochasticDepth,
    Tanh,
    Upsample,
    ZeroPad,
)
from convcalc.layers.tokens import (
    ClassToken,
    Grid,
    PatchMerge,
    PositionEmbedding,
    TakeToken,
    TokenDense,
    Tokens,
)

KINDS: dict[str, type[Layer]] = {
    "conv": Conv,
    "conv-transpose": ConvTranspose,
    "depthwise": Depthwise,
    "separable": Separable,
    "local": Local,
    "maxpool": MaxPool,
    "avgpool": AvgPool,
    "global-avgpool": GlobalAvgPool,
    "global-maxpool": GlobalMaxPool,
    "adaptive-avgpool": AdaptiveAvgPool,
    "adaptive-maxpool": AdaptiveMaxPool,
    "fc": Dense,
    "flatten": Flatten,
    "bn": BatchNorm,
    "layernorm": LayerNorm,
    "lrn": LRN,
    "layer-scale": LayerScale,
    "relu": ReLU,
    "relu6": ReLU6,
    "leaky-relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "silu": SiLU,
    "hard-swish": HardSwish,
    "hard-sigmoid": HardSigmoid,
    "gelu": GELU,
    "softmax": Softmax,
    "dropout": Dropout,
    "stochastic-depth": StochasticDepth,
    "identity": Identity,
    "upsample": Upsample,
    "channel-shuffle": ChannelShuffle,
    "zeropad": ZeroPad,
    "opaque": Opaque,
    "tokens": Tokens,
    "grid": Grid,
    "class-token": ClassToken,
    "position-embedding": PositionEmbedding,
    "take-token": TakeToken,
    "token-fc": TokenDense,
    "patch-merge": PatchMerge,
    "attention": Attention,
    "window-attention": WindowAttention,
    "block-attention": BlockAttention,
    "grid-attention": GridAttention,
}

# Other spellings people write, each mapped to its registry name.
ALIASES: dict[str, str] = {
    "convolution": "conv",
    "deconv": "conv-transpose",
    "transposed-conv": "conv-transpose",
    "dwconv": "depthwise",
    "sepconv": "separable",
    "locally-connected": "local",
    "pool": "maxpool",
    "max-pool": "maxpool",
    "avg-pool": "avgpool",
    "gap": "global-avgpool",
    "dense": "fc",
    "linear": "fc",
    "batchnorm": "bn",
    "batch-norm": "bn",
    "norm": "lrn",
    "layer-norm": "layernorm",
    "layerscale": "layer-scale",
    "drop-path": "stochastic-depth",
    "leakyrelu": "leaky-relu",
    "swish": "silu",
    "hswish": "hard-swish",
    "hsigmoid": "hard-sigmoid",
    "shuffle": "channel-shuffle",
    # torch's and Keras' names (lower case, without the rank: Conv2d's rank is the input's);
    # written with `_`, they are found too (batch_norm, leaky_relu, max_pooling, …)
    "convtranspose": "conv-transpose",
    "depthwiseconv": "depthwise",
    "depthwise-conv": "depthwise",
    "separableconv": "separable",
    "separable-conv": "separable",
    "maxpooling": "maxpool",
    "max-pooling": "maxpool",
    "averagepooling": "avgpool",
    "average-pooling": "avgpool",
    "globalaveragepooling": "global-avgpool",
    "global-average-pooling": "global-avgpool",
    "global-avg-pool": "global-avgpool",
    "globalmaxpooling": "global-maxpool",
    "global-max-pooling": "global-maxpool",
    "global-max-pool": "global-maxpool",
    "adaptiveavgpool": "adaptive-avgpool",
    "adaptive-avg-pool": "adaptive-avgpool",
    "adaptivemaxpool": "adaptive-maxpool",
    "adaptive-max-pool": "adaptive-maxpool",
    "fully-connected": "fc",
    "batchnormalization": "bn",
    "batch-normalization": "bn",
    "localresponsenorm": "lrn",
    "local-response-norm": "lrn",
    "hardswish": "hard-swish",
    "hard-silu": "hard-swish",
    "hardsigmoid": "hard-sigmoid",
    "upsampling": "upsample",
    "channelshuffle": "channel-shuffle",
    "zeropadding": "zeropad",
    "zero-padding": "zeropad",
    "zero-pad": "zeropad",
    "cls-token": "class-token",
    "pos-embed": "position-embedding",
    "position-embeddings": "position-embedding",
    "self-attention": "attention",
    "mhsa": "attention",
    "patch-merging": "patch-merge",
}

NAME_OF: dict[type[Layer], str] = {cls: name for name, cls in KINDS.items()}


def lookup(name: str) -> type[Layer] | None:
    """The kind called ``name`` (or one of its aliases), if any; ``_`` reads as ``-``."""
    name = name.replace("_", "-")
    return KINDS.get(ALIASES.get(name, name))
