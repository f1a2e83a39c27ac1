"""Where a model comes from: a catalogue name, or a user's own Python file.

A model file defines ``build()`` returning a ``symgrad.Model``, or a
module-level ``model``. Running the file is running the user's own code, as
``python PATH.py`` would; nothing typed on a command line is executed. A file
that fails, exits (``sys.exit``, with any code) or defines no model is a
``ModelError`` saying where; a ``KeyboardInterrupt`` goes on to the caller.
"""
from __future__ import annotations

import importlib.util
import sys
import traceback
from pathlib import Path

from symgrad.model import catalogue
from symgrad.errors import ModelError, SymgradError
from symgrad.model.model import Model


def is_path(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def load_file(path: str) -> Model:
    """The model defined by the Python file at ``path``."""
    file = Path(path)
    if not file.is_file():
        raise ModelError(f"model file {path!r} does not exist")
    module_name = f"symgrad_user_model_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    module = importlib.util.module_from_spec(spec)
    try:
        source = file.read_text(encoding="utf-8")
        code = compile(source, str(file), "exec")
    except SyntaxError as error:
        raise ModelError(f"model file {path}: syntax error at line {error.lineno}, "
                         f"column {error.offset}: {error.msg}") from None
    sys.modules[module_name] = module
    try:
        exec(code, module.__dict__)
        if callable(getattr(module, "build", None)):
            model = module.build()
        else:
            model = getattr(module, "model", None)
    except SymgradError as error:   # a shape that does not fit, a bad axis: say on which line
        line = _line_in(error, file)
        if line is None:
            raise
        raise type(error)(f"{error} ({line})") from None
    except SystemExit as error:   # sys.exit(), exit(), raise SystemExit: no model, whatever the code
        raise ModelError(f"model file {path}: exits with {_exit_call(error)} at {_where(error, file)} "
                         "instead of defining a model") from None
    except Exception as error:  # the user's own code failed: say where, in one line
        raise ModelError(f"model file {path}: {type(error).__name__}: {error} ({_where(error)})") from None
    finally:                    # KeyboardInterrupt goes on: the command line says "interrupted"
        sys.modules.pop(module_name, None)
    if not isinstance(model, Model):
        origin = "build() returns" if callable(getattr(module, "build", None)) else "its model is"
        found = "" if model is None else f" ({origin} a value of type {type(model).__name__})"
        raise ModelError(f"model file {path} defines no model: give it a build() returning a "
                         f"symgrad.Model, or a module-level `model`{found}")
    return model


def _where(error: BaseException, file: Path | None = None) -> str:
    """``line N of FILE.py``: where ``error`` was raised; with ``file``, the last line of that file
    on the way (``exit()`` is raised inside Python's own ``_sitebuiltins``)."""
    frames = traceback.extract_tb(error.__traceback__)
    mine = [f for f in frames if file is not None and f.filename == str(file)]
    frame = (mine or frames)[-1]
    return f"line {frame.lineno} of {Path(frame.filename).name}"


def _line_in(error: BaseException, file: Path) -> str | None:
    """``line N of FILE.py``: the last line of ``file`` on ``error``'s way, None if none is."""
    mine = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(file)]
    return f"line {mine[-1].lineno} of {file.name}" if mine else None


def _exit_call(error: SystemExit) -> str:
    return "sys.exit()" if error.code is None else f"sys.exit({error.code!r})"


def load(spec: str) -> Model:
    """A catalogue name or a path to a model file."""
    return load_file(spec) if is_path(spec) else catalogue.build(spec)
