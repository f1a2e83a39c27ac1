"""The scalar body of an ``Elementwise`` node as Python code, and how tightly it binds.

A SymPy code printer: each entry ``T[k, q]`` is printed by a callback (the
array printer prints the node it is placed as), each function from the table
in ``symgrad/model/functions.py`` by its NumPy spelling. What NumPy needs of a body: a boolean
mask is negated as ``-1.0 * mask`` and added as a number; ``sqrt`` is
``np.sqrt``, and every SymPy function of dimensions (``1 / sqrt(dk)``, ``exp(N)``) its NumPy
namesake, a dimension being a Python integer at run time. The cube of an entry is
``x*x*x``: NumPy's ``x**3`` calls ``pow`` per element, some twenty times slower than two
products (``x**2`` it computes as a square already). A sum is printed with a positive term first (``Ystar - Y``, not
``-Y + Ystar``, which negates ``Y`` into a temporary) and with a common
factor taken out (``2*(yhat - y)``: one pass fewer).
"""
from __future__ import annotations

import re
from typing import Callable

import numpy as np
import sympy as sp
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.pycode import PythonCodePrinter

from symgrad.errors import LoweringError
from symgrad.index.terms import common_product
from symgrad.model.functions import is_mask, row_of

ATOM = PRECEDENCE["Atom"]      # a name, subscript, attribute or call
POSTFIX = PRECEDENCE["Func"]   # what may stand before ``.sum()`` or ``.T``: an atom or a call
MUL = PRECEDENCE["Mul"]        # ``*``, ``@`` and ``/``
ADD = PRECEDENCE["Add"]


def print_scalar(expr: sp.Expr) -> str:
    """A scalar of dimensions and numbers as Python code."""
    return ElementwiseCodePrinter().doprint(sp.sympify(expr))


def _wrapped(template: str) -> bool:
    """Whether a table row's NumPy spelling is one parenthesized expression, ``(0.5 * ...)``."""
    depth = 0
    for k, ch in enumerate(template):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and k < len(template) - 1:
            return False
    return template.startswith("(")


def _exposed(template: str, k: int) -> bool:
    """Whether argument ``k`` of a table row's NumPy spelling stands beside an operator."""
    return re.search(r"[*+\-/<>=&] ?\{%d\}|\{%d\} ?[*+\-/<>=&]" % (k, k), template) is not None


class ElementwiseCodePrinter(PythonCodePrinter):
    """Prints a scalar SymPy body; ``print_entry`` prints each ``Indexed`` entry in it.
    ``spelling``: the field of a table row that spells its function (one per backend)."""

    spelling = "numpy"
    cubes_as_products = True     # backends that compile ``x**3`` to products themselves say False

    def __init__(self, print_entry: Callable[[sp.Indexed], str] | None = None):
        super().__init__({"fully_qualified_modules": False, "standard": "python3"})
        self.print_entry = print_entry

    def _print(self, expr, **kwargs):
        if row_of(expr) is not None:  # table functions first: some share SymPy's names (exp, tanh)
            return self._print_Function(expr)
        return super()._print(expr, **kwargs)

    def statement(self, expr) -> str:
        """``expr`` as a whole right-hand side: a table row's own outer parentheses dropped."""
        row = row_of(expr)
        if row is not None and _wrapped(self.template(row)):
            return self._print_Function(expr)[1:-1]
        return self.doprint(expr)

    def _module_format(self, fqn, register=True):
        """SymPy's scalar functions of dimensions (``sqrt(dk)``, ``exp(N)``) print as Python's ``math``
        ones; a generated module imports only NumPy, which has each of them under the same name."""
        module, _, name = fqn.rpartition(".")
        if module == "math":
            if not hasattr(np, name):
                raise LoweringError(f"no NumPy spelling for math.{name}")
            return f"np.{name}"
        return super()._module_format(fqn, register)

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Indexed(self, expr):
        if self.print_entry is None:
            raise LoweringError(f"entry {expr} in a scalar")
        return self.print_entry(expr)

    def _print_Symbol(self, expr):
        return expr.name

    def template(self, row) -> str:
        """The row's spelling in this printer's backend; a missing one is an error naming both."""
        text = getattr(row, self.spelling)
        if not text:
            raise LoweringError(f"function {row.name!r} has no {self.spelling} spelling in the table")
        return text

    def _print_Function(self, expr):
        row = row_of(expr)
        if row is None:
            raise LoweringError(f"no {self.spelling} spelling for {expr}")
        template = self.template(row)
        args = [f"({self._print(arg)})" if _exposed(template, k) and body_precedence(arg) <= MUL
                else self._print(arg) for k, arg in enumerate(expr.args)]
        return template.format(*args)

    def _print_Mul(self, expr):
        coefficient, rest = expr.as_coeff_Mul()
        numerator = [f for f in rest.as_ordered_factors() if not (f.is_Pow and f.exp.is_negative)]
        if coefficient == -1 and numerator and is_mask(numerator[0]):   # NumPy refuses -mask
            return "-1.0 * " + self._print(rest)
        scalars = [f for f in expr.args if not f.atoms(sp.Indexed)]
        if _scalars_apart(expr, scalars):
            return self._scalars_first(sp.Mul(*scalars), [f for f in expr.args if f not in scalars])
        return super()._print_Mul(expr)

    def _scalars_first(self, scalar: sp.Expr, factors: list) -> str:
        """A product of entries and scalars with the scalars multiplied first: ``2/N*x`` is one
        pass over ``x`` (Python computes ``2/N`` first), where SymPy's ``2*x/N`` is two; the same
        value up to rounding."""
        numerator = [f for f in factors if not (f.is_Pow and f.exp.is_negative)]
        denominator = [1 / f for f in factors if f not in numerator]
        text = f"({self._print(scalar)})" if scalar.is_Add else self._print(scalar)    # -2/L*x: (-2/L)*x
        if numerator:
            text += "*" + "*".join(self.parenthesize(f, MUL) for f in numerator)
        if denominator:
            text += "/" + self.parenthesize(sp.Mul(*denominator), MUL)
        return text

    def _print_Add(self, expr, order=None):
        # NumPy adds boolean masks as a logical or: make each mask a number first
        floats = {a: sp.Float(1.0) * a for a in expr.args if is_mask(a)}
        expr = expr.xreplace(floats) if floats else expr
        if not expr.is_Add:
            return self._print(expr)
        common = common_product(expr)     # -2*y + 2*yhat -> 2*(yhat - y): one pass fewer
        if common.is_Mul and not floats:
            return self._print(common)
        printed = [(term, self._print(term)) for term in self._as_ordered_terms(expr, order=order)]
        # a positive term first: Ystar - Y, not -Y + Ystar (which negates Y into a temporary)
        first = next((k for k, (_, text) in enumerate(printed) if not text.startswith("-")), 0)
        printed.insert(0, printed.pop(first))
        out = []
        for term, text in printed:
            negative = text.startswith("-") and not term.is_Add
            if negative:
                text = text[1:]
            if precedence(term) < precedence(expr) or term.is_Add:
                text = f"({text})"
            out += ["-" if negative else "+", text]
        return ("-" if out[0] == "-" else "") + " ".join(out[1:])

    def _print_Pow(self, expr, rational=False):
        if expr.exp == sp.Rational(1, 2):
            return f"np.sqrt({self._print(expr.base)})"
        if self.cubes_as_products and expr.exp == 3 and isinstance(expr.base, sp.Indexed):
            base = self._print(expr.base)
            return f"({base}*{base}*{base})"
        return super()._print_Pow(expr, rational)


def _scalars_apart(expr: sp.Mul, scalars: list) -> bool:
    """Whether ``expr`` multiplies entries by more than one scalar factor (``2*x/N``, ``x/(2*N)``),
    which SymPy prints on both sides of the entries: two passes over the array where one would
    do. A sign alone is no factor: a sum subtracts the term (``y - x/N``)."""
    return 1 < len([f for f in scalars if f != -1]) and len(scalars) < len(expr.args)


def body_precedence(body: sp.Expr) -> int:
    """How tightly the printed body binds: SymPy's precedence, except that ``x**-1`` is printed
    as the division ``1/x`` and ``x**(1/2)`` as the call ``np.sqrt(x)``."""
    if body.is_Pow and body.exp in (-1, -sp.Rational(1, 2)):
        return MUL
    if body.is_Pow and body.exp == sp.Rational(1, 2):
        return POSTFIX
    return precedence(body)
