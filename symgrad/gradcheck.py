"""Numerical gradient checks: generated gradients against central finite differences.

Inputs are drawn at random for given dimension values (all different, so a
transpose cannot pass), away from the kinks of every nonsmooth function in
the model: a point is redrawn while some argument of ``relu``, ``crelu``, ``abs``,
``maximum``, ``minimum`` or a mask lies within ``KINK_MARGIN`` of a kink (for ``maximum(a, b)``:
``a`` within the margin of ``b``, entry by entry). Differences are central, in
float64, entry by entry.

Central differences cannot see below their round-off: each loss value is off by about
``eps * |loss|``, so a difference quotient is off by about ``eps * |loss| / FD_STEP`` (2e-10 at a
loss of 10). A point where the gradient and the differences disagree by less than
``RESOLUTION_MARGIN`` times that says nothing about the gradient, though its relative error is
above ``TOLERANCE``: it happens where a gradient is zero or nearly so (attention after a layer norm
over two features, with every row's features in the same order: every normalised row is the same,
the logits are equal along each row whatever the query weights, and their gradient is zero). Such
points are counted, not judged, and so are points where the gradient and the differences are both
zero within that round-off (0.0 against 0.0 included: a relu that is never active), which would
otherwise pass with an error of 0 having checked nothing. A NaN in a gradient is an infinite error;
a loss that is NaN or infinite at a sampled point stops the check (``UndefinedLossError``, naming
the inputs drawn without a sampler): the model needs inputs from its loss's domain, which only it
can give.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import sympy as sp

from symgrad.errors import SymgradError
from symgrad.model.layers import layout_of
from symgrad.model.model import Model
from symgrad.model.functions import row_of

FD_STEP = 1e-5  # near eps**(1/3): truncation and round-off errors both ~1e-10 relative
KINK_MARGIN = 1e-3
TOLERANCE = 1e-6        # the largest relative error a check passes
RESOLUTION_MARGIN = 10
# Sets 0 and 1 are where formulas and gradients are checked. Set 2 only confirms a scale factor
# named from sets 0 and 1: with it, no two monomials of up to three dimensions (exponents
# +-1/2 .. +-3) times small rationals agree at all three sets, so a factor cannot be misnamed.
DIMENSION_SETS = ((3, 4, 5, 6, 7, 8, 9, 10), (5, 2, 7, 3, 6, 4, 9, 8), (7, 11, 2, 13, 4, 3, 5, 6))


def dimension_values(model: Model, which: int = 0) -> dict[str, int]:
    """Distinct sizes for the model's dimensions: set 0, 1 or 2."""
    values = DIMENSION_SETS[which]
    if len(model.dimensions) > len(values):
        raise ValueError(f"model {model.name!r} has more dimensions than the checker's sets")
    return dict(zip(model.dimensions, values))


def _shape(shape, dims: dict[str, int]) -> tuple[int, ...]:
    symbols = {sp.Symbol(k, positive=True, integer=True): v for k, v in dims.items()}
    return tuple(int(sp.sympify(n).xreplace(symbols)) for n in shape)


WIDTHS = (5, 7, 6, 8, 9, 10, 11, 12)   # the first widths of layers; then 13, 14, ... as deep as needed


def _widths():
    """Every width a layer may take, in order: ``WIDTHS``, then each whole number above them."""
    yield from WIDTHS
    yield from itertools.count(max(WIDTHS) + 1)


def _value(model: Model, name: str, role: str, shape, rng):
    if name in model.samplers:
        return model.samplers[name](rng, shape)
    if not shape:
        return float(rng.uniform(0.5, 1.5))
    if role == "parameter" or name in model.lists:
        return rng.standard_normal(shape) / np.sqrt(shape[1])
    return rng.standard_normal(shape)


def _layer_dims(layer, dims: dict, carry_shape, taken: set) -> dict:
    """Sizes for one layer: the carried input's, the parent's, and a fresh width for the rest."""
    local = dict(dims)
    for n, value in zip(layer.tensors[layer.carry_name].shape, carry_shape):
        if isinstance(n, sp.Symbol):
            local[str(n)] = value
    for name in layer.dimensions:
        if name not in local:
            local[name] = next(w for w in _widths() if w not in taken and w not in carry_shape)
            taken.add(local[name])
    return local


class NoPointError(SymgradError, RuntimeError):
    """No random point lies far enough from the kinks of the model's nonsmooth functions."""


class UndefinedLossError(SymgradError):
    """The loss is not a finite number at a sampled point: no gradient can be checked there."""


def require_finite_loss(model: Model, value) -> None:
    """Raise ``UndefinedLossError`` naming the inputs drawn without a sampler when ``value``, the
    loss at a sampled point, is NaN or infinite: a loss such as ``log(p)`` or a focal loss over
    labels needs inputs from its domain, which only the model can give (``sample_with``)."""
    if np.isfinite(value):
        return
    drawn = [t.name for t in model.inputs if t.role != "parameter" and t.name not in model.samplers]
    how = (f"{', '.join(drawn)} drawn from N(0, 1) (scalars from U(0.5, 1.5)); give an input with a "
           f"domain (labels, probabilities, positive values) a sampler in a model file: m.sample_with(NAME, draw)"
           if drawn else "every input has a sampler or is a parameter; check the samplers' domains")
    raise UndefinedLossError(f"model {model.name!r}: the loss is {float(value)} at a sampled point, "
                             f"so no gradient can be checked: {how}")


KEPT_LAYERS = 5   # layers drawn as they always were; deeper ones are scaled (see _draw)


def _draw(model: Model, dims: dict[str, int], rng: np.random.Generator, depth: int = 1) -> dict:
    inputs = {t.name: _value(model, t.name, t.role, _shape(t.shape, dims), rng) for t in model.inputs}
    lists: dict[str, list] = {}     # one value per layer for each list input, when there are layers
    taken = set(dims.values())
    carry_shape = None
    for layer_number, layer in enumerate(layout_of(model).layers(depth)):
        if carry_shape is None:    # the first layer takes the stack's carry
            carry_shape = np.shape(inputs[layer.owner.carry.name])
        local = _layer_dims(layer, dims, carry_shape, taken)
        for name, items in model.lists.items():
            shape = _shape(layer.tensors[name].shape, local)
            value = _value(model, name, items.role, shape, rng)
            if layer_number >= KEPT_LAYERS and name not in model.samplers:
                value = value * np.sqrt(2.0)   # variance 2 / fan-in: values keep their size however deep
            lists.setdefault(name, []).append(value)
        if layer.carry_out_name is not None:
            carry_shape = _shape(layer.tensors[layer.carry_out_name].shape, local)
    return {**inputs, **lists}


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


def _position(kink, values: dict, scalars: dict):
    """Where a kink is: a number, or the values of a named tensor (``b`` of ``maximum(a, b)``,
    which broadcasts against ``a`` as the model's entries do)."""
    kink = sp.sympify(kink)
    if isinstance(kink, sp.Indexed):
        return np.asarray(values[str(kink.base)], dtype=float)
    return float(kink.xreplace(scalars))


def _margin(model: Model, values: dict) -> float:
    scalars = {t.symbol: values[t.name] for t in model.inputs if not t.shape}
    scalars.update({model.tensors[n].symbol: v for n, v in values.items()
                    if n in model.tensors and not model.tensors[n].shape and np.ndim(v) == 0})
    for t in model.inputs:   # dimensions, read off the inputs' shapes (a kink at 1/N)
        if t.name in values and np.ndim(values[t.name]) == len(t.shape):
            scalars.update({n: size for n, size in zip(t.shape, np.shape(values[t.name])) if n.is_Symbol})
    margin = np.inf
    for name, kinks in _kinked_arguments(model):
        for kink in kinks:
            position = _position(kink, values, scalars)
            margin = min(margin, float(np.min(np.abs(np.asarray(values[name]) - position))))
    return margin


def kink_margin(model: Model, module, inputs: dict) -> float:
    """The smallest distance from an argument of a nonsmooth function to one of its kinks."""
    values = module.forward(**inputs)
    return min(_margin(part, part_values)
               for part, part_values in layout_of(model).values_by_layer(inputs, values))


def sample_inputs(model: Model, module, dims: dict[str, int], rng: np.random.Generator,
                  depth: int = 1, tries: int = 100, fallback: float | None = None) -> dict:
    """Random inputs of the given sizes (and number of layers), at a point away from every kink:
    ``KINK_MARGIN`` away, else (after ``tries`` draws) the farthest draw if it is more than
    ``fallback`` away. A deep stack has so many arguments that some always lie near a kink;
    comparing a formula with the gradient needs only a point off the kinks, not a margin for
    finite differences."""
    best, best_margin = None, 0.0
    for _ in range(tries):
        inputs = _draw(model, dims, rng, depth)
        margin = kink_margin(model, module, inputs)
        if margin > KINK_MARGIN:
            return inputs
        if margin > best_margin:
            best, best_margin = inputs, margin
    if fallback is not None and best_margin > fallback:
        return best
    raise NoPointError(f"model {model.name!r}: no point {KINK_MARGIN} away from the kinks in {tries} draws"
                       + (f" (the farthest was {best_margin:.2g} away; at least {fallback:g} is needed)"
                          if fallback is not None else ""))


def finite_difference(module, inputs: dict, name: str, step: float = FD_STEP):
    """Central differences of ``module.loss`` with respect to input ``name``, entry by entry
    (for a list input, a list: one array per element)."""
    base = inputs[name]
    if isinstance(base, list):
        out = []
        for layer in range(len(base)):
            def loss_of_element(**element):
                return module.loss(**{**inputs, name: base[:layer] + [element["x"]] + base[layer + 1:]})
            shim = type("Shim", (), {"loss": staticmethod(loss_of_element)})
            out.append(finite_difference(shim, {"x": base[layer]}, "x", step))
        return out
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
    """max |got - expected| / max(max |expected|, max |got|, 1e-12); lists compare element by element."""
    if isinstance(expected, list):
        if not isinstance(got, list) or len(got) != len(expected):
            return np.inf
        return max(relative_error(g, e) for g, e in zip(got, expected))
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    scale = max(float(np.max(np.abs(expected), initial=0.0)), float(np.max(np.abs(got), initial=0.0)), 1e-12)
    return float(np.max(np.abs(got - expected), initial=0.0)) / scale


def resolution(loss: float, step: float = FD_STEP) -> float:
    """The smallest disagreement central differences of ``step`` resolve at a loss of this size."""
    return RESOLUTION_MARGIN * np.finfo(np.float64).eps * max(abs(loss), np.finfo(np.float64).tiny) / step


def max_difference(got, expected) -> float:
    """max |got - expected| over every entry (lists element by element)."""
    if isinstance(expected, list):
        return max(max_difference(g, e) for g, e in zip(got, expected))
    return float(np.max(np.abs(np.asarray(got, dtype=float) - np.asarray(expected, dtype=float)), initial=0.0))


def largest(value) -> float:
    """max |entry| over every entry (lists element by element; 0 for nothing)."""
    if isinstance(value, list):
        return max((largest(v) for v in value), default=0.0)
    return float(np.max(np.abs(np.asarray(value, dtype=float)), initial=0.0))


@dataclass(frozen=True)
class GradientCheck:
    """The worst relative error over the points that resolve the gradient (nan if none did), and
    how many of the ``points`` did not: there the gradient and the differences agreed to within
    the differences' round-off, with entries too small for a relative error to mean anything."""
    parameter: str
    max_relative_error: float
    shape_ok: bool
    unresolved: int = 0
    points: int = 0


DEPTHS = (1, 2, 3, 5)


def _same_shape(gradient, value) -> bool:
    if isinstance(value, list):
        return isinstance(gradient, list) and len(gradient) == len(value) and all(
            _same_shape(g, v) for g, v in zip(gradient, value))
    if np.ndim(value) == 0:
        return isinstance(gradient, float)
    return np.shape(gradient) == np.shape(value)


def check_module(model: Model, module, points: int = 3, seed: int = 0,
                 depths: tuple[int, ...] = DEPTHS) -> list[GradientCheck]:
    """Every gradient of ``module`` against finite differences, at ``points`` random points
    for each of the two dimension sets (and each depth, for a model with a stack);
    the worst error per parameter."""
    rng = np.random.default_rng(seed)
    worst = {name: float("nan") for name in module.PARAMETERS}
    unresolved = dict.fromkeys(module.PARAMETERS, 0)
    shapes_ok = dict.fromkeys(module.PARAMETERS, True)
    checked = 0
    for which in (0, 1):
        dims = dimension_values(model, which)
        for depth in layout_of(model).depths(depths):
            for _ in range(points):
                inputs = sample_inputs(model, module, dims, rng, depth)
                value, grads = module.loss_and_grad(**inputs)
                require_finite_loss(model, value)
                checked += 1
                for name in module.PARAMETERS:
                    expected = finite_difference(module, inputs, name)
                    shapes_ok[name] = shapes_ok[name] and _same_shape(grads[name], inputs[name])
                    error = relative_error(grads[name], expected)
                    error = np.inf if np.isnan(error) else error     # a NaN in the gradient fails
                    limit = resolution(value)
                    # zero within round-off on both sides (0.0 against 0.0 too) says nothing either
                    tiny = max(largest(grads[name]), largest(expected)) <= limit
                    if (error > TOLERANCE or tiny) and shapes_ok[name] and max_difference(grads[name], expected) <= limit:
                        unresolved[name] += 1
                    else:
                        worst[name] = error if np.isnan(worst[name]) else max(worst[name], error)
    return [GradientCheck(n, worst[n], shapes_ok[n], unresolved[n], checked) for n in module.PARAMETERS]
