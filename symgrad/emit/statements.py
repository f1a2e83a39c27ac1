"""Generated statements as Python's ast: the questions ``peephole`` and ``inplace`` both ask."""
from __future__ import annotations

import ast


def is_plain(statement: ast.stmt | None) -> bool:
    """``name = expression``: nothing written in place (no ``+=``, ``out=`` call or slice target)."""
    return (isinstance(statement, ast.Assign) and len(statement.targets) == 1
            and isinstance(statement.targets[0], ast.Name))


def names(node: ast.AST) -> set[str]:
    """Every name ``node`` reads or writes."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def np_call(node: ast.AST) -> str | None:
    """``f`` for a call ``np.f(...)``, else None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "np"):
        return node.func.attr
    return None
