"""The expression tree of a hand-derived formula, whatever syntax it was typed in.

Parsers (``formula_numpy``, ``formula_latex``) build these nodes; evaluators walk
them. Nothing a user typed is ever executed: text becomes these nodes or a
``FormulaError`` that names what is wrong and where (a column in the text).
"""
from __future__ import annotations

from dataclasses import dataclass

from symgrad.errors import SymgradError


class FormulaError(SymgradError):
    """A formula outside the grammar, or naming something the model does not have."""

    def __init__(self, message: str, position: int | None = None, text: str | None = None, after: str = ""):
        where = ""
        if position is not None:
            where = f" at column {position + 1}"
            if text is not None:
                where += f": {text[max(0, position - 20):position]}>>>{text[position:position + 20]}"
        super().__init__(f"{message}{where}{after}")
        self.position = position


@dataclass(frozen=True)
class Num:
    value: float
    pos: int = 0


@dataclass(frozen=True)
class Name:
    name: str
    pos: int = 0


@dataclass(frozen=True)
class Unary:
    op: str          # "-", "~"
    operand: object
    pos: int = 0


@dataclass(frozen=True)
class Binary:
    op: str          # + - * / @ ** & | < <= > >= ==
    left: object
    right: object
    pos: int = 0


@dataclass(frozen=True)
class Call:
    function: str    # a table function, diag, ones, sum, sqrt
    args: tuple
    keywords: tuple = ()   # ((name, node), ...)
    pos: int = 0


@dataclass(frozen=True)
class Method:
    target: object
    method: str      # "T", or a reduction: "sum", "mean", "max", "min"
    args: tuple = ()
    keywords: tuple = ()
    pos: int = 0


@dataclass(frozen=True)
class Slice:
    start: object | None
    stop: object | None
    pos: int = 0


@dataclass(frozen=True)
class Subscript:
    target: object
    items: tuple     # nodes or Slice
    pos: int = 0


@dataclass(frozen=True)
class Sum:
    """Index notation: the sum of ``body`` over ``index`` (its range read off where it indexes)."""

    index: str
    body: object
    pos: int = 0
    size: object = None   # the number of values, when written (LaTeX's upper limit); else read off an axis
