"""User text in the torch, JAX and numba modules: escaped by the same filters, read back exactly, runs nothing."""
import ast
import dataclasses

import pytest

from symgrad.emit.backends import BACKENDS, rendering
from symgrad.cli import _command, _ours
from symgrad.emit.files import render_module

from .test_escaping import DERIVATION, NASTY, _header_command
from symgrad.emit.layer_plan import plan_for

BACKEND_NAMES = [name for name, row in BACKENDS.items() if row.printer is not None]


def _top_level(text: str) -> list:
    """The module's top-level statements, by kind and name (its docstring aside)."""
    return [(type(node).__name__, getattr(node, "name", None)) for node in ast.parse(text).body[1:]]


@pytest.mark.parametrize("backend", BACKEND_NAMES)
@pytest.mark.parametrize("nasty", NASTY)
def test_descriptions_and_paths_read_back_exactly(backend, nasty, tmp_path):
    row = BACKENDS[backend]
    printer = row.printer()
    plan = plan_for(DERIVATION, "symgrad generate esc", printer)
    template, context = rendering(plan, row, printer)
    plain = render_module(plan, template, **context)
    spec = f"{nasty}.py"
    command = f"{_command(spec)} --backend {backend}"
    text = render_module(dataclasses.replace(plan, description=nasty, command=command), template,
                         **context)                                      # compiles it, too
    assert all(c.isprintable() or c == "\n" for c in text)
    assert _top_level(text) == _top_level(plain)       # no statement but the module's own
    head = "Loss and gradients of the symgrad model `esc`"
    assert ast.get_docstring(ast.parse(text), clean=False) == ast.get_docstring(ast.parse(plain), clean=False) \
        .replace(head, head + (": " + nasty if nasty else ""), 1)
    assert _header_command(text) == command
    (tmp_path / "esc.py").write_text(text, encoding="utf-8", errors="surrogatepass")
    assert _ours(tmp_path / "esc.py")
