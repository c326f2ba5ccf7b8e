"""Reading spec files: a path or a bundled name in, a model and its problems out."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from convcalc.language.base import Opener
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
    unreadable: bool = False  # the file itself could not be read: too large, not UTF-8, …

    @property
    def ok(self) -> bool:
        return self.model is not None and not any(p.level == ERROR for p in self.problems)


def bundled_folder() -> Path:
    """The folder of the specs shipped with convcalc."""
    package = Path(__file__).resolve().parents[1]
    folder = package / "architectures"  # installed: package data inside the package
    if not folder.is_dir():  # a source checkout: architectures/ beside the package
        folder = package.parent / "architectures"
    return folder


def bundled() -> dict[str, Path]:
    """The specs shipped with convcalc, by name (the file stem)."""
    return {path.stem: path for path in sorted(bundled_folder().iterdir(), key=lambda p: p.stem)
            if path.suffix in (".yaml", ".yml")}


def is_file(path: Path) -> bool:
    """Whether ``path`` is a file; False for names no file can have (too long, a NUL)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def is_dir(path: Path) -> bool:
    """Whether ``path`` is a folder; False for names no folder can have."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def resolve(spec: str) -> Path | None:
    """A path to an existing file, else the bundled spec of that name, else None."""
    path = Path(spec)
    if is_file(path):
        return path
    return bundled().get(spec.removesuffix(".yaml").removesuffix(".yml"))


def read_spec(path: Path) -> str:
    """A spec file's text, reading at most MAX_BYTES + 1 bytes whatever size it reports.

    A /proc file says it has 0 bytes; a device has no size at all: what is read is bounded.
    Raises OSError, UnicodeDecodeError, or ValueError when the file is too large.
    """
    with path.open("rb") as file:
        data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"the file has more than {MAX_BYTES:,} bytes")
    return data.decode("utf-8")


def include_opener(spec: str) -> Opener:
    """What ``include`` may open for the spec at ``spec``: a file beside the including file
    (or below it), else a bundled library, and only within the spec's folder tree or the
    bundled libraries' folder, wherever the name or a symbolic link points.
    """
    roots = (Path(spec).resolve().parent, bundled_folder().resolve())

    def open_include(name: str, including: str) -> tuple[str, str, str]:
        beside = Path(including).parent / name
        path = beside if is_file(beside) else bundled().get(
            name.removesuffix(".yaml").removesuffix(".yml"))
        if path is None or not is_file(path):
            raise ValueError(f"no file {os.fspath(beside)!r} and no bundled library of that "
                             "name")
        real = path.resolve()
        if not any(real.is_relative_to(root) for root in roots):
            raise ValueError("it is outside the spec's folder and the bundled libraries, "
                             "where includes are confined")
        try:
            return os.fspath(path), os.fspath(real), read_spec(real)
        except UnicodeDecodeError as exc:
            raise ValueError(f"not UTF-8 text: {exc.reason}") from None

    return open_include


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
    builder = Builder(path, include_opener(path) if includes else None, input)
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


STDIN = "-"  # the spec argument that means standard input
STDIN_NAME = "<stdin>"  # what problems call it


def load_stream(stream: BinaryIO, name: str = STDIN_NAME) -> Loaded:
    """Read and build a spec from a stream (standard input), bounded like a file.

    Its includes are read from the current folder's tree and the bundled libraries.
    """
    try:
        data = stream.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            return Loaded(name, None, (Problem(name, 1, 1, ERROR, "too-large", f"more than "
                                               f"{MAX_BYTES:,} bytes"),), unreadable=True)
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Loaded(name, None, (Problem(name, 1, 1, ERROR, "unreadable",
                                           f"not UTF-8 text: {exc.reason}"),), unreadable=True)
    except OSError as exc:
        return Loaded(name, None, (Problem(name, 1, 1, ERROR, "unreadable",
                                           exc.strerror or str(exc)),), unreadable=True)
    return load_text(text, name, includes=True)


def load_file(path: Path) -> Loaded:
    """Read and build one spec file, refusing oversized or undecodable files first."""
    name = os.fspath(path)
    try:
        size = path.stat().st_size  # refused before reading when it says so
        if size > MAX_BYTES:
            return Loaded(name, None, (Problem(name, 1, 1, ERROR, "too-large", f"the file has "
                                               f"{size:,} bytes; the limit is {MAX_BYTES:,}"),),
                          unreadable=True)
        text = read_spec(path)
    except UnicodeDecodeError as exc:
        return Loaded(name, None, (Problem(name, 1, 1, ERROR, "unreadable",
                                           f"not UTF-8 text: {exc.reason}"),), unreadable=True)
    except ValueError as exc:  # larger than it said (a /proc file, a device)
        return Loaded(name, None, (Problem(name, 1, 1, ERROR, "too-large", f"{exc}; the limit "
                                           f"is {MAX_BYTES:,}"),), unreadable=True)
    except OSError as exc:
        return Loaded(name, None, (Problem(name, 1, 1, ERROR, "unreadable",
                                           exc.strerror or str(exc)),), unreadable=True)
    return load_text(text, name, includes=True)
