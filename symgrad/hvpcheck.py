"""Numerical checks of second order: generated Hessian-vector products and Hessians.

At random points away from the kinks (``gradcheck.sample_inputs``, both dimension sets, all sizes
different) and along a random tangent of every parameter, ``hvp()`` is compared with

- central differences of the generated gradient along the tangent,
  ``(grad(theta + h v) - grad(theta - h v)) / 2h`` (float64; the gradient itself is checked
  against differences of the loss by ``gradcheck``);
- HIPS autograd's ``hessian_vector_product`` of the model's loss: the forward statements
  printed for autograd (``lower/autograd_printer.py``) and differentiated twice by autograd,
  independently of symgrad's derivation;

and ``hessian()``, where the model has at most ``HESSIAN_LIMIT`` entries, with ``hvp()``:
``sum_p tangent_p . H[p, q]`` against the product for ``q``, and ``H[p, q]`` against the
transpose of ``H[q, p]`` (a Hessian is symmetric).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symgrad.emit.hvp_plan import HESSIAN_LIMIT
from symgrad.emit.module_plan import dimension_reads, plan_module
from symgrad.gradcheck import dimension_values, relative_error, sample_inputs
from symgrad.lower.autograd_printer import AutogradPrinter

HVP_STEP = 1e-5   # central differences of the gradient: truncation and round-off both ~1e-10 relative


@dataclass(frozen=True)
class HvpCheck:
    parameter: str
    against_differences: float     # max relative error of the product against differences of the gradient
    against_autograd: float        # ... against autograd's hessian_vector_product (nan: no autograd)
    hessian: float                 # hessian() against hvp() and its own transpose (nan: above the limit)
    shape_ok: bool


def reference_loss(derivation):
    """The model's loss as a function of ``{input: value}`` that autograd can trace: the forward
    statements printed by ``AutogradPrinter``, with ``np`` given by the caller (autograd.numpy)."""
    model = derivation.model
    plan = plan_module(derivation, "reference", share=False, printer=AutogradPrinter())
    lines = [f"    {t.name} = inputs[{t.name!r}]" for t in model.inputs]
    lines += [f"    {dim} = np.shape(inputs[{source!r}])[{axis}]" for dim, source, axis in dimension_reads(model)]
    lines += [f"    {line}" for block in plan.forward for line in block.lines]
    source = "def reference(np, inputs):\n" + "\n".join(lines) + f"\n    return {model.loss_name}\n"
    namespace: dict = {}
    exec(compile(source, f"<reference loss of {model.name}>", "exec"), namespace)   # noqa: S102 (symgrad's own printing)
    return namespace["reference"]


def random_tangent(inputs: dict, parameters, rng) -> dict:
    return {p: float(rng.standard_normal()) if np.ndim(inputs[p]) == 0 else rng.standard_normal(np.shape(inputs[p]))
            for p in parameters}


def autograd_hvp(loss, parameters: dict, tangent: dict):
    """HIPS autograd's ``hessian_vector_product`` of ``loss({parameter: value})`` at ``parameters``
    along ``tangent``, over the parameters flattened into one vector (autograd's takes arrays, not
    dicts); None without autograd."""
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None
    shapes = {p: np.shape(parameters[p]) for p in tangent}
    spans, start = {}, 0
    for p, shape in shapes.items():
        spans[p] = (start, start + int(np.prod(shape)))
        start = spans[p][1]

    def flat_loss(flat):
        return loss({p: anp.reshape(flat[a:b], shapes[p]) if shapes[p] else flat[a] for p, (a, b) in spans.items()})

    def flat(values):
        return np.concatenate([np.ravel(np.asarray(values[p], dtype=float)) for p in tangent])
    product = autograd.hessian_vector_product(flat_loss)(flat(parameters), flat(tangent))
    return {p: np.reshape(product[a:b], shapes[p]) if shapes[p] else float(product[a])
            for p, (a, b) in spans.items()}


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
    round-off); nan above ``HESSIAN_LIMIT``."""
    sizes = sum(int(np.size(inputs[p])) for p in module.PARAMETERS)
    if sizes * sizes > HESSIAN_LIMIT:
        return float("nan")
    blocks = module.hessian(**inputs)
    # relative to the largest entry of the whole product and of the whole Hessian: a part that is 0
    # in exact arithmetic (a bias after a normalization) is round-off on both sides
    product_scale = max(max(float(np.max(np.abs(v), initial=0.0)) for v in products.values()), floor)
    hessian_scale = max(max(float(np.max(np.abs(b), initial=0.0)) for b in blocks.values()), floor)
    worst = 0.0
    for q in module.PARAMETERS:
        along = sum(np.tensordot(np.asarray(tangent[p]), blocks[(p, q)], axes=np.ndim(tangent[p]))
                    for p in module.PARAMETERS)
        worst = max(worst, float(np.max(np.abs(along - products[q]))) / product_scale)
        for p in module.PARAMETERS:
            flipped = np.transpose(blocks[(q, p)], tuple(range(np.ndim(inputs[q]), blocks[(q, p)].ndim))
                                   + tuple(range(np.ndim(inputs[q]))))
            worst = max(worst, float(np.max(np.abs(blocks[(p, q)] - flipped))) / hessian_scale)
    return worst


def check_hvp_module(derivation, module, points: int = 3, seed: int = 0) -> list[HvpCheck]:
    """Every Hessian-vector product of ``module`` (a ``--hvp`` module of a model without layers)
    against differences of its gradient and against autograd, and its Hessian against both;
    the worst error per parameter, at ``points`` random points per dimension set."""
    model = derivation.model
    reference = reference_loss(derivation)
    rng = np.random.default_rng(seed)
    parameters = module.PARAMETERS
    worst = {p: [0.0, 0.0, 0.0, True] for p in parameters}
    for which in (0, 1):
        dims = dimension_values(model, which)
        for _ in range(points):
            inputs = sample_inputs(model, module, dims, rng)
            tangent = random_tangent(inputs, parameters, rng)
            _, _, products = module.hvp(tangent, **inputs)
            up = module.loss_and_grad(**{**inputs, **{p: inputs[p] + HVP_STEP * tangent[p] for p in parameters}})[1]
            down = module.loss_and_grad(**{**inputs, **{p: inputs[p] - HVP_STEP * tangent[p] for p in parameters}})[1]
            expected = _autograd_hvp(reference, inputs, tangent)
            hessian = hessian_error(module, inputs, tangent, products)
            for p in parameters:
                difference = (np.asarray(up[p]) - np.asarray(down[p])) / (2 * HVP_STEP)
                row = worst[p]
                row[0] = max(row[0], relative_error(products[p], difference))
                row[1] = float("nan") if expected is None else max(row[1], relative_error(products[p], expected[p]))
                row[2] = hessian if np.isnan(hessian) else max(row[2], hessian)
                row[3] = row[3] and (isinstance(products[p], float) if np.ndim(inputs[p]) == 0
                                     else np.shape(products[p]) == np.shape(inputs[p]))
    return [HvpCheck(p, *worst[p]) for p in parameters]
