"""Substituting into index factors (``xreplace``) without SymPy re-deriving what cannot change.

Every stage renames indices in the factors of terms: the chain rule gives each step fresh bound
names, collapsing a delta replaces an index by its value, the comments rename to ``i, j, c``.
SymPy's ``xreplace`` rebuilds each changed node through its class (``Mul(*args)``,
``Indexed(base, *indices)``, ``tanh(arg)``), and three of those rebuilds are the bulk of the
derivation's time:

- ``Indexed`` deduces the closure of its tensor's ``real=True`` facts anew for every entry;
- ``Mul`` and ``Add`` re-run ``flatten`` (gathering powers and coefficients, distributing
  numbers over sums) although a renamed canonical product is mostly again canonical;
- a function call builds a new ``FiniteSet`` of its class's argument counts (``nargs``).

``replaced(expr, mapping)`` is ``expr.xreplace(mapping)``, the same tree node for node
(``tests/test_rebuild.py`` compares them on every catalogue model's factors):

- it walks the tree as ``xreplace`` does and rebuilds the same nodes (those holding a key);
- an entry is built once per tensor and indices, its facts copied from the closure deduced once
  per set of tensor assumptions (what ``Indexed.__new__`` would deduce: it depends on nothing else);
- ``sympy_mul(args)``, ``sympy_add(args)`` and ``times(a, b)`` give ``Mul(*args)``, ``Add(*args)``
  and ``a * b``: where ``flatten`` provably only sorts (below) they sort the arguments as
  ``flatten`` does and build the node from them; anywhere else they call SymPy;
- ``applied(function, args)`` gives ``function(*args)``, its ``nargs`` made once per class.

When ``flatten`` only sorts a product's arguments (once ``Mul`` has dropped the ones): at most
one number, first, finite and not 0; no argument a product, order term, accumulation bound or the
imaginary unit; every other argument either a power ``b**e`` with a non-number base and a number
exponent that SymPy builds back as itself, or an expression that is its own base (``as_base_exp()``
gives it with exponent 1, a sum too; this leaves out ``exp``, whose base is ``E``); all the bases
different; and not a number and one sum alone. Then nothing gathers, no coefficient moves and no
number is distributed over a sum. For a sum (once ``Add`` has dropped the zeros): at most one
number, first and finite; no argument a sum, order term, accumulation bound, matrix or tensor
expression or number power; each product's coefficient neither 0 nor 1 and the rest not a product
itself when it is one factor; and the non-coefficient parts all different, so that no two terms
combine.
"""
from __future__ import annotations

from functools import cmp_to_key
from types import SimpleNamespace

import sympy as sp
from sympy.calculus.accumulationbounds import AccumBounds
from sympy.core.assumptions import StdFactKB
from sympy.core.function import Application, DefinedFunction
from sympy.core.parameters import global_parameters
from sympy.matrices.expressions import MatrixExpr
from sympy.tensor.tensor import TensExpr

_SORT_KEY = cmp_to_key(sp.Basic.compare)     # how ``Mul.flatten`` and ``Add.flatten`` order arguments
_EXPR_MUL = sp.Expr.__mul__
ENTRY_LIMIT = 1 << 16


def replaced(expr: sp.Basic, mapping: dict) -> sp.Basic:
    """``expr.xreplace(mapping)``: the same walk (a node equal to a key is replaced whole, a node
    holding one is rebuilt from its new arguments), each rebuilt entry, product and sum made
    without SymPy's re-derivations where they cannot change it (see the module's docstring)."""
    return _replaced(expr, mapping)[0] if mapping else expr


def _replaced(node, mapping) -> tuple[sp.Basic, bool]:
    if node in mapping:
        return mapping[node], True
    changed, args = False, []
    for arg in node.args:
        new, inside = _replaced(arg, mapping)
        args.append(new)
        changed |= inside
    if not changed:
        return node, False
    kind = type(node)
    if kind is sp.Indexed:
        return entry(args[0], args[1:]), True
    if kind is sp.Mul:
        return sympy_mul(args), True
    if kind is sp.Add:
        return sympy_add(args), True
    if isinstance(node, sp.Function):
        return applied(kind, args), True
    return node.func(*args), True


_ENTRIES: dict = {}
_FACTS: dict = {}


def entry(base, indices: tuple) -> sp.Indexed:
    """``Indexed(base, *indices)`` (an entry of an ``IndexedBase``), built once per base and indices."""
    if type(base) is not sp.IndexedBase:
        return sp.Indexed(base, *indices)
    indices = tuple(i if isinstance(i, sp.Basic) else sp.sympify(i) for i in indices)
    key = (base, indices)
    found = _ENTRIES.get(key)
    if found is None:
        found = sp.Expr.__new__(sp.Indexed, base, *indices)
        found._assumptions = _entry_facts(base.assumptions0)
        if len(_ENTRIES) >= ENTRY_LIMIT:
            _ENTRIES.clear()
        _ENTRIES[key] = found
    return found


def _entry_facts(assumptions: dict) -> StdFactKB:
    """A fresh copy of the facts ``Indexed.__new__`` deduces from its base's ``assumptions``
    (``IndexedBase._set_assumptions``), deduced once per set of assumptions: each entry needs its
    own, since asking an entry an unknown fact stores the answer in it."""
    key = tuple(sorted(assumptions.items()))
    template = _FACTS.get(key)
    if template is None:
        holder = SimpleNamespace()
        sp.IndexedBase._set_assumptions(holder, dict(assumptions))
        template = _FACTS[key] = holder._assumptions
    facts = StdFactKB.__new__(StdFactKB)
    dict.update(facts, template)
    facts.rules = template.rules
    facts._generator = template._generator      # read only through copies (``generator``)
    return facts


def sympy_mul(args) -> sp.Expr:
    """``Mul(*args)``."""
    made = _sorted_product(args)
    return sp.Mul(*args) if made is None else made


def times(left: sp.Expr, right: sp.Expr) -> sp.Expr:
    """``left * right``: ``flatten`` takes a product's arguments in place of it, so unless the
    two-argument distribution applies (a rational times a sum, or times a number times a sum)
    this is the product of both argument lists."""
    if not all(type(e).__mul__ is _EXPR_MUL and e._op_priority == sp.Expr._op_priority for e in (left, right)):
        return left * right     # another class's own product
    for one, other in ((left, right), (right, left)):
        if one.is_Rational and other.as_coeff_Mul()[1].is_Add:
            return left * right
    made = _sorted_product((*sp.Mul.make_args(left), *sp.Mul.make_args(right)))
    return left * right if made is None else made


def _sorted_product(args) -> sp.Expr | None:
    """``Mul(*args)`` where ``flatten`` only sorts ``args`` (see the module's docstring), else None."""
    if not global_parameters.evaluate:
        return None     # SymPy keeps the arguments as they are
    coeff, rest, bases = sp.S.One, [], set()
    args = [arg for arg in args if arg is not sp.S.One]     # what ``Mul`` drops before ``flatten``
    for position, arg in enumerate(args):
        if arg.is_Number:
            if position or arg.is_zero or not arg.is_finite:
                return None
            coeff = arg
            continue
        if arg.is_Mul or arg.is_Order or not arg.is_commutative \
                or arg is sp.S.ImaginaryUnit or isinstance(arg, AccumBounds):
            return None
        base, exponent = arg.as_base_exp()
        if arg.is_Pow:
            if base.is_Number or not exponent.is_Number or sp.Pow(base, exponent) != arg:
                return None
        elif base is not arg or exponent is not sp.S.One:
            return None
        if base in bases:
            return None
        bases.add(base)
        rest.append(arg)
    if coeff is not sp.S.One and len(rest) == 1 and rest[0].is_Add:
        return None         # a number times a sum: distributed
    return _built(sp.Mul, coeff, rest, sp.S.One)


def sympy_add(args) -> sp.Expr:
    """``Add(*args)``."""
    if not global_parameters.evaluate:
        return sp.Add(*args)
    coeff, rest, parts = sp.S.Zero, [], set()
    args = [arg for arg in args if arg is not sp.S.Zero]    # what ``Add`` drops before ``flatten``
    for position, arg in enumerate(args):
        if arg.is_Number:
            if position or arg.is_zero or not arg.is_finite:
                return sp.Add(*args)
            coeff = arg
            continue
        if arg.is_Add or arg.is_Order or not arg.is_commutative or isinstance(arg, (AccumBounds, MatrixExpr, TensExpr)):
            return sp.Add(*args)
        part = arg
        if arg.is_Mul and arg.args[0].is_Number:
            first = arg.args[0]
            if first is sp.S.One or first.is_zero:
                return sp.Add(*args)
            part = arg.args[1] if len(arg.args) == 2 else arg._new_rawargs(*arg.args[1:])
            if len(arg.args) == 2 and not part.is_Add and sympy_mul((first, part)) != arg:
                return sp.Add(*args)
        elif arg.is_Pow and arg.base.is_Number:
            return sp.Add(*args)
        if part in parts:
            return sp.Add(*args)
        parts.add(part)
        rest.append(arg)
    return _built(sp.Add, coeff, rest, sp.S.Zero)


def _built(cls, coeff, rest: list, identity) -> sp.Expr:
    rest.sort(key=_SORT_KEY)
    args = rest if coeff is identity else [coeff, *rest]
    if not args:
        return identity
    if len(args) == 1:
        return args[0]
    return cls._exec_constructor_postprocessors(cls._from_args(args, True))


_NARGS: dict = {}     # function class -> its instances' ``nargs``, or False: not built here


def applied(function: type, args, evaluate: bool = True) -> sp.Expr:
    """``function(*args)`` (``evaluate=False``: ``function(*args, evaluate=False)``) for a function
    class that keeps SymPy's own construction (``Function._new_`` over ``Application.__new__``):
    what that gives, ``function.eval(*args)`` when it answers, else a node of the arguments, but
    with the set of argument counts (``nargs``) made once per class, not anew for every call."""
    nargs = _NARGS.get(function)
    if not nargs or not global_parameters.evaluate or not function._valid_nargs(len(args)) \
            or any(a.is_Float or a.is_Add for a in args):     # (SymPy's ``evalf`` of such arguments)
        made = function(*args) if evaluate else function(*args, evaluate=False)
        if nargs is None:
            _NARGS[function] = made.nargs if _keeps_sympy_construction(function) and isinstance(made, function) \
                else False
        return made
    if evaluate:
        evaluated = function.eval(*args)
        if evaluated is not None:
            return function(*args) if isinstance(evaluated, function) else sp.sympify(evaluated)
    node = sp.Basic.__new__(function, *args)
    node.nargs = nargs
    return node


def _keeps_sympy_construction(function: type) -> bool:
    """Whether ``function``'s instances are built by ``Function._new_`` and ``Application.__new__``
    alone: no class between adds its own ``__new__`` or ``_new_``."""
    owners = [k for k in function.__mro__ if "__new__" in vars(k)]
    plain = owners[:2] == [sp.Function, Application] or owners[:3] == [DefinedFunction, sp.Function, Application]
    return plain and next(k for k in function.__mro__ if "_new_" in vars(k)) is sp.Function
