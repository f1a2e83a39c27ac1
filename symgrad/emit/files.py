"""The only module that writes files: renders ``templates/`` with Jinja2.

Templates are found in the installed package (``symgrad.templates``, mapped
from the project's top-level ``templates/`` folder) or, when symgrad runs
from a source checkout, in that folder itself. Files are written atomically
(a temporary file, then a rename), so an error never leaves half a file, and
with the permissions of any new file (0666 less the umask: 0644 under umask
022). Several files are written all or nothing: every temporary first, then
the renames. A temporary is named ``.<target>.symgrad-<pid>-<random>.tmp``;
one left by a process that no longer runs (killed during a write) is removed
by the next write of the same target. User text reaches the templates only
through the filters of ``escape``.
"""
from __future__ import annotations

import importlib.util
import os
import secrets
from pathlib import Path

import jinja2

from symgrad.emit.layer_plan import template_context
from symgrad.emit.tex_breaks import breakable_parentheses
from symgrad.index.collector import fewer_full_collections
from symgrad.emit.escape import (header_text, latex_text, markdown_code, markdown_text, python_comment, python_docstring,
                     python_string)

MODULE_TEMPLATE = "module.py.j2"
STACK_TEMPLATE = "stack_module.py.j2"
# TeX reads its source a line at a time into a buffer (buf_size: 200,000 characters in TeX Live),
# and pdflatex stops at a longer line; a second-order formula with every tangent substituted
# reaches 250,000 characters on a GELU MLP
TEX_LINE_LIMIT = 4000


def template_dir() -> Path:
    """Where the templates are: the installed package data, else the source checkout's folder."""
    spec = importlib.util.find_spec("symgrad.templates")
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / MODULE_TEMPLATE).is_file():
            return Path(location)
    source = Path(__file__).resolve().parents[2] / "templates"
    if (source / MODULE_TEMPLATE).is_file():
        return source
    raise FileNotFoundError(f"symgrad's templates are missing (looked for {MODULE_TEMPLATE} in the "
                            f"package and in {source})")


def tex_source_lines(formula: str, limit: int = TEX_LINE_LIMIT) -> str:
    """``formula`` with a newline in place of a space wherever its line would pass ``limit``
    characters. TeX reads an end of line as a space, and a formula's spaces are between tokens
    (none is inside a control word, and math mode ignores them), so it prints the same."""
    lines, line = [], ""
    for word in formula.split(" "):
        if line and len(line) + 1 + len(word) > limit:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "\n".join([*lines, line])


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    environment.filters.update(py_doc=python_docstring, py_str=python_string, py_comment=python_comment,
                               header=header_text, tex_text=latex_text, md_text=markdown_text,
                               md_code=markdown_code)
    environment.filters["no_breaks"] = lambda formula: formula.replace(r" \allowbreak ", " ")
    environment.filters["tex_lines"] = tex_source_lines
    environment.filters["tex_breakable"] = breakable_parentheses
    return environment


def render_document(document, command: str, kind: str) -> str:
    """A derivation document as LaTeX (``tex``) or Markdown (``md``)."""
    template = {"tex": "derivation.tex.j2", "md": "derivation.md.j2"}[kind]
    return _environment().get_template(template).render(doc=document, command=command)


@fewer_full_collections()
def render_module(plan, template: str | None = None, **context) -> str:
    """The generated module's source (from a ``ModulePlan`` or a ``StackPlan``; another backend
    names its ``template`` and what else it needs); compiled once to prove it is valid Python."""
    if template is None:
        template, _ = template_context(plan, MODULE_TEMPLATE, STACK_TEMPLATE)
    text = _environment().get_template(template).render(plan=plan, **context)
    compile(text, f"<generated {plan.model_name}>", "exec")
    return text


def _temporary_prefix(path: Path) -> str:
    return f".{path.name[:120]}.symgrad-"     # short enough for any file system's name limit


def _remove_leftovers(path: Path) -> None:
    """Delete temporaries for ``path`` left by symgrad processes that no longer run."""
    if os.name != "posix":
        return
    prefix = _temporary_prefix(path)
    for name in os.listdir(path.parent):
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            (path.parent / name).unlink(missing_ok=True)
        except PermissionError:      # alive, another user's
            pass


def _stage(path: Path, data: bytes) -> Path:
    """``data`` in a new temporary file beside ``path``, created with mode 0666 less the umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path)
    while True:
        temporary = path.parent / f"{_temporary_prefix(path)}{os.getpid()}-{secrets.token_hex(4)}.tmp"
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                             0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def write_all(files) -> None:
    """Write every (path, bytes) or, if any temporary cannot be written, none of them."""
    staged = []
    try:
        for path, data in files:
            staged.append((_stage(path, data), path))
        while staged:
            temporary, path = staged[0]
            os.replace(temporary, path)
            staged.pop(0)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder."""
    write_all([(path, text.encode("utf-8"))])


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    write_all([(path, data)])
