"""NumPy's own spellings in a NumPy-style formula: what ``symgrad check`` prints as ``correct:``
can be given back to it.

The correct formula is printed by symgrad's NumPy printer (``np.sign(r)``, ``np.ones((1, N)) @ Y``,
``np.einsum('bc,ab->a', Y, P.T, optimize=[...])[None, :]``, ``(gamma.T).reshape(-1)``), and a NumPy
user writes ``np.exp(S)`` too. These calls are read here into the same formula tree, checked as
strictly as the rest of the grammar: ``np.NAME(...)`` for a function of the table (and ``np.ones``
with a shape tuple, ``np.diag``, ``np.trace``, ``np.linalg.inv`` and ``np.linalg.det``, ``np.sum(x, axis=...)``,
``np.transpose(x)``), ``np.einsum`` with
a literal subscript string of letters and ``optimize=`` a literal (ignored: the value is the same),
``x.reshape(-1)``, and ``None`` as an index (a new axis). Nothing else on ``np`` is reachable.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from symgrad.formulas.tree import Call, Method
from symgrad.model.callables import FUNCTIONS

MODULES = ("np", "numpy")
LINALG = ("inv", "det")   # np.linalg's functions that are the table's
_SPEC = re.compile(r"[a-zA-Z]*(?:,[a-zA-Z]*)*->[a-zA-Z]*")


@dataclass(frozen=True)
class Einsum:
    """``np.einsum(spec, *operands)``: ``spec`` a string of letters, checked when read."""
    spec: str
    operands: tuple
    pos: int = 0


@dataclass(frozen=True)
class NewAxis:
    """``None`` as an index: a new axis of size 1."""
    pos: int = 0


def _linalg(node) -> bool:
    """``np.linalg``."""
    return (isinstance(node, ast.Attribute) and node.attr == "linalg" and isinstance(node.value, ast.Name)
            and node.value.id in MODULES)


def is_numpy_call(node: ast.Call) -> bool:
    return isinstance(node.func, ast.Attribute) and (
        (isinstance(node.func.value, ast.Name) and node.func.value.id in MODULES) or _linalg(node.func.value))


def _same_in_numpy(name: str) -> bool:
    """Whether NumPy's function of this name means what the table's does (``np.mean(x, axis=0)``
    drops the axis, the table's keeps it; ``np.diagonal`` is 1-D, the table's a column)."""
    return name in FUNCTIONS and (FUNCTIONS[name].elementwise or name in ("trace", "diag"))


def _optimize(converter, keyword):
    """``optimize=`` of ``np.einsum``: a literal the printer writes (a bool, 'greedy', 'optimal',
    or ['einsum_path', (0, 1), ...]), which does not change the value."""
    value = keyword.value
    if isinstance(value, ast.Constant) and (isinstance(value.value, bool) or value.value in ("greedy", "optimal")):
        return
    if isinstance(value, ast.List) and value.elts and isinstance(value.elts[0], ast.Constant) \
            and value.elts[0].value == "einsum_path" and all(
                isinstance(step, ast.Tuple) and all(isinstance(k, ast.Constant) and type(k.value) is int
                                                    for k in step.elts) for step in value.elts[1:]):
        return
    raise converter.fail("optimize= takes True, False, 'greedy', 'optimal' or ['einsum_path', (i, j), ...]",
                         keyword.value)


def einsum_problem(spec: str, operands: int) -> str | None:
    """What is wrong with einsum subscripts ``spec`` for ``operands`` operands, or None: letters,
    commas, an explicit ``->`` output of distinct letters of the operands, one term per operand
    (NumPy's ``np.einsum`` and the LaTeX matrix view's ``\\operatorname{einsum}_{...}``)."""
    if not _SPEC.fullmatch(spec):
        return f"einsum subscripts {spec!r}: write letters, commas and an explicit -> output"
    inputs, output = spec.split("->")
    if len(inputs.split(",")) != operands:
        return f"einsum subscripts {spec!r} name {len(inputs.split(','))} operand(s), given {operands}"
    if set(output) - set(inputs) or len(set(output)) != len(output):
        return f"einsum subscripts {spec!r}: each output letter once, and only letters of the operands"
    return None


def _einsum(converter, node: ast.Call):
    if not node.args or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
        raise converter.fail("np.einsum takes a subscript string first, e.g. 'ij,jk->ik'", node)
    for keyword in node.keywords:
        if keyword.arg != "optimize":
            raise converter.fail(f"np.einsum takes no keyword {keyword.arg!r} (only optimize=)", node)
        _optimize(converter, keyword)
    spec = node.args[0].value.replace(" ", "")
    problem = einsum_problem(spec, len(node.args) - 1)
    if problem:
        raise converter.fail(f"np.{problem}", node.args[0])
    return Einsum(spec, tuple(converter.convert(a) for a in node.args[1:]), node.col_offset)


def _shape(converter, node: ast.Call):
    """np.ones's sizes: ``np.ones((r, c))``, ``np.ones(r)`` or ``np.ones((r,))``."""
    if len(node.args) != 1 or node.keywords:
        raise converter.fail("np.ones takes one shape, e.g. np.ones((1, N))", node)
    shape = node.args[0]
    sizes = shape.elts if isinstance(shape, ast.Tuple) else [shape]
    return Call("ones", tuple(converter.convert(s) for s in sizes), (), node.col_offset)


def numpy_call(converter, node: ast.Call):
    """The formula node of ``np.NAME(...)``; ``converter`` is the parser's (``convert``, ``fail``,
    ``keywords``, ``functions``)."""
    name, pos = node.func.attr, node.col_offset
    if _linalg(node.func.value):
        if name not in LINALG:
            raise converter.fail(f"np.linalg.{name} is not allowed; known: "
                                 f"{', '.join(f'np.linalg.{n}' for n in LINALG)}", node)
        return Call(name, tuple(converter.convert(a) for a in node.args), converter.keywords(node), pos)
    if name == "einsum":
        return _einsum(converter, node)
    if name == "ones":
        return _shape(converter, node)
    if name in ("sum", "transpose"):
        if len(node.args) != 1 or (name == "transpose" and node.keywords):
            raise converter.fail(f"np.{name} takes one array" + (", and axis= or keepdims=" if name == "sum" else ""),
                                 node)
        target = converter.convert(node.args[0])
        return Method(target, "sum", (), converter.keywords(node), pos) if name == "sum" else Method(target, "T", pos=pos)
    known = sorted(n for n in converter.functions if _same_in_numpy(n))
    if name in known:
        return Call(name, tuple(converter.convert(a) for a in node.args), converter.keywords(node), pos)
    hint = f" (write {name}(...) without np. for symgrad's own, which keeps a reduced axis with size 1)" \
        if name in converter.functions else ""
    raise converter.fail(f"np.{name} is not allowed{hint}; known: np.einsum, np.ones, np.sum, np.transpose, "
                         f"np.linalg.inv, np.linalg.det and np.NAME for {', '.join(known)}", node)


def reshape(converter, node: ast.Call):
    """``x.reshape(-1)``: the entries as one axis (the only reshape the printer writes)."""
    argument = node.args[0] if len(node.args) == 1 and not node.keywords else None
    if not (isinstance(argument, ast.UnaryOp) and isinstance(argument.op, ast.USub)
            and isinstance(argument.operand, ast.Constant) and argument.operand.value == 1):
        raise converter.fail("only .reshape(-1) is allowed", node)
    return Method(converter.convert(node.func.value), "reshape", (), (), node.col_offset)
