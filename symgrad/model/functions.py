"""The one table of elementwise functions.

Every elementwise function symgrad knows is one row of ``TABLE``: its
derivative with respect to each argument (a rule that reads like the math),
its NumPy spelling, its LaTeX spelling, where it has kinks and which value its
derivative takes there. The first argument is the tensor; further arguments
are scalars (the clip level ``t`` of ``crelu``).

Kinks follow PyTorch: ``relu'(0) = 0``; ``crelu'(z) = 1`` on the closed
interval ``[0, t]``, written ``1[0 <= z <= t]`` as in the seed notes; ``abs'(0) = sign(0) = 0``;
``sqrt'(0) = inf``; ``maximum`` and ``minimum`` give each side half the gradient where
``a == b``. A row's ``kinks`` are positions of its first argument; for ``maximum(a, b)`` the
position is ``b`` itself, an entry of a named tensor or a scalar.

Each row becomes an opaque SymPy ``Function`` whose ``fdiff`` applies the
row's rule, so ``sympy.diff`` does the chain rule and never sees a
``Piecewise`` (lifted out of sums, leaving bound indices free: wrong results), ``Heaviside``
(``Heaviside(0) = 1/2`` and ``DiracDelta`` terms) or ``Max`` (exponentially slow when nested).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from symgrad.errors import ModelError


@dataclass(frozen=True)
class Elementwise:
    """One elementwise function: how to differentiate, print and check it."""

    name: str
    arity: int
    partials: tuple[Callable[..., sp.Expr], ...]
    numpy: str
    latex: str
    kinks: Callable[..., tuple[sp.Expr, ...]]
    convention: str
    # derivative factors computable more cheaply from the function's value:
    # {derivative function name: (value, *args) -> cheaper expression}
    from_value: dict = None
    # a canonical form SymPy applies on construction, e.g. sigmoid(-z) -> 1 - sigmoid(z)
    canonical: Callable[..., sp.Expr | None] | None = None
    # the spellings of the other backends (``_dtype``: the dtype of the generated function's values)
    torch: str = ""
    jax: str = ""
    # the NumPy spelling as ufunc steps evaluated into one buffer (``symgrad.lower.passes.buffers``):
    # (ufunc, argument, ...) per step; an argument 0 is the buffer, k > 0 the function's argument k,
    # a float that number. Empty: the value is never computed in place.
    ufuncs: tuple = ()
    # the spelling on one number inside a compiled loop (the numba backend), where NumPy's does not
    # work on a scalar there; empty: NumPy's, a ufunc that numba compiles for scalars too
    numba: str = ""


def _f(name: str) -> Callable[..., sp.Expr]:
    return lambda *args: FUNCTIONS[name](*args)


_ZERO = lambda *args: sp.Integer(0)  # noqa: E731  (piecewise constant: zero almost everywhere)
_NO_KINKS = lambda *args: ()  # noqa: E731

_ROWS = (
    Elementwise("relu", 1, (lambda z: _f("step")(z),),
                "np.maximum({0}, 0.0)", r"\operatorname{{ReLU}}\left({0}\right)",
                lambda z: (sp.Integer(0),), "relu'(0) = 0",
                torch='torch.clamp({0}, min=0.0)', jax='jnp.maximum({0}, 0.0)', ufuncs=(("maximum", 0, 0.0),)),
    Elementwise("step", 1, (_ZERO,),
                "({0} > 0)", r"1_{{{0} > 0}}",
                lambda z: (sp.Integer(0),), "step(0) = 0",
                torch='({0} > 0).to(_dtype)', jax='({0} > 0).astype(_dtype)'),
    Elementwise("crelu", 2, (lambda z, t: _f("crelu_mask")(z, t), lambda z, t: _f("above")(z, t)),
                "np.clip({0}, 0.0, {1})", r"\operatorname{{CReLU}}\left({0}, {1}\right)",
                lambda z, t: (sp.Integer(0), t), "crelu' = 1 on the closed interval [0, t]",
                {"crelu_mask": lambda h, z, t: _f("equal")(h, z)},
                torch='torch.clamp(torch.clamp({0}, min=0.0), max={1})', jax='jnp.clip({0}, 0.0, {1})', ufuncs=(("clip", 0, 0.0, 1),),
                numba='np.minimum(np.maximum({0}, 0.0), {1})'),
    Elementwise("crelu_mask", 2, (_ZERO, _ZERO),
                "(({0} >= 0) & ({0} <= {1}))", r"1_{{0 \le {0} \le {1}}}",
                lambda z, t: (sp.Integer(0), t), "1 on the closed interval [0, t]",
                torch='(({0} >= 0) & ({0} <= {1})).to(_dtype)', jax='(({0} >= 0) & ({0} <= {1})).astype(_dtype)'),
    Elementwise("equal", 2, (_ZERO, _ZERO),
                "({0} == {1})", r"1_{{{0} = {1}}}",
                _NO_KINKS, "1 where both are equal (clip(z, 0, t) == z exactly on [0, t])",
                torch='({0} == {1}).to(_dtype)', jax='({0} == {1}).astype(_dtype)'),
    Elementwise("above", 2, (_ZERO, _ZERO),
                "({0} > {1})", r"1_{{{0} > {1}}}",
                lambda z, t: (t,), "above(t, t) = 0",
                torch='({0} > {1}).to(_dtype)', jax='({0} > {1}).astype(_dtype)'),
    Elementwise("sigmoid", 1, (lambda z: _f("sigmoid")(z) * (1 - _f("sigmoid")(z)),),
                "(1.0 / (1.0 + np.exp(np.minimum(-{0}, 709.0))))", r"\sigma\left({0}\right)",
                _NO_KINKS, "smooth; computed as 1 / (1 + exp(-z)) with -z clipped at 709, so exp never overflows",
                canonical=lambda z: 1 - _f("sigmoid")(-z) if z.could_extract_minus_sign() else None,
                torch='torch.sigmoid({0})', jax='jax.nn.sigmoid({0})',
                ufuncs=(("negative", 0), ("minimum", 0, 709.0), ("exp", 0), ("add", 0, 1.0), ("divide", 1.0, 0))),
    Elementwise("tanh", 1, (lambda z: 1 - _f("tanh")(z) ** 2,),
                "np.tanh({0})", r"\tanh\left({0}\right)",
                _NO_KINKS, "smooth",
                torch='torch.tanh({0})', jax='jnp.tanh({0})', ufuncs=(("tanh", 0),)),
    Elementwise("exp", 1, (lambda z: _f("exp")(z),),
                "np.exp({0})", r"e^{{{0}}}",
                _NO_KINKS, "smooth",
                torch='torch.exp({0})', jax='jnp.exp({0})', ufuncs=(("exp", 0),)),
    Elementwise("log", 1, (lambda z: 1 / z,),
                "np.log({0})", r"\log\left({0}\right)",
                _NO_KINKS, "smooth on z > 0",
                torch='torch.log({0})', jax='jnp.log({0})', ufuncs=(("log", 0),)),
    # torch's softplus returns z itself above its threshold (20 by default: off by up to 2e-9);
    # at 40 the difference, exp(-40), is below float64's rounding
    Elementwise("softplus", 1, (lambda z: _f("sigmoid")(z),),
                "np.logaddexp(0.0, {0})", r"\operatorname{{softplus}}\left({0}\right)",
                _NO_KINKS, "smooth; computed as logaddexp(0, z)",
                torch='torch.nn.functional.softplus({0}, threshold=40.0)', jax='jax.nn.softplus({0})', ufuncs=(("logaddexp", 0.0, 0),),
                numba="(np.maximum({0}, 0.0) + _log1p_unit(np.exp(-np.abs({0}))))"),
    Elementwise("sqrt", 1, (lambda z: 1 / (2 * _f("sqrt")(z)),),
                "np.sqrt({0})", r"\sqrt{{{0}}}",
                _NO_KINKS, "smooth on z > 0; sqrt'(0) = inf, as in PyTorch",
                torch='torch.sqrt({0})', jax='jnp.sqrt({0})', ufuncs=(("sqrt", 0),)),
    Elementwise("abs", 1, (lambda z: _f("sign")(z),),
                "np.abs({0})", r"\left|{0}\right|",
                lambda z: (sp.Integer(0),), "abs'(0) = 0 (PyTorch: sign(0) = 0)",
                torch='torch.abs({0})', jax='jnp.abs({0})', ufuncs=(("abs", 0),)),
    # sign is flat but not an indicator (it is -1 below 0): its zero rule is not _ZERO, so not a mask
    Elementwise("sign", 1, (lambda z: sp.Integer(0),),
                "np.sign({0})", r"\operatorname{{sign}}\left({0}\right)",
                lambda z: (sp.Integer(0),), "sign(0) = 0",
                torch='torch.sign({0})', jax='jnp.sign({0})', ufuncs=(("sign", 0),)),
    Elementwise("maximum", 2, (lambda a, b: _f("above")(a, b) + _f("equal")(a, b) / 2,
                               lambda a, b: _f("above")(b, a) + _f("equal")(a, b) / 2),
                "np.maximum({0}, {1})", r"\max\left({0}, {1}\right)",
                lambda a, b: (b,), "ties split evenly: each side gets half at a == b (torch.maximum)",
                torch='torch.clamp({0}, min={1})', jax='jnp.maximum({0}, {1})', ufuncs=(("maximum", 0, 1),)),
    Elementwise("minimum", 2, (lambda a, b: _f("above")(b, a) + _f("equal")(a, b) / 2,
                               lambda a, b: _f("above")(a, b) + _f("equal")(a, b) / 2),
                "np.minimum({0}, {1})", r"\min\left({0}, {1}\right)",
                lambda a, b: (b,), "ties split evenly: each side gets half at a == b (torch.minimum)",
                torch='torch.clamp({0}, max={1})', jax='jnp.minimum({0}, {1})', ufuncs=(("minimum", 0, 1),)),
)

TABLE: dict[str, Elementwise] = {row.name: row for row in _ROWS}


def _make_function(row: Elementwise) -> type[sp.Function]:
    def fdiff(self, argindex=1):
        return row.partials[argindex - 1](*self.args)

    def _latex(self, printer, exp=None):
        text = row.latex.format(*(printer._print(a) for a in self.args))
        return text if exp is None else rf"\left({text}\right)^{{{exp}}}"

    namespace = {"nargs": row.arity, "fdiff": fdiff, "_latex": _latex, "is_real": True}
    if row.canonical is not None:
        namespace["eval"] = classmethod(lambda cls, *args: row.canonical(*args))
    return type(row.name, (sp.Function,), namespace)


FUNCTIONS: dict[str, type[sp.Function]] = {row.name: _make_function(row) for row in _ROWS}


def lookup(name: str) -> Elementwise:
    """The table row called ``name``; an unknown name is an error listing the known ones."""
    try:
        return TABLE[name]
    except KeyError:
        raise ModelError(
            f"unknown elementwise function {name!r}; known: {', '.join(sorted(TABLE))}"
        ) from None


def row_of(function: sp.Basic) -> Elementwise | None:
    """The table row of a SymPy function application, or None if it is not from the table."""
    name = type(function).__name__
    if name in FUNCTIONS and isinstance(function, FUNCTIONS[name]):
        return TABLE[name]
    return None


def numeric(name: str):
    """A NumPy function computing table row ``name``, built from its NumPy spelling (the
    table's own text, never a user's), so the generated code and the checker agree."""
    row = lookup(name)
    if name not in _NUMERIC:
        arguments = ", ".join(f"a{k}" for k in range(row.arity))
        body = row.numpy.format(*(f"a{k}" for k in range(row.arity)))
        _NUMERIC[name] = eval(f"lambda {arguments}: {body}", {"np": __import__("numpy")})  # noqa: S307
    return _NUMERIC[name]


_NUMERIC: dict = {}


def is_mask(expr) -> bool:
    """Whether ``expr`` is an indicator spelled as a comparison (a boolean array in NumPy), or a
    product or power of such: ``step``, ``crelu_mask``, ``equal``, ``above``."""
    if isinstance(expr, sp.Pow):
        return is_mask(expr.base)
    if isinstance(expr, sp.Mul):
        return all(is_mask(a) for a in expr.args)
    row = row_of(expr)
    return row is not None and all(rule is _ZERO for rule in row.partials)
