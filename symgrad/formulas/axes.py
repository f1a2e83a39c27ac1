"""A formula with a reduction moved to the other axis: what ``check`` tries on a mismatch.

A softmax, log-sum-exp, sum, mean or extremum of a matrix taken along the wrong axis is a usual
slip in a hand derivation (``softmax(S, axis=0)`` where attention's weights are rows). For every
such call in a formula, ``axis_moves`` gives the formula with that one call's axis moved to the
matrix's other axis, and the call as the user wrote it; where two or more calls share an axis, one
more move takes them all to the other axis together. A move whose formula fails to evaluate (the
argument was not a matrix) is the caller's to skip.

>>> from symgrad.formulas.python_syntax import parse_python
>>> [(m.call, m.old, m.new) for m in axis_moves(parse_python("softmax(S, axis=0) * G", numpy_forms=True))]
[('softmax(..., axis=0) at column 1', 0, 1)]
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from symgrad.formulas.evaluate import walk
from symgrad.formulas.tree import Call, Method, Num
from symgrad.model.callables import FUNCTIONS


@dataclass(frozen=True)
class AxisMove:
    call: str        # the call as written, and where: "softmax(..., axis=0) at column 1"
    old: int         # the axis as written (-1 and -2 counted from the end)
    new: int         # the other axis of a matrix, 0 or 1
    tree: object     # the whole formula with this one call moved


def _axis_argument(node) -> tuple[str, int, int] | None:
    """How ``node`` gives its axis: ("keyword", -, axis) or ("positional", position, axis); None
    where it is no reduction along one axis of a matrix."""
    keywords = dict(node.keywords)
    if isinstance(keywords.get("axis"), int) and not isinstance(keywords["axis"], bool):
        return "keyword", -1, keywords["axis"]
    if isinstance(node, Call) and node.function in FUNCTIONS:
        names = list(FUNCTIONS[node.function].signature.parameters)
        if "axis" in names and names.index("axis") < len(node.args):
            at = names.index("axis")
            given = node.args[at]
            if isinstance(given, Num) and float(given.value).is_integer():
                return "positional", at, int(given.value)
    return None


def _moved(node, how: str, at: int, new: int):
    if how == "keyword":
        return dataclasses.replace(node, keywords=tuple((k, new if k == "axis" else v) for k, v in node.keywords))
    args = list(node.args)
    args[at] = dataclasses.replace(args[at], value=float(new))
    return dataclasses.replace(node, args=tuple(args))


def _swapped(node, moves: dict):
    """``node`` with every subtree in ``moves`` (keyed by identity) given its new axis: ``moves[id]``
    is the ``(how, at, new)`` of ``_moved``. Children first, so a reduction inside another moves too."""
    if isinstance(node, tuple):
        return tuple(_swapped(child, moves) for child in node)
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return node
    changed = {f.name: _swapped(getattr(node, f.name), moves) for f in dataclasses.fields(node)}
    rebuilt = node
    if any(changed[name] is not getattr(node, name) for name in changed):
        rebuilt = dataclasses.replace(node, **changed)
    return _moved(rebuilt, *moves[id(node)]) if id(node) in moves else rebuilt


def axis_moves(tree) -> list[AxisMove]:
    """One ``AxisMove`` per reduction along an axis in ``tree``, in the order they are written; then,
    for every axis two or more reductions are taken along, one moving all of them together (a
    batch-norm formula pasted for layer norm sums both its terms over the wrong axis)."""
    found = []
    for node in walk(tree):
        if not isinstance(node, (Call, Method)) or (argument := _axis_argument(node)) is None:
            continue
        how, at, old = argument
        if old not in (0, 1, -1, -2):
            continue
        name = node.function if isinstance(node, Call) else f".{node.method}"
        spelled = f"{name}(..., axis={old})" if how == "keyword" else f"{name}(..., {old})"
        found.append((node, how, at, old, spelled))
    moves = [AxisMove(f"{spelled} at column {node.pos + 1}", old, 1 - old % 2,
                      _swapped(tree, {id(node): (how, at, 1 - old % 2)}))
             for node, how, at, old, spelled in found]
    for axis in (0, 1):
        group = [entry for entry in found if entry[3] % 2 == axis]
        if len(group) < 2:
            continue
        columns = ", ".join(str(node.pos + 1) for node, *_ in group)
        calls = ", ".join(dict.fromkeys(spelled for *_, spelled in group))
        moves.append(AxisMove(f"every reduction along axis {axis} ({calls} at columns {columns})", axis, 1 - axis,
                              _swapped(tree, {id(node): (how, at, 1 - axis) for node, how, at, _, _ in group})))
    return moves
