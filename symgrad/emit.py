"""The only module that writes files: renders ``templates/`` with Jinja2.

Templates are found in the installed package (``symgrad.templates``, mapped
from the project's top-level ``templates/`` folder) or, when symgrad runs
from a source checkout, in that folder itself. Files are written atomically
(a temporary file, then a rename), so an error never leaves half a file.
"""
from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import jinja2

from .codegen import ModulePlan

MODULE_TEMPLATE = "module.py.j2"
STACK_TEMPLATE = "stack_module.py.j2"


def template_dir() -> Path:
    """Where the templates are: the installed package data, else the source checkout's folder."""
    spec = importlib.util.find_spec("symgrad.templates")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / MODULE_TEMPLATE).is_file():
            return Path(location)
    source = Path(__file__).resolve().parent.parent / "templates"
    if (source / MODULE_TEMPLATE).is_file():
        return source
    raise FileNotFoundError(f"symgrad's templates are missing (looked for {MODULE_TEMPLATE} in the "
                            f"package and in {source})")


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    environment.filters["tex_text"] = tex_text
    environment.filters["no_breaks"] = lambda formula: formula.replace(r" \allowbreak ", " ")
    return environment


def tex_text(text: str) -> str:
    """Plain text (a model's description, a title) made safe for LaTeX."""
    for char, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("#", r"\#"),
                          ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("$", r"\$"), ("^", r"\^{}"),
                          ("~", r"\~{}")):
        text = text.replace(char, escaped)
    return text


def render_document(document, command: str, kind: str) -> str:
    """A derivation document as LaTeX (``tex``) or Markdown (``md``)."""
    template = {"tex": "derivation.tex.j2", "md": "derivation.md.j2"}[kind]
    return _environment().get_template(template).render(doc=document, command=command)


def render_module(plan) -> str:
    """The generated module's source (from a ``ModulePlan`` or a ``StackPlan``);
    compiled once to prove it is valid Python."""
    template = MODULE_TEMPLATE if isinstance(plan, ModulePlan) else STACK_TEMPLATE
    text = _environment().get_template(template).render(plan=plan)
    compile(text, f"<generated {plan.model_name}>", "exec")
    return text


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    write_atomic_bytes(path, text.encode("utf-8"))


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
