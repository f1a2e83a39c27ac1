"""The one table of functions a loss or a hand-derived gradient formula may call, by name.

A row gives the function's two readings, which agree: ``build``, the DSL function that puts it
in a loss (``--loss 'trace(inv(A))'``), and ``value``, NumPy computing the same thing on arrays
(``symgrad check --formula '-inv(A).T @ inv(A).T'``). The DSL's conventions hold in both: a
reduction along an axis keeps it with size 1 (``logsumexp(S, axis=1)`` is a column), an axis
may be counted from the end (``axis=-1``), ``diagonal(A)`` is a column, and a function of a
whole matrix (``trace``, ``inv``, ``det``, ``logdet``) needs a square one.

``FORMULA_ONLY`` rows have no ``build``: the derivatives' own functions (``step``,
``crelu_mask``, ``equal``, ``above``, ``sign``) and ``diag`` of a vector, which a gradient is
written with and a loss has no use for.

    >>> import numpy as np
    >>> call("logsumexp", [np.zeros((2, 3))], {"axis": 1}).round(4).tolist()
    [[1.0986], [1.0986]]
    >>> call("trace", [np.eye(3)], {})
    3.0
"""
from __future__ import annotations

import builtins
import inspect
from dataclasses import dataclass
from typing import Callable

import numpy as np

from symgrad.errors import plural
from symgrad.model import dsl
from symgrad.model.extrema import amax, amin
from symgrad.model.functions import TABLE, numeric
from symgrad.model.linalg import RULES, det, inv, logdet
from symgrad.model.matrix_ops import diagonal, trace

NOT_CALLABLE = frozenset({"apply"})   # takes a function's name, a string, which the parser never gives


class CallError(ValueError):
    """A call that does not fit the function: the message says how (no position: the caller adds it)."""


@dataclass(frozen=True)
class Function:
    """One callable function: its DSL builder (None: only in a formula) and its NumPy value."""

    name: str
    build: Callable | None
    value: Callable
    elementwise: bool = False

    @property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.value)


def _square(name: str, a) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise CallError(f"operation '{name}': needs a square matrix, got shape {a.shape}")
    return a


def _axis(name: str, a, axis) -> int | None:
    """``axis`` as the DSL reads it: None, or 0/1 of a matrix (-1 and -2 counted from the end)."""
    if axis is None:
        return None
    if isinstance(axis, float) and axis.is_integer():   # a formula's numbers are floats: softmax(S, 1)
        axis = int(axis)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer, float)) or np.ndim(a) != 2 \
            or axis not in (0, 1, -1, -2):
        shown = axis if np.ndim(axis) == 0 else f"an array of shape {np.shape(axis)}"
        raise CallError(f"operation '{name}(axis={shown})': needs a matrix and axis 0 or 1 (or -1, -2), "
                        f"got shape {np.shape(a)}")
    return axis % 2


def _logsumexp(x, axis=None):
    axis = _axis("logsumexp", x, axis)
    x = np.asarray(x, dtype=float)
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    total = top + np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True))
    return total if axis is not None else float(total.reshape(()))


def _softmax(x, axis):
    return np.exp(np.asarray(x, dtype=float) - _logsumexp(x, _axis("softmax", x, axis)))


def _log_softmax(x, axis):
    return np.asarray(x, dtype=float) - _logsumexp(x, _axis("log_softmax", x, axis))


def _sum(x, axis=None):
    axis = _axis("sum", x, axis)
    return np.sum(x, axis=axis, keepdims=axis is not None)


def _mean(x, axis=None):
    axis = _axis("mean", x, axis)
    return np.mean(x, axis=axis, keepdims=axis is not None)


def _extreme(name, reduce):
    def value(x, axis):
        return reduce(x, axis=_axis(name, x, axis), keepdims=True)
    return value


def _concat(name, axis):
    def value(*parts):
        if len(parts) < 2:
            raise CallError(f"operation '{name}': needs at least two tensors")
        return np.concatenate([np.atleast_2d(p) for p in parts], axis=axis)
    return value


def _matrix_function(name):
    """``inv``, ``det``, ``logdet``: the NumPy spelling of ``linalg.RULES`` (the generated code's).
    A formula's ``inv`` of a number is its reciprocal (LaTeX's ``\\sigma^{-1}``); a loss writes ``1 / x``."""
    spelled = eval(f"lambda a: {RULES[name].numpy.format('a')}", {"np": np})   # noqa: S307  (the table's text)
    if name == "inv":
        return lambda a: 1.0 / np.asarray(a, dtype=float) if np.ndim(a) == 0 else spelled(_square(name, a))
    return lambda a: spelled(_square(name, a))


def _ones(rows, cols=1):
    return np.ones((rows, cols))


def _diag(v):
    return np.diag(np.ravel(v))


def _elementwise(name):
    """The table row's NumPy value, with the DSL function's signature where the DSL has one."""
    compute = numeric(name)
    value = lambda *args: compute(*args)   # noqa: E731
    builder = getattr(dsl, name, None) if name in dsl.FUNCTION_NAMES else None
    parameters = [inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD) for p in (
        inspect.signature(builder).parameters if builder is not None else ("x", "t", "u")[:TABLE[name].arity])]
    value.__signature__ = inspect.Signature(parameters)
    return Function(name, builder, value, elementwise=True)


_WHOLE = (
    Function("sum", lambda x, axis=None: dsl.as_tensor(x).sum(axis), _sum),
    Function("mean", dsl.mean, _mean),
    Function("sum_squares", dsl.sum_squares, lambda x: float(np.sum(np.square(x)))),
    Function("logsumexp", dsl.logsumexp, _logsumexp),
    Function("softmax", dsl.softmax, _softmax),
    Function("log_softmax", dsl.log_softmax, _log_softmax),
    Function("amax", amax, _extreme("amax", np.max)),
    Function("amin", amin, _extreme("amin", np.min)),
    Function("concat_rows", dsl.concat_rows, _concat("concat_rows", 0)),
    Function("concat_cols", dsl.concat_cols, _concat("concat_cols", 1)),
    Function("ones", dsl.ones, _ones),
    Function("trace", trace, lambda a: float(np.trace(_square("trace", a)))),
    Function("diagonal", diagonal, lambda a: np.diagonal(_square("diagonal", a))[:, None]),
    Function("inv", inv, _matrix_function("inv")),
    Function("det", det, _matrix_function("det")),
    Function("logdet", logdet, _matrix_function("logdet")),
    Function("diag", None, _diag),
)

FUNCTIONS: dict[str, Function] = {f.name: f for f in (*(_elementwise(n) for n in TABLE), *_WHOLE)}
LOSS_FUNCTIONS = frozenset(name for name, f in FUNCTIONS.items() if f.build is not None)
FORMULA_ONLY = frozenset(FUNCTIONS) - LOSS_FUNCTIONS


def arity(signature: inspect.Signature) -> str:
    """How many positional arguments ``signature`` takes: ``1``, ``1 to 2`` or ``2 or more``."""
    kinds = [p for p in signature.parameters.values() if p.kind != p.KEYWORD_ONLY]
    least = builtins.sum(p.default is p.empty and p.kind != p.VAR_POSITIONAL for p in kinds)
    if any(p.kind == p.VAR_POSITIONAL for p in kinds):
        return f"{least} or more"
    return str(least) if least == len(kinds) else f"{least} to {len(kinds)}"


def keywords_for(name: str, signature: inspect.Signature, keywords: dict) -> dict:
    """The keywords of a call: ``axis=`` for a function that takes an axis (``softmax(x, axis=1)``,
    as NumPy spells it); ``keepdims=True``, which such a function always does, is accepted and
    dropped; anything else is a ``CallError``."""
    keywords = dict(keywords)
    if "axis" not in signature.parameters:
        if keywords:
            raise CallError(f"{name}(...) takes no keywords")
        return {}
    if keywords.pop("keepdims", True) is not True:
        raise CallError(f"{name}(keepdims=False) is not available: a reduction over an axis keeps it, "
                        "with size 1")
    return keywords


def check_call(name: str, signature: inspect.Signature, args: list, keywords: dict) -> dict:
    """The keywords to call with, after checking ``args`` and ``keywords`` fit ``signature``."""
    keywords = keywords_for(name, signature, keywords)
    try:
        signature.bind(*args, **keywords)
    except TypeError:
        names = ", ".join(("*" if p.kind == p.VAR_POSITIONAL else "") + p.name
                          for p in signature.parameters.values())
        takes = arity(signature)
        raise CallError(f"{name}({names}) takes {takes} {plural(takes, 'argument')}, got {len(args)}"
                        + "".join(f" and {k}=" for k in keywords)) from None
    return keywords


def call(name: str, args: list, keywords: dict):
    """The NumPy value of ``name(*args, **keywords)``, as a formula means it; a ``CallError`` says
    what does not fit (arguments, an axis, a shape, a singular matrix)."""
    function = FUNCTIONS.get(name)
    if function is None:
        raise CallError(f"unknown function {name!r}; known: {', '.join(sorted(FUNCTIONS))}")
    keywords = check_call(name, function.signature, args, keywords)
    try:
        with np.errstate(all="ignore"):
            return function.value(*args, **keywords)
    except CallError:
        raise
    except np.linalg.LinAlgError as error:
        raise CallError(f"{name}(...): {error}") from None
    except (TypeError, ValueError) as error:
        raise CallError(f"{name}(...): {error}") from None
