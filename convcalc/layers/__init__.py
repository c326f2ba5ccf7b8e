"""The registry of layer kinds: one line per kind, grouped by family module.

A family's module is imported when one of its kinds is first named: a spec uses a few
families, and each costs start-up time (Python makes its dataclasses at every start).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module

from convcalc.layers.base import Layer


class Registry(Mapping[str, type[Layer]]):
    """The layer kinds by registry name; each family module is imported when first asked."""

    def __init__(self, places: dict[str, str]) -> None:
        self.places = places  # registry name → "module.Class" under convcalc.layers
        self.loaded: dict[str, type[Layer]] = {}

    def __getitem__(self, name: str) -> type[Layer]:
        kind = self.loaded.get(name)
        if kind is None:
            module, _, cls = self.places[name].partition(".")
            kind = self.loaded[name] = getattr(import_module(f"convcalc.layers.{module}"), cls)
        return kind

    def __contains__(self, name: object) -> bool:
        return name in self.places

    def __iter__(self) -> Iterator[str]:
        return iter(self.places)

    def __len__(self) -> int:
        return len(self.places)


class Names(dict[type[Layer], str]):
    """Each kind's registry name by its class, found from the class's module and name (so
    naming a class imports no other family); each is worked out once."""

    def __init__(self, places: dict[str, str]) -> None:
        super().__init__()
        self.names = {place: name for name, place in places.items()}

    def __missing__(self, kind: type[Layer]) -> str:
        name = self[kind] = self.names[f"{kind.__module__.rpartition('.')[2]}.{kind.__name__}"]
        return name


KINDS: Registry = Registry({
    "conv": "conv.Conv",
    "conv-transpose": "conv.ConvTranspose",
    "depthwise": "conv.Depthwise",
    "separable": "conv.Separable",
    "local": "conv.Local",
    "maxpool": "pool.MaxPool",
    "avgpool": "pool.AvgPool",
    "global-avgpool": "pool.GlobalAvgPool",
    "global-maxpool": "pool.GlobalMaxPool",
    "adaptive-avgpool": "pool.AdaptiveAvgPool",
    "adaptive-maxpool": "pool.AdaptiveMaxPool",
    "fc": "dense.Dense",
    "flatten": "dense.Flatten",
    "bn": "norm.BatchNorm",
    "layernorm": "norm.LayerNorm",
    "lrn": "norm.LRN",
    "layer-scale": "norm.LayerScale",
    "relu": "simple.ReLU",
    "relu6": "simple.ReLU6",
    "leaky-relu": "simple.LeakyReLU",
    "sigmoid": "simple.Sigmoid",
    "tanh": "simple.Tanh",
    "silu": "simple.SiLU",
    "hard-swish": "simple.HardSwish",
    "hard-sigmoid": "simple.HardSigmoid",
    "gelu": "simple.GELU",
    "softmax": "simple.Softmax",
    "dropout": "simple.Dropout",
    "stochastic-depth": "simple.StochasticDepth",
    "identity": "simple.Identity",
    "upsample": "simple.Upsample",
    "channel-shuffle": "simple.ChannelShuffle",
    "zeropad": "simple.ZeroPad",
    "opaque": "opaque.Opaque",
    "tokens": "tokens.Tokens",
    "grid": "tokens.Grid",
    "class-token": "tokens.ClassToken",
    "position-embedding": "tokens.PositionEmbedding",
    "take-token": "tokens.TakeToken",
    "token-fc": "tokens.TokenDense",
    "patch-merge": "tokens.PatchMerge",
    "attention": "attention.Attention",
    "window-attention": "attention.WindowAttention",
    "block-attention": "attention.BlockAttention",
    "grid-attention": "attention.GridAttention",
})

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

NAME_OF: Names = Names(KINDS.places)


def lookup(name: str) -> type[Layer] | None:
    """The kind called ``name`` (or one of its aliases), if any; ``_`` reads as ``-``."""
    name = name.replace("_", "-")
    name = ALIASES.get(name, name)
    return KINDS.loaded.get(name) or (KINDS[name] if name in KINDS.places else None)
