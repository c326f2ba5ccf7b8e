"""Deploy prototxts of the BVLC reference models, written here as Caffe's model zoo has them
(models/bvlc_alexnet, bvlc_reference_caffenet, bvlc_googlenet, and VGG's
VGG_ILSVRC_16_layers_deploy.prototxt in the old `layers` format with `input_dim`)."""

from __future__ import annotations


def layer(name: str, kind: str, bottom: str, top: str, param: str = "") -> str:
    return (f'layer {{\n  name: "{name}"\n  type: "{kind}"\n  bottom: "{bottom}"\n'
            f'  top: "{top}"\n{param}}}\n')


def conv(name: str, bottom: str, out: int, k: int, stride: int = 1, pad: int = 0,
         group: int = 1, relu: str | None = None) -> str:
    extra = (f"    pad: {pad}\n" if pad else "") + (f"    group: {group}\n" if group > 1 else "") \
        + (f"    stride: {stride}\n" if stride > 1 else "")
    text = layer(name, "Convolution", bottom, name,
                 f"  convolution_param {{\n    num_output: {out}\n    kernel_size: {k}\n"
                 f"{extra}  }}\n")
    return text + (layer(relu, "ReLU", name, name) if relu else "")


def pool(name: str, bottom: str, k: int, stride: int, method: str = "MAX", pad: int = 0) -> str:
    padding = f"    pad: {pad}\n" if pad else ""
    return layer(name, "Pooling", bottom, name,
                 f"  pooling_param {{\n    pool: {method}\n    kernel_size: {k}\n"
                 f"    stride: {stride}\n{padding}  }}\n")


def lrn(name: str, bottom: str) -> str:
    return layer(name, "LRN", bottom, name,
                 "  lrn_param {\n    local_size: 5\n    alpha: 0.0001\n    beta: 0.75\n  }\n")


def fc(name: str, bottom: str, out: int, relu: str | None = None, drop: str | None = None
       ) -> str:
    text = layer(name, "InnerProduct", bottom, name,
                 f"  inner_product_param {{\n    num_output: {out}\n  }}\n")
    if relu:
        text += layer(relu, "ReLU", name, name)
    if drop:
        text += layer(drop, "Dropout", name, name, "  dropout_param {\n    dropout_ratio: 0.5\n"
                                                   "  }\n")
    return text


def input_layer(size: int) -> str:
    return ('layer {\n  name: "data"\n  type: "Input"\n  top: "data"\n  input_param { shape: '
            f'{{ dim: 10 dim: 3 dim: {size} dim: {size} }} }}\n}}\n')


def head(bottom: str) -> str:
    return (fc("fc6", bottom, 4096, "relu6", "drop6") + fc("fc7", "fc6", 4096, "relu7", "drop7")
            + fc("fc8", "fc7", 1000) + layer("prob", "Softmax", "fc8", "prob"))


def alexnet(caffenet: bool = False) -> str:
    """bvlc_alexnet, or bvlc_reference_caffenet (pooling before normalisation)."""
    def stage(n: int, bottom: str, out: int, k: int, stride: int = 1, pad: int = 0,
              group: int = 1) -> str:
        text = conv(f"conv{n}", bottom, out, k, stride, pad, group, f"relu{n}")
        if caffenet:
            return text + pool(f"pool{n}", f"conv{n}", 3, 2) + lrn(f"norm{n}", f"pool{n}")
        return text + lrn(f"norm{n}", f"conv{n}") + pool(f"pool{n}", f"norm{n}", 3, 2)

    last = "norm2" if caffenet else "pool2"
    return (f'name: "{"CaffeNet" if caffenet else "AlexNet"}"\n' + input_layer(227)
            + stage(1, "data", 96, 11, 4) + stage(2, "pool1" if not caffenet else "norm1",
                                                  256, 5, pad=2, group=2)
            + conv("conv3", last, 384, 3, pad=1, relu="relu3")
            + conv("conv4", "conv3", 384, 3, pad=1, group=2, relu="relu4")
            + conv("conv5", "conv4", 256, 3, pad=1, group=2, relu="relu5")
            + pool("pool5", "conv5", 3, 2) + head("pool5"))


def vgg16() -> str:
    """VGG_ILSVRC_16_layers_deploy.prototxt: `input_dim` and the old `layers` format."""
    lines = ['name: "VGG_ILSVRC_16_layers"', 'input: "data"', "input_dim: 10", "input_dim: 3",
             "input_dim: 224", "input_dim: 224"]

    def old(name: str, kind: str, bottom: str, param: str = "") -> None:
        lines.append(f'layers {{\n  bottom: "{bottom}"\n  top: "{name}"\n  name: "{name}"\n'
                     f"  type: {kind}\n{param}}}")

    bottom = "data"
    for block, (width, count) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), 1):
        for index in range(1, count + 1):
            name = f"conv{block}_{index}"
            old(name, "CONVOLUTION", bottom, f"  convolution_param {{\n    num_output: {width}\n"
                                             "    pad: 1\n    kernel_size: 3\n  }\n")
            old(f"relu{block}_{index}", "RELU", name)
            lines[-1] = lines[-1].replace(f'top: "relu{block}_{index}"', f'top: "{name}"')
            bottom = name
        old(f"pool{block}", "POOLING", bottom, "  pooling_param {\n    pool: MAX\n"
                                               "    kernel_size: 2\n    stride: 2\n  }\n")
        bottom = f"pool{block}"
    for name, units in (("fc6", 4096), ("fc7", 4096), ("fc8", 1000)):
        old(name, "INNER_PRODUCT", bottom, f"  inner_product_param {{\n    num_output: {units}\n"
                                           "  }\n")
        bottom = name
        if name != "fc8":
            old(f"relu{name[2:]}", "RELU", name)
            lines[-1] = lines[-1].replace(f'top: "relu{name[2:]}"', f'top: "{name}"')
            old(f"drop{name[2:]}", "DROPOUT", name, "  dropout_param {\n    dropout_ratio: 0.5\n"
                                                    "  }\n")
            lines[-1] = lines[-1].replace(f'top: "drop{name[2:]}"', f'top: "{name}"')
    old("prob", "SOFTMAX", "fc8")
    return "\n".join(lines) + "\n"


INCEPTIONS = {"3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64),
              "4a": (192, 96, 208, 16, 48, 64), "4b": (160, 112, 224, 24, 64, 64),
              "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
              "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
              "5b": (384, 192, 384, 48, 128, 128)}


def inception(name: str, bottom: str, widths: tuple[int, ...]) -> str:
    c1, r3, c3, r5, c5, pp = widths
    p = f"inception_{name}"
    branches = (conv(f"{p}/1x1", bottom, c1, 1, relu=f"{p}/relu_1x1")
                + conv(f"{p}/3x3_reduce", bottom, r3, 1, relu=f"{p}/relu_3x3_reduce")
                + conv(f"{p}/3x3", f"{p}/3x3_reduce", c3, 3, pad=1, relu=f"{p}/relu_3x3")
                + conv(f"{p}/5x5_reduce", bottom, r5, 1, relu=f"{p}/relu_5x5_reduce")
                + conv(f"{p}/5x5", f"{p}/5x5_reduce", c5, 5, pad=2, relu=f"{p}/relu_5x5")
                + pool(f"{p}/pool", bottom, 3, 1, pad=1)
                + conv(f"{p}/pool_proj", f"{p}/pool", pp, 1, relu=f"{p}/relu_pool_proj"))
    joined = "".join(f'  bottom: "{p}/{b}"\n' for b in ("1x1", "3x3", "5x5", "pool_proj"))
    return branches + (f'layer {{\n  name: "{p}/output"\n  type: "Concat"\n{joined}'
                       f'  top: "{p}/output"\n}}\n')


def googlenet() -> str:
    """bvlc_googlenet/deploy.prototxt: `input` with `input_shape`, no auxiliary heads."""
    text = ('name: "GoogleNet"\ninput: "data"\ninput_shape {\n  dim: 10\n  dim: 3\n  dim: 224\n'
            "  dim: 224\n}\n")
    text += conv("conv1/7x7_s2", "data", 64, 7, 2, 3, relu="conv1/relu_7x7")
    text += pool("pool1/3x3_s2", "conv1/7x7_s2", 3, 2) + lrn("pool1/norm1", "pool1/3x3_s2")
    text += conv("conv2/3x3_reduce", "pool1/norm1", 64, 1, relu="conv2/relu_3x3_reduce")
    text += conv("conv2/3x3", "conv2/3x3_reduce", 192, 3, pad=1, relu="conv2/relu_3x3")
    text += lrn("conv2/norm2", "conv2/3x3") + pool("pool2/3x3_s2", "conv2/norm2", 3, 2)
    bottom = "pool2/3x3_s2"
    for name, widths in INCEPTIONS.items():
        text += inception(name, bottom, widths)
        bottom = f"inception_{name}/output"
        if name in ("3b", "4e"):
            pooled = f"pool{3 if name == '3b' else 4}/3x3_s2"
            text += pool(pooled, bottom, 3, 2)
            bottom = pooled
    text += pool("pool5/7x7_s1", bottom, 7, 1, "AVE")
    text += layer("pool5/drop_7x7_s1", "Dropout", "pool5/7x7_s1", "pool5/7x7_s1",
                  "  dropout_param {\n    dropout_ratio: 0.4\n  }\n")
    text += fc("loss3/classifier", "pool5/7x7_s1", 1000)
    return text + layer("prob", "Softmax", "loss3/classifier", "prob")
