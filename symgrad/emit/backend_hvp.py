"""A tangent derivation -> what the torch and JAX ``--hvp`` modules print beside their first order.

The tangent statements are NumPy's (``emit/hvp_plan.py``): the same IR, lowered once from the
same tangent derivation, printed here by the backend's printer for ``hvp()`` and by its batched
printer (``lower/batched_frameworks.py``) for ``hessian()``. The blocks ``plan_hvp`` keeps for
``hessian()`` hold the statements as lowered (no NumPy pass runs over them), so either printer can
print them; the NumPy passes that ``hvp()`` of the NumPy module runs are not used. The forward and
backward statements are the backend's own first-order plan's (``plan_for`` with its printer):
the tangents read the values those compute, by the same names, since both plans fold the same
adjoints (``differentiate/adjoint_folding.py``).

A model with layers is refused with one line naming it (``backend_hvp_refusal``: the torch and
JAX modules of a stack run its layers in a loop, which no tangent statement here knows).
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symgrad.differentiate.tangents import derive_tangents
from symgrad.emit.backends import backend, function_state
from symgrad.emit.files import render_module
from symgrad.emit.hvp_plan import HESSIAN_LIMIT, TangentInput, plan_hvp
from symgrad.emit.layer_plan import plan_for
from symgrad.emit.module_plan import Block, printed, unpacked
from symgrad.errors import SymgradError
from symgrad.index.conventions import adjoint_name, tangent_name
from symgrad.lower.batched_frameworks import BatchedJaxPrinter, BatchedTorchPrinter
from symgrad.lower.batched_printer import BATCH
from symgrad.lower.nodes import Zeros

BATCHED_PRINTERS = {"torch": BatchedTorchPrinter, "jax": BatchedJaxPrinter}   # the backends --hvp writes beside NumPy


@dataclass(frozen=True)
class BackendHvpPlan:
    """What ``templates/framework_hvp.py.j2`` prints beside a torch or JAX ``ModulePlan``."""

    tangent_inputs: tuple[TangentInput, ...]
    tangents: tuple[Block, ...]       # hvp(): the tangent statements, after the first-order plan's
    read_back: tuple[Block, ...]      # hessian(): the backward statements the tangents read
    batched: tuple[Block, ...]        # hessian(): the tangents over the batch of basis tangents
    hvps: tuple[tuple[str, str], ...]           # (parameter, expression) in hvp()
    batched_hvps: tuple[tuple[str, str], ...]   # (parameter, its Hessian rows) in hessian()
    total: str                        # the number of parameter entries, as code
    limit: int = HESSIAN_LIMIT

    @property
    def unpack(self) -> str:
        return unpacked(t.name for t in self.tangent_inputs)


def _product(printer, parameter: str, shape, present: bool, batched: bool) -> str:
    """A parameter's Hessian-vector product as returned (``batched``: as rows, one per basis tangent)."""
    name = tangent_name(adjoint_name(parameter))
    if batched:
        if not present:
            return printer.doprint(Zeros((sp.Symbol(BATCH), sp.Mul(*shape) if shape else sp.Integer(1))))
        return f"{printer.library}.reshape({name}, ({BATCH}, -1))"
    if not present:
        return printer.gradient(None, shape)
    return name if shape else f"{printer.library}.reshape({name}, ())"


def plan_backend_hvp(derivation, plan, name: str, command: str) -> BackendHvpPlan:
    """The second-order blocks of backend ``name``'s module, beside its first-order ``plan``."""
    numpy_hvp = plan_hvp(derive_tangents(derivation), command)
    printer, batched_printer = backend(name).printer(), BATCHED_PRINTERS[name]()
    model = derivation.model
    present = {b.name for b in numpy_hvp.batched}
    read_back = {b.name for b in numpy_hvp.read_back}
    shapes = {p: model.tensors[p].shape for p in derivation.parameters}
    return BackendHvpPlan(
        tangent_inputs=numpy_hvp.tangent_inputs,
        tangents=printed(numpy_hvp.batched, printer),
        read_back=tuple(b for b in plan.backward if b.name in read_back),
        batched=printed(numpy_hvp.batched, batched_printer),
        hvps=tuple((p, _product(printer, p, shapes[p], tangent_name(adjoint_name(p)) in present, False))
                   for p in derivation.parameters),
        batched_hvps=tuple((p, _product(printer, p, shapes[p], tangent_name(adjoint_name(p)) in present, True))
                           for p in derivation.parameters),
        total=numpy_hvp.total,
    )


def backend_hvp_refusal(derivation, name: str) -> str | None:
    """Why backend ``name``'s ``--hvp`` module cannot be written for ``derivation`` (the words
    after the model's name in a one-line error), or None where it can."""
    if len(derivation.parts) > 1:      # a stack's layers (``ModelDerivation.parts``)
        return f"has layers; --hvp --backend {name} covers models without layers so far"
    return None


def require_hvp_backend(name: str) -> None:
    if name not in BATCHED_PRINTERS:
        raise SymgradError(f"--hvp writes NumPy, torch and JAX modules, not --backend {name}")


def render_backend_hvp(derivation, command: str, name: str) -> str:
    """The torch or JAX module of a model without layers, with ``hvp()`` and ``hessian()``."""
    require_hvp_backend(name)
    refusal = backend_hvp_refusal(derivation, name)
    if refusal is not None:
        raise SymgradError(f"model {derivation.model.name!r} {refusal}")
    row = backend(name)
    plan = plan_for(derivation, command, row.printer())
    return render_module(plan, row.template, state=function_state(plan),
                         hvp=plan_backend_hvp(derivation, plan, name, command))
