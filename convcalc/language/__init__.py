"""Reading spec files: a path or a bundled name in, a model and its problems out."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from convcalc.model import Model
from convcalc.problem import ERROR, Problem, SpecError
from convcalc.shape import Shape

MAX_BYTES = 8 * 2**20  # refused before reading: no real spec comes near it


@dataclass(frozen=True)
class Loaded:
    """A spec as read: the model (None when it cannot be built) and every problem found.

    A block library (a file with ``blocks`` only, made to be included) has no model.
    """

    path: str
    model: Model | None
    problems: tuple[Problem, ...]
    library: bool = False

    @property
    def ok(self) -> bool:
        return self.model is not None and not any(p.level == ERROR for p in self.problems)


def bundled() -> dict[str, Path]:
    """The specs shipped with convcalc, by name (the file stem)."""
    package = Path(__file__).resolve().parents[1]
    folder = package / "architectures"  # installed: package data inside the package
    if not folder.is_dir():  # a source checkout: architectures/ beside the package
        folder = package.parent / "architectures"
    return {path.stem: path for path in sorted(folder.iterdir(), key=lambda p: p.stem)
            if path.suffix in (".yaml", ".yml")}


def resolve(spec: str) -> Path | None:
    """A path to an existing file, else the bundled spec of that name, else None."""
    path = Path(spec)
    if path.is_file():
        return path
    return bundled().get(spec.removesuffix(".yaml").removesuffix(".yml"))


def open_include(name: str, including: str) -> tuple[str, str]:
    """The path and text of an included file: beside the including file, else bundled."""
    beside = Path(including).parent / name
    path = beside if beside.is_file() else resolve(name)
    if path is None or not path.is_file():
        raise ValueError(f"no file {os.fspath(beside)!r} and no bundled library of that name")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"the file is larger than {MAX_BYTES:,} bytes")
    shown = os.fspath(beside) if beside.is_file() else os.fspath(path)
    return shown, path.read_bytes().decode("utf-8")


def load_text(text: str, path: str, includes: bool = False, input: Shape | None = None
              ) -> Loaded:
    """Build the model of a spec's text; ``path`` is what problems name.

    ``includes`` lets the spec include files (beside ``path``, or bundled ones); ``input``
    replaces the spec's own input shape.
    """
    from convcalc.language.builder import Builder
    from convcalc.language.yamltree import YamlError, parse

    def fatal(code: str, message: str, line: int = 1, col: int = 1) -> Loaded:
        return Loaded(path, None, (Problem(path, line, col, ERROR, code, message),))

    try:
        root, duplicates = parse(text)
    except YamlError as exc:
        return fatal(exc.code, exc.message, exc.line, exc.col)
    except RecursionError:  # pragma: no cover - the depth bound comes first
        return fatal("too-deep", "the document nests too deeply")
    builder = Builder(path, open_include if includes else None, input)
    builder.duplicates(duplicates)
    stem = Path(path).stem
    model = builder.model(root, stem)
    problems = tuple(sorted(set(builder.problems)))
    if any(p.level == ERROR for p in problems):
        model = None
    if model is not None and builder.read_shape:
        model = _rebuildable(model, text, includes, builder.read_sizes)
    return Loaded(path, model, problems, builder.library)


def _rebuildable(model: Model, text: str, includes: bool, read_sizes: bool) -> Model:
    """The model, able to build itself again for another input (its blocks read the input's
    shape). When they read only channels at spatial points, an input of other spatial sizes
    (same rank, same channels) builds the same layers: it just replaces the input."""

    def rebuild(shape: Shape) -> Model:
        if not read_sizes and shape.channels == model.input.channels and \
                len(shape.spatial) == len(model.input.spatial):
            return dataclasses.replace(built, input=shape)
        loaded = load_text(text, model.path, includes, shape)
        if loaded.model is None:
            raise SpecError(f"{model.path} cannot be built for the input {shape}",
                            loaded.problems)
        return loaded.model

    built = dataclasses.replace(model, rebuild=rebuild)
    return built


def load_file(path: Path) -> Loaded:
    """Read and build one spec file, refusing oversized or undecodable files first."""
    name = os.fspath(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            return Loaded(name, None, (Problem(name, 1, 1, ERROR, "too-large", f"the file has "
                                               f"{size:,} bytes; the limit is {MAX_BYTES:,}"),))
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return Loaded(name, None, (Problem(name, 1, 1, ERROR, "unreadable",
                                           f"not UTF-8 text: {exc.reason}"),))
    except OSError as exc:
        return Loaded(name, None, (Problem(name, 1, 1, ERROR, "unreadable",
                                           exc.strerror or str(exc)),))
    return load_text(text, name, includes=True)
