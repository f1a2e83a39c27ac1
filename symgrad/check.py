"""Numerical gradient checks: generated gradients against central finite differences.

Inputs are drawn at random for given dimension values (all different, so a
transpose cannot pass), away from the kinks of every nonsmooth function in
the model: a point is redrawn while some argument of ``relu``, ``crelu`` or
a mask lies within ``KINK_MARGIN`` of a kink. Differences are central, in
float64, entry by entry.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from .model import Model
from .rules import row_of

FD_STEP = 1e-6
KINK_MARGIN = 1e-3
DIMENSION_SETS = ((3, 4, 5, 6, 7, 8, 9, 10), (5, 2, 7, 3, 6, 4, 9, 8))


def dimension_values(model: Model, which: int = 0) -> dict[str, int]:
    """Distinct sizes for the model's dimensions: set 0 or set 1."""
    values = DIMENSION_SETS[which]
    if len(model.dimensions) > len(values):
        raise ValueError(f"model {model.name!r} has more dimensions than the checker's sets")
    return dict(zip(model.dimensions, values))


def _shape(shape, dims: dict[str, int]) -> tuple[int, ...]:
    symbols = {sp.Symbol(k, positive=True, integer=True): v for k, v in dims.items()}
    return tuple(int(sp.sympify(n).xreplace(symbols)) for n in shape)


def _draw(model: Model, dims: dict[str, int], rng: np.random.Generator) -> dict:
    inputs = {}
    for tensor in model.inputs:
        shape = _shape(tensor.shape, dims)
        if tensor.name in model.samplers:
            inputs[tensor.name] = model.samplers[tensor.name](rng, shape)
        elif not shape:
            inputs[tensor.name] = float(rng.uniform(0.5, 1.5))
        elif tensor.role == "parameter":
            inputs[tensor.name] = rng.standard_normal(shape) / np.sqrt(shape[1])
        else:
            inputs[tensor.name] = rng.standard_normal(shape)
    return inputs


def _kinked_arguments(model: Model):
    """(tensor name, kink expressions) for each nonsmooth function applied to a named tensor."""
    found = []
    for definition in model.definitions.values():
        for term in definition.expr.terms:
            for call in term.factor.atoms(sp.Function):
                row = row_of(call)
                if row is None:
                    continue
                kinks = row.kinks(*call.args)
                if not kinks:
                    continue
                argument = call.args[0]
                name = str(argument.base) if isinstance(argument, sp.Indexed) else str(argument)
                if name in model.tensors:
                    found.append((name, kinks))
    return found


def kink_margin(model: Model, module, inputs: dict) -> float:
    """The smallest distance from an argument of a nonsmooth function to one of its kinks."""
    values = {**inputs, **module.forward(**inputs)}
    scalars = {t.symbol: inputs[t.name] for t in model.inputs if not t.shape}
    margin = np.inf
    for name, kinks in _kinked_arguments(model):
        for kink in kinks:
            position = float(sp.sympify(kink).xreplace(scalars))
            margin = min(margin, float(np.min(np.abs(np.asarray(values[name]) - position))))
    return margin


def sample_inputs(model: Model, module, dims: dict[str, int], rng: np.random.Generator,
                  tries: int = 100) -> dict:
    """Random inputs of the given sizes, at a point away from every kink."""
    for _ in range(tries):
        inputs = _draw(model, dims, rng)
        if kink_margin(model, module, inputs) > KINK_MARGIN:
            return inputs
    raise RuntimeError(f"model {model.name!r}: no point {KINK_MARGIN} away from the kinks in {tries} draws")


def finite_difference(module, inputs: dict, name: str, step: float = FD_STEP):
    """Central differences of ``module.loss`` with respect to input ``name``, entry by entry."""
    base = inputs[name]
    if np.ndim(base) == 0:
        up = module.loss(**{**inputs, name: base + step})
        down = module.loss(**{**inputs, name: base - step})
        return (up - down) / (2 * step)
    gradient = np.zeros(np.shape(base))
    for position in np.ndindex(gradient.shape):
        shifted = np.array(base, dtype=np.float64)
        shifted[position] += step
        up = module.loss(**{**inputs, name: shifted})
        shifted[position] -= 2 * step
        down = module.loss(**{**inputs, name: shifted})
        gradient[position] = (up - down) / (2 * step)
    return gradient


def relative_error(got, expected) -> float:
    """max |got - expected| / max(max |expected|, max |got|, 1e-12)."""
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), float(np.max(np.abs(got), initial=0.0)), 1e-12)
    return float(np.max(np.abs(got - expected), initial=0.0)) / scale


@dataclass(frozen=True)
class GradientCheck:
    parameter: str
    max_relative_error: float
    shape_ok: bool


def check_module(model: Model, module, points: int = 3, seed: int = 0) -> list[GradientCheck]:
    """Every gradient of ``module`` against finite differences, at ``points`` random points
    for each of the two dimension sets; the worst error per parameter."""
    rng = np.random.default_rng(seed)
    worst: dict[str, float] = {}
    shapes_ok: dict[str, bool] = {}
    for which in (0, 1):
        dims = dimension_values(model, which)
        for _ in range(points):
            inputs = sample_inputs(model, module, dims, rng)
            _, grads = module.loss_and_grad(**inputs)
            for name in module.PARAMETERS:
                expected = finite_difference(module, inputs, name)
                ok = np.shape(grads[name]) == np.shape(inputs[name]) and \
                    (np.ndim(inputs[name]) != 0 or isinstance(grads[name], float))
                shapes_ok[name] = shapes_ok.get(name, True) and ok
                worst[name] = max(worst.get(name, 0.0), relative_error(grads[name], expected))
    return [GradientCheck(n, worst[n], shapes_ok[n]) for n in module.PARAMETERS]
