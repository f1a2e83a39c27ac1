"""A tangent derivation -> what the torch and JAX ``--hvp`` modules print beside their first order.

The tangent statements are NumPy's (``emit/hvp_plan.py``): the same IR, lowered once from the
same tangent derivation, printed here by the backend's printer for ``hvp()`` and by its batched
printer (``lower/batched_frameworks.py``) for ``hessian()``. The blocks ``plan_hvp`` keeps for
``hessian()`` hold the statements as lowered (no NumPy pass runs over them), so either printer can
print them; the NumPy passes that ``hvp()`` of the NumPy module runs are not used. The forward and
backward statements are the backend's own first-order plan's (``plan_for`` with its printer):
the tangents read the values those compute, by the same names, since both plans fold the same
adjoints (``differentiate/adjoint_folding.py``).

A model with layers gets each layer kind's tangents as NumPy's stack module does
(``layer_hvp_plan.layer_tangents``: derived once, lowered, no pass run over them; the hidden layer
kind's a second time without the carried input, for the first layer), printed by the backend's
printers into the four functions per layer kind that ``templates/stack_hvp.py.j2`` (NumPy's
template too, each library's macros spelling its part) runs up and down the stack; the backward
beside the tangents is the backend's own first-order layer plan's.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from symgrad.differentiate.tangents import derive_tangents
from symgrad.emit.backends import backend, rendering
from symgrad.emit.files import render_module
from symgrad.emit.hvp_plan import HESSIAN_LIMIT, TangentInput, plan_hvp
from symgrad.emit.layer_hvp_plan import LayerHvpPlan, LayerTangents, StackHvpPlan, layer_tangents
from symgrad.emit.layer_plan import LayerPlan, plan_for
from symgrad.emit.module_plan import Block, printed, shape_text, unpacked
from symgrad.errors import SymgradError
from symgrad.index.conventions import adjoint_name, tangent_name
from symgrad.lower.batched_frameworks import BatchedJaxPrinter, BatchedTorchPrinter
from symgrad.lower.batched_printer import BATCH
from symgrad.lower.nodes import Zeros

BATCHED_PRINTERS = {"torch": BatchedTorchPrinter, "jax": BatchedJaxPrinter}
HVP_BACKENDS = (*BATCHED_PRINTERS, "numba")     # the backends --hvp writes beside NumPy (numba: ``emit/numba_hvp.py``)


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


def _stack_layer(found: LayerTangents, first: LayerPlan, printer, batched_printer, guarded: bool = True) -> LayerHvpPlan:
    """One layer kind's second-order functions in a backend; ``first``: the backend's first-order
    plan of the layer (its backward runs as it is, beside the tangents, less the carried input's
    adjoint where that input has no tangent: the first layer's). ``guarded``: as for NumPy's
    (``layer_hvp_plan``), the carried input's adjoint and its tangent only where ``need_input``."""
    layer = found.layer
    carried = layer.carry_name in found.varying

    def value(name: str, shape, batched: bool) -> str:
        return name if name in found.present else (batched_printer if batched else printer).doprint(Zeros(shape))

    def product(p: str, batched: bool) -> str:
        present = tangent_name(adjoint_name(p)) in found.present
        return _product(printer, p, layer.tensors[p].shape, present, batched)

    out = found.out_tangent
    out_shape = layer.tensors[layer.carry_out_name].shape if out else ()
    carry_shape = layer.tensors[layer.carry_name].shape
    backward = tuple(b for b in first.plan.backward if carried or b.name != found.carry_block)
    return LayerHvpPlan(
        carry_tangent=tangent_name(layer.carry_name) if carried else "",
        element_tangents=tuple(tangent_name(p) for p in found.elements),
        element_shapes=tuple(shape_text(layer.tensors[p].shape) for p in found.elements),
        forward=printed(found.forward, printer),
        tangent_state=unpacked(found.state),
        batched_tangent_state=unpacked(found.state),
        out_tangent=value(out, out_shape, False) if out else "",
        backward=backward,
        tangents=printed(found.adjoint, printer),
        carry_block=found.carry_block if guarded else "",
        carry_tangent_block=found.carry_tangent_block if guarded else "",
        carry_hvp=value(found.carry_tangent_block, carry_shape, False),
        element_hvps=tuple(product(p, False) for p in found.elements),
        batched_forward=printed(found.forward, batched_printer),
        batched_out_tangent=value(out, out_shape, True) if out else "",
        read_back=tuple(b for b in backward if b.name in found.read_back),
        batched_tangents=printed(found.adjoint, batched_printer),
        batched_carry_hvp=value(found.carry_tangent_block, carry_shape, True),
        batched_rows=tuple(product(p, True) for p in found.elements),
    )


def plan_backend_stack_hvp(derivation, plan, printer, batched_printer) -> StackHvpPlan:
    """The second-order functions of a backend's module of a stack, beside its first-order ``plan``
    (whose layers' backward blocks are the tangents' ``backward``, as NumPy's unpassed ones are),
    printed by the plan's ``printer`` (numba's collects the kernels its statements call) and, over
    the batch of basis tangents, by ``batched_printer``: the hidden layer kind's twice, as NumPy's,
    once without the carried input's tangent for the first layer."""
    hidden, output = derivation.parts
    carry = derivation.hidden.model.carry_name
    first_varying = tuple(n for n in hidden.varying if n != carry)
    hidden_backward = plan.hidden.plan.backward
    first_backward = tuple(b for b in hidden_backward if b.name != adjoint_name(carry))
    return StackHvpPlan(
        _stack_layer(layer_tangents(derivation.hidden, hidden_backward, hidden.varying), plan.hidden,
                     printer, batched_printer, guarded=False),
        _stack_layer(layer_tangents(derivation.output, plan.output.plan.backward, output.varying), plan.output,
                     printer, batched_printer),
        _stack_layer(layer_tangents(derivation.hidden, first_backward, first_varying), plan.hidden,
                     printer, batched_printer, guarded=False),
        tuple(derivation.parameters))


def require_hvp_backend(name: str) -> None:
    if name not in HVP_BACKENDS:
        raise SymgradError(f"--hvp writes NumPy, torch, JAX and numba modules, not --backend {name}")


def render_backend_hvp(derivation, command: str, name: str) -> str:
    """The torch or JAX module of a model, with or without layers, with ``hvp()`` and ``hessian()``."""
    if name not in BATCHED_PRINTERS:
        raise SymgradError(f"render_backend_hvp writes torch and JAX modules, not {name}'s")
    row = backend(name)
    printer = row.printer()
    plan = plan_for(derivation, command, printer)
    template, context = rendering(plan, row, printer)
    if len(derivation.parts) > 1:      # a stack's layers (``ModelDerivation.parts``)
        hvp = plan_backend_stack_hvp(derivation, plan, printer, BATCHED_PRINTERS[name]())
    else:
        hvp = plan_backend_hvp(derivation, plan, name, command)
    return render_module(plan, template, hvp=hvp, **context)
