"""Second order of a stack of layers -> what ``templates/stack_hvp.py.j2`` prints, per layer kind.

The tangent recursion runs like the adjoint recursion. Each layer kind's tangents are derived
once (``differentiate.tangents``, with the part's ``varying`` inputs: the carried input and the
layer's elements of the list parameters, and for the hidden layer also ``grad_out``, the adjoint
of its output, whose tangent ``dot_grad_out`` comes from the layer above). The generated
``hvp()`` then goes up the stack with each layer's forward tangents (``dot_X_l`` from
``dot_X_prev`` and ``dot_W_l``), and down with each layer's backward and the tangents of its
adjoints (``dot_grad_X_prev`` from ``dot_grad_out``, and ``dot_grad_W_l``: the Hessian-vector
product for layer l), as ``loss_and_grad()`` goes down with the adjoints.

The first layer's input is data, of tangent 0, and needs no adjoint: the hidden layer kind is
derived a second time without the carried input among its varying inputs (NumPy's
``_first_tangents`` and ``_first_backward_hvp``), so no product with a zero tangent is computed
(two full matrix products per call otherwise) and no adjoint of the data. A hidden layer above
it always computes its input's adjoint and that adjoint's tangent; only the output layer's are
computed where a layer below needs them (``need_input``: a stack of one layer has none).

Per layer kind there are four functions: the forward tangents and the backward with the
adjoints' tangents for ``hvp()``, passed through NumPy's passes (``lower.passes.optimized``)
as one function, so that a value both compute (the ReLU mask, ``1 - a`` of a sigmoid) is
computed once in the forward tangents and handed to the backward in the tangent state
(``_handed_over``; the forward's named values and the forward tangents are kept intact, and the
guarded blocks are left alone, as in ``layer_plan``); and the same two printed over a leading
batch axis for ``hessian()`` (``lower/batched_printer.py``, without the passes), which runs every
basis tangent of every layer's parameters at once.

``layer_tangents`` is the backend-free part (each layer kind's tangents as lowered, no pass run
over them), which ``backend_hvp`` prints for the torch and JAX modules of a stack.

``render_hvp_module`` is the one place of second-order emission that tells a stack from one
model (as ``layer_plan.plan_for`` is for first order).
"""
from __future__ import annotations

from dataclasses import dataclass

from symgrad.differentiate.layers import StackDerivation
from symgrad.differentiate.tangents import derive_tangents
from symgrad.emit.files import render_module
from symgrad.emit.hvp_plan import (HESSIAN_LIMIT, gradient_value, lowered_tangents, plan_hvp, read_by,
                                   statement_shapes, tangent_statements)
from symgrad.emit.layer_plan import plan_for, plan_stack_module
from symgrad.emit.module_plan import Block, printed, shape_code, shape_text, unpacked
from symgrad.index.conventions import adjoint_name, tangent_name
from symgrad.lower.batched_printer import BATCH, BatchedNumPyPrinter
from symgrad.lower.numpy_printer import NumPyPrinter
from symgrad.lower.passes import float_names, optimized
from symgrad.lower.statements import Release, reads


@dataclass(frozen=True)
class LayerHvpPlan:
    """One layer kind's second-order functions, as printed strings."""

    carry_tangent: str                   # dot_X_prev: the argument holding the carried input's tangent ("": none)
    element_tangents: tuple[str, ...]    # dot_W, ...: the tangents of the layer's elements of the list parameters
    element_shapes: tuple[str, ...]      # their shapes, as error messages name them: "(k_out, k_in)"
    forward: tuple[Block, ...]           # hvp(): the forward values' tangents
    tangent_state: str                   # what the backward reads from the forward tangents, "dot_X_prev, dot_W, dot_f,"
    batched_tangent_state: str           # the tangents the batched backward reads
    out_tangent: str                     # hidden layer: the carried output's tangent, as code
    backward: tuple[Block, ...]          # hvp(): the first-order backward ...
    tangents: tuple[Block, ...]          # ... and the adjoints' tangents, passed together
    carry_block: str                     # the blocks computed only where a layer below needs them ("": none
    carry_tangent_block: str             # guarded: always, or never)
    carry_hvp: str                       # the carried input's adjoint's tangent, as code
    element_hvps: tuple[str, ...]        # (H v) for this layer's elements, as code
    batched_forward: tuple[Block, ...]   # hessian(): the same over the batch of basis tangents
    batched_out_tangent: str
    read_back: tuple[Block, ...]         # the first-order backward statements the batched tangents read
    batched_tangents: tuple[Block, ...]
    batched_carry_hvp: str
    batched_rows: tuple[str, ...]        # each element's products along the basis tangents, one row each

    @property
    def arguments(self) -> str:
        return ", ".join(n for n in (self.carry_tangent, *self.element_tangents) if n)


@dataclass(frozen=True)
class StackHvpPlan:
    """What ``templates/stack_hvp.py.j2`` prints beside a ``StackPlan``."""

    hidden: LayerHvpPlan                 # a hidden layer above the first
    output: LayerHvpPlan
    first: LayerHvpPlan                  # the first hidden layer, whose input (data) has no tangent
    parameters: tuple[str, ...]          # the list parameters, in the model's order
    limit: int = HESSIAN_LIMIT

    @property
    def unpack(self) -> str:
        """The names ``_tangents`` returns, in order."""
        return unpacked(tangent_name(p) for p in self.parameters)


def _zeros(shape, batched: bool) -> str:
    return f"np.zeros(({BATCH}, {shape_code(shape)[1:]})" if batched else f"np.zeros({shape_code(shape)})"


@dataclass(frozen=True)
class LayerTangents:
    """One layer kind's tangent statements as lowered (IR blocks, no pass run over them): what
    each backend prints that layer's second-order functions from."""

    layer: object                        # the layer's model
    varying: tuple[str, ...]             # the inputs that have a tangent
    elements: tuple[str, ...]            # the layer's elements of the list parameters
    returned: frozenset[str]             # the tangents its functions return, where computed
    forward: tuple[Block, ...]           # the forward values' tangents
    adjoint: tuple[Block, ...]           # the adjoints' tangents
    present: frozenset[str]              # the tangents computed (any other is 0)
    state: tuple[str, ...]               # the tangents the adjoints' tangents read
    read_back: frozenset[str]            # the backward blocks the adjoints' tangents read

    @property
    def carry_block(self) -> str:
        return adjoint_name(self.layer.carry_name)

    @property
    def carry_tangent_block(self) -> str:
        return tangent_name(adjoint_name(self.layer.carry_name))

    @property
    def out_tangent(self) -> str | None:
        return tangent_name(self.layer.carry_out_name) if self.layer.carry_out_name else None


def layer_tangents(derivation, backward: tuple[Block, ...], varying: tuple[str, ...] | None) -> LayerTangents:
    """The tangents of one layer kind (``derivation``: its part of the stack's derivation;
    ``backward``: its first-order plan's backward blocks, without the passes). Where ``varying``
    leaves out the carried input (the first layer's, data), its tangent is 0 and neither its
    adjoint nor that adjoint's tangent is computed (``backward`` has no block for it)."""
    layer = derivation.model
    varying = tuple(derivation.parameters) if varying is None else varying
    tangents = derive_tangents(derivation, varying)
    shapes = statement_shapes(layer, backward)
    elements = tuple(name for name, items in layer.owner.lists.items() if items.role == "parameter")
    own = [*([layer.carry_name] if layer.carry_name in varying else []), *elements]
    needed = {tangent_name(adjoint_name(p)) for p in own}
    if layer.carry_out_name is not None:
        needed.add(tangent_name(layer.carry_out_name))
    blocks = lowered_tangents(derivation, tangent_statements(tangents, backward, needed), shapes)
    forward_names = {tangent_name(n) for n in tangents.forward}
    forward = tuple(b for b in blocks if b.name in forward_names)
    adjoint = tuple(b for b in blocks if b.name not in forward_names)
    read = set().union(*(reads(s) for b in adjoint for s in b.statements))
    given = [tangent_name(n) for n in own]          # dot_grad_out is an argument of the backward
    carry_block = adjoint_name(layer.carry_name)
    readers = [*adjoint, *(b for b in backward if b.name == carry_block)]
    return LayerTangents(
        layer=layer, varying=varying, elements=elements, returned=frozenset(needed), forward=forward, adjoint=adjoint,
        present=frozenset(b.name for b in blocks),
        state=tuple(n for n in (*given, *(b.name for b in forward)) if n in read),
        read_back=frozenset(b.name for b in read_by(backward, readers)) | {carry_block},
    )


def _handed_over(forward: list, later: list, state: tuple[str, ...]) -> tuple[str, ...]:
    """The names the passed forward-tangent statements assign that the later statements (the
    backward's) use: a value shared between them (``shared_1 = Z_l > 0``) goes from the forward
    function to the backward in the tangent state, beside ``state``."""
    assigned = {s.target for statements in forward for s in statements if not isinstance(s, Release)}
    used = set().union(*(reads(s) | {s.target} for statements in later for s in statements))
    return tuple(n for n in sorted(assigned & used) if n not in state)


def _layer(derivation, first, varying: tuple[str, ...] | None, guarded: bool = True) -> LayerHvpPlan:
    """``first``: the layer's first-order plan without the passes (``layer_plan.LayerPlan``).
    ``varying`` without the carried input: the first layer's, whose input is data. ``guarded``:
    the carried input's adjoint and its tangent are computed only where ``need_input`` (the output
    layer's, which is the first where the stack has one layer); a hidden layer above the first
    always computes them, and the first never."""
    layer = derivation.model
    varying = tuple(derivation.parameters) if varying is None else varying
    carried = layer.carry_name in varying
    carry_block = adjoint_name(layer.carry_name)
    backward = first.plan.backward if carried else tuple(b for b in first.plan.backward if b.name != carry_block)
    found = layer_tangents(derivation, backward, varying)
    varying, forward, adjoint, present, state = found.varying, found.forward, found.adjoint, found.present, found.state
    forward_names = {b.name for b in forward}
    carry_tangent_block = found.carry_tangent_block

    inputs = {t.name for t in layer.inputs} | {tangent_name(n) for n in varying}
    floats = float_names([s for b in first.plan.forward for s in b.statements], inputs)
    floats = float_names([s for b in forward for s in b.statements], floats)
    protected = set(layer.tensors) | {tangent_name(n) for n in varying} | forward_names
    out = found.out_tangent
    # the forward tangents and the backward passed as one function, so that what both compute
    # (a mask, a derivative's factor) is computed once, in the forward, and handed over
    everything = [*forward, *backward, *adjoint]
    live_out = {*first.plan.gradient_reads, *(found.returned & present), *([out] if out else [])}
    skip = frozenset(k for k, b in enumerate(everything) if guarded and b.name in (carry_block, carry_tangent_block))
    passed = optimized([b.statements for b in everything], floats, live_out, protected, skip=skip)
    split = len(forward)
    handed = _handed_over(passed[:split], passed[split:], state)
    numpy = NumPyPrinter()
    rebuilt = [Block(b.name, b.comments, s, b.view, b.relation_view) for b, s in zip(everything, passed)]

    def value(name: str, shape, batched: bool) -> str:
        return name if name in present else _zeros(shape, batched)

    def hvp_of(p: str, batched: bool) -> str:
        return gradient_value(p, batched, tangent_name(adjoint_name(p)) in present, layer.tensors[p].shape, BATCH)

    carry_shape = layer.tensors[layer.carry_name].shape
    out_shape = layer.tensors[layer.carry_out_name].shape if out else ()
    batched = BatchedNumPyPrinter()
    return LayerHvpPlan(
        carry_tangent=tangent_name(layer.carry_name) if carried else "",
        element_tangents=tuple(tangent_name(p) for p in found.elements),
        element_shapes=tuple(shape_text(layer.tensors[p].shape) for p in found.elements),
        forward=printed([Block(b.name, b.comments, s, b.view) for b, s in zip(forward, passed[:split])], numpy),
        tangent_state=unpacked((*state, *handed)),
        batched_tangent_state=unpacked(state),
        out_tangent=value(out, out_shape, False) if out else "",
        backward=printed(rebuilt[split:split + len(backward)], numpy),
        tangents=printed(rebuilt[split + len(backward):], numpy),
        carry_block=carry_block if guarded else "",
        carry_tangent_block=carry_tangent_block if guarded else "",
        carry_hvp=value(carry_tangent_block, carry_shape, False),
        element_hvps=tuple(hvp_of(p, False) for p in found.elements),
        batched_forward=printed(forward, batched),
        batched_out_tangent=value(out, out_shape, True) if out else "",
        read_back=printed([b for b in backward if b.name in found.read_back], numpy),
        batched_tangents=printed(adjoint, batched),
        batched_carry_hvp=value(carry_tangent_block, carry_shape, True),
        batched_rows=tuple(hvp_of(p, True) for p in found.elements),
    )


def plan_stack_hvp(derivation: StackDerivation, command: str) -> StackHvpPlan:
    """Both layer kinds' second-order functions (each layer kind's tangents derived once), and the
    hidden layer's once more without the carried input's tangent, for the first layer."""
    first = plan_stack_module(derivation, command, passes=False)
    hidden, output = derivation.parts
    carry = derivation.hidden.model.carry_name
    return StackHvpPlan(_layer(derivation.hidden, first.hidden, hidden.varying, guarded=False),
                        _layer(derivation.output, first.output, output.varying),
                        _layer(derivation.hidden, first.hidden, tuple(n for n in hidden.varying if n != carry),
                               guarded=False),
                        tuple(derivation.parameters))


def render_hvp_module(derivation, command: str) -> str:
    """The NumPy module of a model, with or without layers, with ``hvp()`` and ``hessian()`` beside
    its first-order functions."""
    plan = plan_for(derivation, command)
    if isinstance(derivation, StackDerivation):
        return render_module(plan, hvp=plan_stack_hvp(derivation, command))
    return render_module(plan, hvp=plan_hvp(derive_tangents(derivation), command))
