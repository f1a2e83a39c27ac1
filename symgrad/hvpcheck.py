"""Numerical checks of second order: generated Hessian-vector products and Hessians.

At random points away from the kinks (``gradcheck.sample_inputs``, both dimension sets, all sizes
different; a model with layers at ``HVP_DEPTHS`` layers, every layer a width of its own) and along
a random tangent of every parameter (of every layer of a list parameter), ``hvp()`` is compared with

- central differences of the generated gradient along the tangent,
  ``(grad(theta + h v) - grad(theta - h v)) / 2h`` (float64; the gradient itself is checked
  against differences of the loss by ``gradcheck``);
- HIPS autograd's ``hessian_vector_product`` of the model's loss: the forward statements
  printed for autograd (``lower/autograd_printer.py``; a stack's layers composed by the model's
  layout, ``composed_loss``) and differentiated twice by autograd, independently of symgrad's
  derivation;

and ``hessian()``, where the model has at most ``HESSIAN_LIMIT`` entries, with ``hvp()``:
``sum_p tangent_p . H[p, q]`` against the product for ``q``, and ``H[p, q]`` against the
transpose of ``H[q, p]`` (a Hessian is symmetric); a list parameter's layers are blocks of their
own, keyed ``(name, layer)``.

A product that is zero, or zero within round-off, on both sides says nothing about the
derivation, and its relative error is noise: a Huber loss whose residuals all lie on the linear
part has a zero Hessian, and there symgrad's product is 0.0 while autograd's, through abs's
``x / |x|``, is 1e-17 (a relative error of 1e-5 against the 1e-12 floor, a spurious failure; 0.0
against 0.0 would be a spurious pass). As ``gradcheck`` does for a gradient, such a point is
counted, not judged, for each reference apart: unresolved where the two sides differ by no more
than ``RESOLUTION_MARGIN`` times the reference's round-off and either both lie within it or the
relative error is above ``TOLERANCE``. The round-off of central differences of the gradient is
``eps * G / HVP_STEP`` (``G`` the largest gradient entry at the point), that of two exact
products ``eps * S`` (``S`` the largest entry of the gradient and of both products, over every
parameter: a product along a tangent of the parameters' own scale has the gradient's units).
A product that no point resolves, against either reference, is ``unresolved``: not a pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symgrad.emit.hvp_plan import HESSIAN_LIMIT
from symgrad.emit.layer_plan import part_plans, plan_for
from symgrad.gradcheck import (
    RESOLUTION_MARGIN,
    TOLERANCE,
    dimension_values,
    max_difference,
    relative_error,
    require_finite_loss,
    sample_inputs,
)
from symgrad.lower.autograd_printer import AutogradPrinter
from symgrad.model.layers import layout_of

HVP_STEP = 1e-5   # central differences of the gradient: truncation and round-off both ~1e-10 relative


@dataclass(frozen=True)
class HvpCheck:
    parameter: str
    against_differences: float     # max relative error of the product against differences of the
                                   # gradient, over the points that resolve it (nan: none did)
    against_autograd: float        # ... against autograd's hessian_vector_product (nan: no autograd,
                                   # or no point resolved it)
    hessian: float                 # hessian() against hvp() and its own transpose (nan: above the limit)
    shape_ok: bool
    unresolved_differences: int = 0   # points where the product is within the differences' round-off
    unresolved_autograd: int = 0      # ... within the two products' round-off
    points: int = 0
    autograd: bool = True             # whether autograd was there to compare with

    @property
    def unresolved(self) -> bool:
        """No point resolved the product against either reference: nothing was checked."""
        return bool(self.points) and self.unresolved_differences == self.points and (
            not self.autograd or self.unresolved_autograd == self.points)

    @property
    def failed(self) -> bool:
        """A resolved error above ``TOLERANCE``, a Hessian off, or a product of the wrong shape."""
        return not self.shape_ok or any(e > TOLERANCE for e in (self.against_differences, self.against_autograd,
                                                                self.hessian) if not np.isnan(e))


def _forward_function(plan, name: str):
    """The forward statements of one model's (or one layer's) plan as ``f(np, inputs) -> {name: value}``."""
    lines = [f"    {i.name} = inputs[{i.name!r}]" for i in plan.inputs]
    lines += [f"    {dim} = np.shape(inputs[{source!r}])[{axis}]" for dim, source, axis in plan.dim_reads]
    lines += [f"    {line}" for block in plan.forward for line in block.lines]
    names = ", ".join(f"{b.name!r}: {b.name}" for b in plan.forward)
    source = "def forward(np, inputs):\n" + "\n".join(lines) + f"\n    return {{{names}}}\n"
    namespace: dict = {}
    exec(compile(source, f"<reference forward of {name}>", "exec"), namespace)   # noqa: S102 (symgrad's own printing)
    return namespace["forward"]


def reference_loss(derivation, depth: int = 1):
    """The model's loss (at ``depth`` layers, for a model with layers) as a function of
    ``{input: value}`` that autograd can trace: each part's forward statements printed by
    ``AutogradPrinter``, with ``np`` given by the caller (autograd.numpy), composed layer by
    layer as the model's layout says (``model.layers.layout_of``)."""
    model = derivation.model
    plan = plan_for(derivation, "reference", printer=AutogradPrinter(), passes=False)
    forwards = {part.derivation.model.name: _forward_function(part_plan, part.derivation.model.name)
                for part, part_plan in zip(derivation.parts, part_plans(plan))}
    layout = layout_of(model)

    def reference(np, inputs):
        return layout.composed_loss(inputs, depth, lambda layer, local: forwards[layer.name](np, local))
    return reference


def entries(values: dict, parameters) -> dict:
    """``{parameter: value}`` with each list parameter's layers apart: ``{(name, layer): array}``,
    as the keys of a layered model's Hessian blocks."""
    out = {}
    for p in parameters:
        if isinstance(values[p], list):
            out.update({(p, k): v for k, v in enumerate(values[p])})
        else:
            out[p] = values[p]
    return out


def random_tangent(inputs: dict, parameters, rng) -> dict:
    def draw(value):
        if isinstance(value, list):
            return [draw(v) for v in value]
        return float(rng.standard_normal()) if np.ndim(value) == 0 else rng.standard_normal(np.shape(value))
    return {p: draw(inputs[p]) for p in parameters}


def moved(value, tangent, step: float):
    """``value + step * tangent`` (lists: layer by layer)."""
    if isinstance(value, list):
        return [moved(v, t, step) for v, t in zip(value, tangent)]
    return value + step * tangent


def central_difference(up, down, step: float):
    """The central difference of two gradients (lists: layer by layer)."""
    if isinstance(up, list):
        return [central_difference(u, d, step) for u, d in zip(up, down)]
    return (np.asarray(up) - np.asarray(down)) / (2 * step)


def autograd_hvp(loss, parameters: dict, tangent: dict):
    """HIPS autograd's ``hessian_vector_product`` of ``loss({parameter: value})`` at ``parameters``
    along ``tangent``, over the parameters flattened into one vector (autograd's takes arrays, not
    dicts; a list parameter is flattened layer by layer); None without autograd."""
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None
    pieces = entries(parameters, list(tangent))
    shapes = {key: np.shape(value) for key, value in pieces.items()}
    spans, start = {}, 0
    for key, shape in shapes.items():
        spans[key] = (start, start + int(np.prod(shape)))
        start = spans[key][1]

    def unflattened(flat):
        values = {key: anp.reshape(flat[a:b], shapes[key]) if shapes[key] else flat[a] for key, (a, b) in spans.items()}
        return {p: [values[(p, k)] for k in range(len(parameters[p]))] if isinstance(parameters[p], list)
                else values[p] for p in tangent}

    def flat(values):
        return np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in entries(values, list(tangent)).values()])
    product = autograd.hessian_vector_product(lambda f: loss(unflattened(f)))(flat(parameters), flat(tangent))
    return {p: [np.reshape(product[a:b], shapes[(p, k)]) for k, (a, b) in
                ((k, spans[(p, k)]) for k in range(len(parameters[p])))] if isinstance(parameters[p], list)
            else np.reshape(product[spans[p][0]:spans[p][1]], shapes[p]) if shapes[p] else float(product[spans[p][0]])
            for p in tangent}


def _autograd_hvp(reference, inputs: dict, tangent: dict):
    try:
        import autograd.numpy as anp
    except ImportError:
        return None
    try:
        return autograd_hvp(lambda p: reference(anp, {**inputs, **p}), {p: inputs[p] for p in tangent}, tangent)
    except (TypeError, ValueError) as error:
        if "does not support item assignment" in str(error) or "assignment destination" in str(error):
            return None     # a forward value written in blocks (see lower/autograd_printer.py)
        raise


def hessian_error(module, inputs: dict, tangent: dict, products: dict, floor: float = 1e-12) -> float:
    """How far ``hessian()`` is from ``hvp()``'s ``products`` along ``tangent`` and from its own
    transpose, relative to the largest entry (or ``floor``, where the Hessian is 0 but for
    round-off); nan above ``HESSIAN_LIMIT``. A list parameter's blocks are keyed by (name, layer)."""
    values, along_tangent = entries(inputs, module.PARAMETERS), entries(tangent, module.PARAMETERS)
    products = entries(products, module.PARAMETERS)
    sizes = sum(int(np.size(v)) for v in values.values())
    if sizes * sizes > HESSIAN_LIMIT:
        return float("nan")
    blocks = module.hessian(**inputs)
    # relative to the largest entry of the whole product and of the whole Hessian: a part that is 0
    # in exact arithmetic (a bias after a normalization) is round-off on both sides
    product_scale = max(max(float(np.max(np.abs(v), initial=0.0)) for v in products.values()), floor)
    hessian_scale = max(max(float(np.max(np.abs(b), initial=0.0)) for b in blocks.values()), floor)
    worst = 0.0
    for q in values:
        along = sum(np.tensordot(np.asarray(along_tangent[p]), blocks[(p, q)], axes=np.ndim(along_tangent[p]))
                    for p in values)
        worst = max(worst, float(np.max(np.abs(along - products[q]))) / product_scale)
        for p in values:
            flipped = np.transpose(blocks[(q, p)], tuple(range(np.ndim(values[q]), blocks[(q, p)].ndim))
                                   + tuple(range(np.ndim(values[q]))))
            worst = max(worst, float(np.max(np.abs(blocks[(p, q)] - flipped))) / hessian_scale)
    return worst


def _largest(*values) -> float:
    """The largest entry in magnitude of every value (dicts of parameters, lists of layers)."""
    worst = 0.0
    for value in values:
        if isinstance(value, dict):
            worst = max(worst, _largest(*value.values()))
        elif isinstance(value, list):
            worst = max(worst, _largest(*value))
        else:
            worst = max(worst, float(np.max(np.abs(np.asarray(value, dtype=float)), initial=0.0)))
    return worst


def resolved_error(got, expected, round_off: float):
    """The relative error of ``got`` against ``expected``, or None where it is not resolved: the two
    differ by at most ``RESOLUTION_MARGIN * round_off`` and either both are that small (zero within
    round-off) or the relative error is above ``TOLERANCE`` (a NaN is always resolved: it fails)."""
    error = relative_error(got, expected)
    if np.isnan(error):
        return np.inf
    limit = RESOLUTION_MARGIN * round_off
    if max_difference(got, expected) <= limit and (error > TOLERANCE or _largest(got, expected) <= limit):
        return None
    return error


HVP_DEPTHS = (1, 2, 3)   # layers of a model with a stack at which its products are checked


def _shape_ok(product, value) -> bool:
    if isinstance(value, list):
        return isinstance(product, list) and len(product) == len(value) and all(
            _shape_ok(p, v) for p, v in zip(product, value))
    return isinstance(product, float) if np.ndim(value) == 0 else np.shape(product) == np.shape(value)


def check_hvp_module(derivation, module, points: int = 3, seed: int = 0,
                     depths: tuple[int, ...] = HVP_DEPTHS) -> list[HvpCheck]:
    """Every Hessian-vector product of ``module`` (a ``--hvp`` module) against differences of its
    gradient and against autograd, and its Hessian against both; the worst error per parameter,
    at ``points`` random points per dimension set (and per depth, for a model with layers)."""
    model = derivation.model
    layout = layout_of(model)
    rng = np.random.default_rng(seed)
    parameters = module.PARAMETERS
    nan = float("nan")
    worst = {p: [nan, nan, 0.0, True] for p in parameters}
    unresolved = {p: [0, 0] for p in parameters}
    points_checked, have_autograd = 0, True
    eps = float(np.finfo(np.float64).eps)
    for depth in layout.depths(depths):
        reference = reference_loss(derivation, depth)
        for which in (0, 1):
            dims = dimension_values(model, which)
            for _ in range(points):
                inputs = sample_inputs(model, module, dims, rng, depth)
                tangent = random_tangent(inputs, parameters, rng)
                value, _, products = module.hvp(tangent, **inputs)
                require_finite_loss(model, value)
                up = module.loss_and_grad(**{**inputs, **{p: moved(inputs[p], tangent[p], HVP_STEP)
                                                           for p in parameters}})[1]
                down = module.loss_and_grad(**{**inputs, **{p: moved(inputs[p], tangent[p], -HVP_STEP)
                                                             for p in parameters}})[1]
                expected = _autograd_hvp(reference, inputs, tangent)
                have_autograd = have_autograd and expected is not None
                hessian = hessian_error(module, inputs, tangent, products)
                points_checked += 1
                gradient_scale = _largest(up, down)
                differences_round_off = eps * gradient_scale / HVP_STEP
                products_round_off = eps * _largest(gradient_scale, products, expected or {})
                for p in parameters:
                    difference = central_difference(up[p], down[p], HVP_STEP)
                    row = worst[p]
                    for k, (reference_value, round_off) in enumerate(
                            ((difference, differences_round_off),
                             (None if expected is None else expected[p], products_round_off))):
                        if reference_value is None:
                            continue
                        error = resolved_error(products[p], reference_value, round_off)
                        if error is None:
                            unresolved[p][k] += 1
                        else:
                            row[k] = error if np.isnan(row[k]) else max(row[k], error)
                    row[2] = hessian if np.isnan(hessian) else max(row[2], hessian)
                    row[3] = row[3] and _shape_ok(products[p], inputs[p])
    if not have_autograd:
        for p in parameters:
            worst[p][1] = nan
    return [HvpCheck(p, *worst[p], *unresolved[p], points_checked, have_autograd) for p in parameters]
