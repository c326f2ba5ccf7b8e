"""A PyTorch model (a torchvision name or a factory) as an op graph, traced with torch.fx.

The model is built with its parameters on the ``meta`` device (no memory, no weights, no
download), traced at module granularity (``nn.Conv2d``, ``nn.BatchNorm2d``... are single
nodes; torchvision's own blocks are traced through, so residual adds, concats, chunks and
SE multiplications are visible), then run once on a meta input by an interpreter that
records every node's output shape and, with ``torch.utils.flop_counter``, the model's MACs.

Calling the factory runs code the user named (a torchvision builder, or their own module):
that is the point of a factory, and the README says so. Nothing else is executed.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import re
import typing
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from convcalc.importers import layers, torch_attention, torch_ops
from convcalc.importers.graph import Builder, Graph, ImportFailure, Totals, Unsupported
from convcalc.shape import Shape

_FACTORY = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def one_line(exc: BaseException) -> str:
    """An exception as one printable line of at most 300 characters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = "".join(c if c.isprintable() else " " for c in text)
    return f"{type(exc).__name__}: {text[:300]}"


# What the user's code may raise while convcalc runs it: any error, and SystemExit too (a
# factory that parses sys.argv with argparse ends with it), which would otherwise end
# convcalc silently with the factory's exit code.
USER_CODE_FAILURES = (Exception, SystemExit)


def read(ref: str, input_shape: Shape | None) -> Graph:
    """The graph of ``torchvision:NAME`` or ``package.module:factory`` at ``input_shape``."""
    try:
        import torch
        import torch.fx
    except ImportError:
        raise ImportFailure('importing a PyTorch model needs torch: pip install '
                            '"convcalc[torch]"') from None
    factory, default = _factory(ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shape = input_shape or default
        if ref.startswith("torchvision:") and shape is not None:
            factory = _built_for(factory, shape)
        model = _build(ref, factory)
        if shape is None:
            raise ImportFailure(f"{ref}: give the input shape with --input HxWxC (e.g. "
                                "224x224x3)")
        try:
            traced = _trace(model)
        except USER_CODE_FAILURES as exc:
            raise ImportFailure(f"torch.fx cannot trace {ref}: {one_line(exc)} (export it "
                                "to ONNX and import the .onnx file instead)") from None
        values, flops = _run(ref, traced, shape)
    reader = _Reader(traced, values, Builder(ref.split(":")[-1], ref))
    graph = reader.read()
    graph.source = (f"{ref}, traced by torch.fx (torch {torch.__version__}"
                    + _torchvision_version(ref) + ")")
    graph.totals = reader.totals(model, flops)
    return graph


def _trace(model: Any) -> Any:
    """The model traced by torch.fx with torch.nn's modules as leaves (as
    ``symbolic_trace`` does) and the modules convcalc reads whole
    (:func:`torch_attention.leaf_modules`: MaxViT's window partitions and attention)."""
    import torch.fx

    leaves = torch_attention.leaf_modules()

    class Tracer(torch.fx.Tracer):
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return isinstance(m, leaves) or super().is_leaf_module(m, qualname)

    graph = Tracer().trace(model)
    return torch.fx.GraphModule(model, graph, type(model).__name__)


def _torchvision_version(ref: str) -> str:
    if not ref.startswith("torchvision:"):
        return ""
    import torchvision

    return f", torchvision {torchvision.__version__}"


def _factory(ref: str) -> tuple[Callable[[], Any], Shape | None]:
    """The callable that builds the model, and its default input (torchvision's crop)."""
    if not _FACTORY.fullmatch(ref):
        raise ImportFailure(f"{ref!r} is not a model: give an .onnx file, torchvision:NAME or "
                            "package.module:factory")
    where, name = ref.split(":")
    if where == "torchvision":
        return _torchvision(name)
    try:
        found: Any = importlib.import_module(where)
        for part in name.split("."):
            found = getattr(found, part)
    except USER_CODE_FAILURES as exc:  # the user's module may raise anything while importing
        raise ImportFailure(f"cannot load the factory {ref}: {one_line(exc)}") from None
    if not callable(found):
        raise ImportFailure(f"{ref} is not callable")
    return found, None


def _torchvision(name: str) -> tuple[Callable[[], Any], Shape | None]:
    try:
        import torchvision
    except ImportError:
        raise ImportFailure('torchvision:NAME needs torchvision: pip install '
                            'torchvision') from None
    try:
        builder = torchvision.models.get_model_builder(name)
    except ValueError:
        raise ImportFailure(f"torchvision has no model {name!r} (torchvision."
                            "models.list_models() lists them)") from None
    crop = 224
    with contextlib.suppress(Exception):  # a model without published weights keeps 224
        crop = torchvision.models.get_model_weights(name).DEFAULT.transforms().crop_size[0]
    return builder, Shape((crop, crop), 3)


def _built_for(builder: Callable[..., Any], shape: Shape) -> Callable[[], Any]:
    """torchvision's builder, for the input size where the model fixes it when built.

    ViT's position embedding and MaxViT's partitions are made for one input size, which
    torchvision sets from its weights (``image_size``, ``input_size`` from the weights'
    ``min_size``: vit_h_14's DEFAULT is 518); the builder's return annotation says which
    model it builds."""
    try:
        from torchvision.models import MaxVit, VisionTransformer

        returns = typing.get_type_hints(builder).get("return")
    except Exception:  # an annotation that does not resolve: build as it is
        return builder
    if not isinstance(returns, type):
        return builder
    if issubclass(returns, VisionTransformer) and len(set(shape.spatial)) == 1:
        return functools.partial(builder, image_size=shape.spatial[0])
    if issubclass(returns, MaxVit) and len(shape.spatial) == 2:
        return functools.partial(builder, input_size=shape.spatial)
    return builder


@contextlib.contextmanager
def _meta_parameters() -> Iterator[None]:
    """Every parameter and buffer a module registers goes to the meta device at once.

    Factories compute with real tensors (RegNet derives its widths with torch ops), so the
    whole build cannot run under ``torch.device("meta")``; moving each tensor as it is
    registered keeps the build fast and its memory small (regnet_y_128gf has 644M params).
    """
    import torch
    from torch import nn

    register_parameter, register_buffer = nn.Module.register_parameter, \
        nn.Module.register_buffer

    def parameter(self: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register_parameter(self, name, param)

    def buffer(self: nn.Module, name: str, tensor: torch.Tensor | None,
               persistent: bool = True) -> None:
        register_buffer(self, name, None if tensor is None else tensor.to("meta"), persistent)

    nn.Module.register_parameter = parameter  # type: ignore[method-assign]
    nn.Module.register_buffer = buffer  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = register_parameter  # type: ignore[method-assign]
        nn.Module.register_buffer = register_buffer  # type: ignore[method-assign]


def _build(ref: str, factory: Callable[[], Any]) -> Any:
    from torch import nn

    try:
        with _meta_parameters():
            model = factory()
    except USER_CODE_FAILURES as exc:  # the factory is the user's code: any failure is one line
        raise ImportFailure(f"the factory {ref} raised {one_line(exc)}") from None
    if not isinstance(model, nn.Module):
        raise ImportFailure(f"the factory {ref} returned a {type(model).__name__}, not a "
                            "torch.nn.Module")
    try:
        return model.eval()
    except USER_CODE_FAILURES as exc:  # a module that is its own child recurses without end
        raise ImportFailure(f"the model of {ref} cannot be put in eval mode: "
                            f"{one_line(exc)}") from None


def _run(ref: str, traced: Any, shape: Shape) -> tuple[dict[Any, Any], int]:
    """Every node's value on a meta input of batch 1, and the FLOPs torch counts."""
    import torch
    import torch.fx
    from torch.utils._python_dispatch import _disable_current_modes
    from torch.utils.flop_counter import FlopCounterMode

    values: dict[Any, Any] = {}
    norms = torch.nn.modules.batchnorm._BatchNorm

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: torch.fx.Node) -> Any:
            # Batch norm at inference is elementwise: no multiply-accumulate for the counter
            # to find, but decomposing it under the counter costs milliseconds a layer
            # (a second of regnet_y_128gf's import). It runs outside the counter.
            elementwise = n.op == "call_module" and isinstance(
                self.module.get_submodule(str(n.target)), norms)
            with _disable_current_modes() if elementwise else contextlib.nullcontext():
                values[n] = result = super().run_node(n)
            return result

    x = torch.zeros(1, shape.channels, *shape.spatial, device="meta")
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            Recorder(traced).run(x)
    except USER_CODE_FAILURES as exc:
        raise ImportFailure(f"running {ref} on a {shape} input failed: "
                            f"{one_line(exc)}") from None
    return values, int(counter.get_total_flops())


class _Reader:
    """Walks the traced graph in order, telling the builder what each node is."""

    def __init__(self, traced: Any, values: dict[Any, Any], builder: Builder) -> None:
        import torch

        self.torch = torch
        self.traced = traced
        self.values = values
        self.b = builder
        self.tensors: dict[Any, Any] = {}  # fx node -> tensor id, or a tuple of part ids
        self.used: dict[str, Any] = {}  # module (or attribute) name -> module or tensor
        self.constants: set[Any] = set()  # nodes computed from the model's own tensors alone
        self.modules = torch_ops.module_handlers()
        self.functions = torch_ops.function_handlers()

    def read(self) -> Graph:
        graph = self.traced.graph
        for node in graph.nodes:
            if node.op == "placeholder":
                if self.b.graph.input >= 0:
                    raise ImportFailure(f"{self.b.graph.path} takes more than one input "
                                        f"({node.name}): convcalc models take one")
                self.tensors[node] = self.b.input(self.dims(node))
            elif node.op == "get_attr":
                self.used[node.target] = self.values[node]
                self.constants.add(node)
            elif node.op == "output":
                self.b.graph.output = self.output(node)
            elif not any(a in self.tensors for a in node.all_input_nodes):
                self.constant(node)
            elif self.is_tensor(self.values.get(node)):
                self.translate(node)
        return self.b.graph

    def constant(self, node: Any) -> None:
        """A node that reads no tensor of the input's (a class token expanded to the batch
        size, Swin's position bias from its table): a value the handlers that read it take apart
        (:meth:`sources`); the modules it runs count in the totals."""
        self.constants.add(node)
        if node.op == "call_module":
            self.used[str(node.target)] = self.traced.get_submodule(node.target)

    def sources(self, nodes: list[Any]) -> list[Any]:
        """The model's parameters, buffers and modules that constant ``nodes`` come from."""
        found: dict[int, Any] = {}
        stack, seen = list(nodes), set()
        while stack:
            node = stack.pop()
            if node in seen or node not in self.constants:
                continue
            seen.add(node)
            if node.op == "get_attr":
                found[id(self.values[node])] = self.values[node]
            elif node.op == "call_module":
                module = self.traced.get_submodule(node.target)
                found[id(module)] = module
            stack.extend(node.all_input_nodes)
        return list(found.values())

    def held(self, sources: list[Any]) -> tuple[int, int]:
        """(params, buffers) of parameters, buffers and modules, each tensor once."""
        tensors: dict[int, Any] = {}
        for source in sources:
            if isinstance(source, self.torch.nn.Module):
                tensors.update((id(t), t) for t in source.parameters())
                tensors.update((id(t), t) for t in _buffers(source))
            else:
                tensors[id(source)] = source
        params = sum(t.numel() for t in tensors.values()
                     if isinstance(t, self.torch.nn.Parameter))
        return params, sum(t.numel() for t in tensors.values()) - params

    def is_tensor(self, value: Any) -> bool:
        """A tensor, or a tuple of them (a split; ``None`` in the places of outputs not
        computed, as ``nn.MultiheadAttention``'s weights); sizes and other values are not."""
        tensor = self.torch.Tensor
        return isinstance(value, tensor) or (
            isinstance(value, tuple | list) and any(isinstance(v, tensor) for v in value)
            and all(isinstance(v, tensor) or v is None for v in value))

    def output(self, node: Any) -> int:
        result = node.args[0]
        while isinstance(result, tuple | list) and len(result) == 1:
            result = result[0]
        tensor = self.tensors.get(result) if not isinstance(result, tuple | list) else None
        if not isinstance(tensor, int):
            what = type(self.values.get(result, result)).__name__
            raise ImportFailure(f"{self.b.graph.path} returns a {what}: convcalc models "
                                "return one tensor")
        return tensor

    def dims(self, node: Any) -> tuple[int, ...]:
        return tuple(int(d) for d in self.values[node].shape)

    def name(self, node: Any) -> str:
        if node.op == "call_module":
            return str(node.target)
        stack = node.meta.get("nn_module_stack") or {}
        scope = next(reversed(stack), "") if stack else ""
        return f"{scope}.{_called(node)}" if scope else _called(node)

    def translate(self, node: Any) -> None:
        name = self.name(node)
        origin = self.origin(node)
        inputs = tuple(t for t in (self.tensors.get(a) for a in node.all_input_nodes)
                       if isinstance(t, int))
        try:
            if node.op == "call_module":
                module = self.traced.get_submodule(node.target)
                by_class = next((h for cls, h in self.modules if isinstance(module, cls)), None)
                if by_class is None:
                    raise Unsupported("convcalc has no layer for this module")
                self.tensors[node] = by_class(self, node, module)
            else:
                by_target = self.functions.get(node.target)
                if by_target is None:
                    raise Unsupported("convcalc has no layer for this function")
                self.tensors[node] = by_target(self, node)
        except Unsupported as exc:
            value = self.values[node]
            fn = exc.fn if isinstance(exc, torch_ops.Elementwise) else None
            if isinstance(value, tuple | list):  # one op per output, named by the first
                self.tensors[node] = tuple(
                    None if part is None else self.b.unsupported(
                        name if i == 0 else f"{name}.{i}", origin, inputs,
                        tuple(part.shape), str(exc), fn) for i, part in enumerate(value))
                return
            dims = tuple(value.shape) if isinstance(value, self.torch.Tensor) else None
            self.tensors[node] = self.b.unsupported(name, origin, inputs, dims, str(exc), fn)

    def origin(self, node: Any) -> str:
        if node.op == "call_module":
            cls = type(self.traced.get_submodule(node.target))
            prefix = "nn." if cls.__module__.startswith("torch.nn") else f"{cls.__module__}."
            return prefix + cls.__qualname__
        if node.op == "call_method":
            return f"Tensor.{node.target}"
        module = getattr(node.target, "__module__", None) or ""
        return f"{module}.{_called(node)}" if module else _called(node)

    # --- helpers for the handlers -----------------------------------------------------------

    def x(self, node: Any, index: int = 0) -> int:
        """The tensor a node reads as its ``index``-th argument."""
        arg = node.args[index] if index < len(node.args) else None
        tensor = self.tensors.get(arg)
        if not isinstance(tensor, int):
            raise Unsupported("its input is not a tensor convcalc follows")
        return tensor

    def arg(self, node: Any, index: int, name: str, default: Any = None) -> Any:
        """An argument by position or keyword, as the value it had when the model ran."""
        value = node.args[index] if index < len(node.args) else node.kwargs.get(name, default)
        return self.values.get(value, value) if isinstance(value, self.torch.fx.Node) else value

    def add_layer(self, node: Any, kind: str, x: int, *, module: Any = None,
                  **fields: Any) -> int:
        params, buffers = self.count(node, module)
        return self.b.layer(self.name(node), self.origin(node), kind, layers.make(kind, **fields),
                            x, self.dims(node), params=params, buffers=buffers)

    def count(self, node: Any, module: Any) -> tuple[int, int]:
        """A module's own parameters and buffers (batch norm's step counter excluded)."""
        if module is None:
            return 0, 0
        params = sum(p.numel() for p in module.parameters())
        if params and node.target in self.used:
            raise Unsupported("the module runs twice with the same parameters; a spec "
                              "would count them twice")
        self.used[node.target] = module
        return params, sum(b.numel() for b in _buffers(module))

    def totals(self, model: Any, flops: int) -> Totals:
        """Params and buffers of what the forward pass uses; MACs from torch's counter."""
        seen: set[int] = set()
        params = buffers = 0
        for used in self.used.values():
            tensors = [used] if isinstance(used, self.torch.Tensor) else \
                [*used.parameters(), *_buffers(used)]
            for t in tensors:
                if id(t) in seen:
                    continue
                seen.add(id(t))
                if isinstance(t, self.torch.nn.Parameter):
                    params += t.numel()
                else:
                    buffers += t.numel()
        everything = sum(p.numel() for p in model.parameters())
        if everything > params:
            self.b.graph.notes.append(f"{everything - params:,} parameters belong to modules "
                                      "the forward pass does not run at inference (e.g. an "
                                      "auxiliary head): not counted")
        return Totals(params, buffers, flops // 2, self.b.shape(self.b.graph.output),
                      "torch.utils.flop_counter FLOPs / 2 (convolutions and matrix products)")


def _buffers(module: Any) -> list[Any]:
    """A module's buffers but batch norm's ``num_batches_tracked``, a count of training
    steps, not of features (as convcalc counts everywhere; Swin's and MaxViT's integer
    relative position indices are buffers)."""
    from torch import nn

    norms = nn.modules.batchnorm._NormBase
    return [b for m in module.modules() for key, b in m.named_buffers(recurse=False)
            if not (isinstance(m, norms) and key == "num_batches_tracked")]


def _called(node: Any) -> str:
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))
