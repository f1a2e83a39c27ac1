"""The limits on a formula given to ``symgrad check``, all in one place.

A formula is user text: it is read and evaluated under these caps, and going
past one is a ``FormulaError`` that says which limit and what it is, raised
before anything large is parsed, allocated or computed. The formula is
evaluated at a handful of points with small dimension values, so a formula
that needs more than this is not a gradient formula but a literal size or a
runaway (``ones(100000, 100000)``, a chain of 3000 x 3000 products).

>>> from symgrad.formulas.limits import check_entries
>>> check_entries(10, "ones(2, 5)", 0)
"""
from __future__ import annotations

from symgrad.formulas.tree import FormulaError

MAX_LENGTH = 4000             # characters of a formula
MAX_NESTING = 200             # levels of the formula's tree (Python's own parser allows 200 brackets)
MAX_DIGITS = 30               # digits of an integer literal (a float has 17 significant ones)
MAX_ENTRIES = 10 ** 7         # entries of any one array a formula makes: 80 MB of float64
MAX_COST = 10 ** 8            # floating-point operations of one evaluation, estimated from shapes
MAX_TERMS = 256               # index terms a one-line loss may expand into (symgrad/model/one_line.py): ~8 s to derive
MAX_LAYERS = 40               # --depth: distinct widths for each layer keep the sampled arrays small


def check_entries(entries: int, what: str, pos: int | None) -> None:
    """Refuse an array of more than ``MAX_ENTRIES`` entries, before it is made."""
    if entries > MAX_ENTRIES:
        raise FormulaError(f"{what} would make an array of {entries:,} entries", pos,
                           after=f"; the limit is {MAX_ENTRIES:,}")


class Budget:
    """The floating-point operations one evaluation of a formula has left."""

    def __init__(self, limit: int = MAX_COST):
        self.limit, self.spent = limit, 0

    def spend(self, cost: int, what: str, pos: int | None) -> None:
        """Count ``cost`` operations for ``what``, refusing before they would pass the limit."""
        if self.spent + cost > self.limit:
            total = "" if cost > self.limit else f", bringing the total to {self.spent + cost:,}"
            raise FormulaError(f"evaluating the formula would cost more than {self.limit:,} floating-point "
                               f"operations: {what} costs {cost:,}{total}", pos,
                               after=f"; the limit is {self.limit:,} per evaluation")
        self.spent += cost


def check_nesting(tree, text: str | None = None) -> None:
    """Refuse a tree deeper than ``MAX_NESTING``, naming where it goes past the limit."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise FormulaError(f"formula nested too deeply (the limit is {MAX_NESTING} levels; a sum "
                               f"of n terms is n levels)", getattr(node, "pos", None), text)
        for value in vars(node).values():
            for child in (value if isinstance(value, tuple) else (value,)):
                if hasattr(child, "__dataclass_fields__"):
                    stack.append((child, depth + 1))
