"""A stack derivation -> the data ``templates/stack_module.py.j2`` is rendered from.

The generated module has one forward and one backward function per layer
kind, each rendered from that layer's own ``ModulePlan``, and a driver that
loops over the layers: forward through ``len(W) - 1`` hidden layers and the
output layer, then backward in reverse, each hidden layer's backward taking
the adjoint of its output from the layer after it.

It is also the one module of emission that tells a stack's plan from one model's: ``plan_for``
(either derivation -> its plan), ``part_plans`` (the plan of each part of the derivation, for
the documents' matrix view) and ``template_context`` (the template and per-function plans a
backend renders), so the rest of ``emit`` and the documents never ask.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from symgrad.emit.module_plan import (InputSpec, ModulePlan, dimension_reads, plan_module, printed, shape_code, shape_text,
                                     unpacked)
from symgrad.index.collector import fewer_full_collections
from symgrad.index.conventions import adjoint_name
from symgrad.differentiate.layers import StackDerivation
from symgrad.lower.numpy_printer import NumPyPrinter
from symgrad.lower.passes import float_names, optimized
from symgrad.model.layers import GRAD_OUT


@dataclass(frozen=True)
class LayerPlan:
    plan: ModulePlan
    arguments: str            # how the driver passes this layer's inputs, e.g. "carry, W[l], W0[l], m, lam"
    state: str                # everything backward needs, e.g. "k_in, n, X_prev, W, W_l"
    out: str                  # the carried output (hidden) or the loss (output)
    extra_loss: str           # the hidden layer's own loss terms, "0.0" if none
    element_grads: tuple[tuple[str, str], ...]   # (list name, gradient code)
    carry_grad: str
    carry_block: str          # the backward block computing the carried input's adjoint
    trusted: tuple[str, ...]  # inputs not checked per layer: the carry (the previous layer's output,
                              # or the checked first input) and the model's own non-list inputs


@dataclass(frozen=True)
class StackPlan:
    model_name: str
    description: str
    command: str
    signature: str                          # every input, in the model's order
    carry: str                              # the input the first layer takes
    inputs: tuple[InputSpec, ...]           # the inputs that are not lists
    dimensions: tuple[str, ...]
    dim_reads: tuple
    lists: tuple[tuple[str, str], ...]      # (name, role)
    parameters: tuple[str, ...]
    hidden: LayerPlan
    output: LayerPlan

    @property
    def unpack(self) -> str:
        """The names ``_inputs`` returns, in order: dimensions, then the inputs that are not lists."""
        return unpacked([*self.dimensions, *(i.name for i in self.inputs)])


def _layer(derivation, command: str, kind: str, printer=None, passes: bool = True) -> LayerPlan:
    layer = derivation.model
    labels = {name: f'f"{name}[{{l}}]"' for name in layer.elements}
    plan = plan_module(derivation, command, labels, share=False, printer=printer)
    if kind == "hidden":
        seed = adjoint_name(layer.carry_out_name)
        plan = _without(plan, {layer.loss_name, GRAD_OUT}, seed)
    if printer is None and passes:     # the NumPy-only passes over the statements
        plan = _fewer_temporaries(plan, layer)
    arguments = []
    for spec in plan.inputs:
        if spec.name == layer.carry_name:
            arguments.append("carry")
        elif spec.name in layer.elements:
            arguments.append(f"{spec.name}[l]")
        else:
            arguments.append(spec.name)
    names = list(plan.dimensions) + [i.name for i in plan.inputs] + [
        b.name for b in plan.forward]
    gradients = dict(plan.gradients)
    return LayerPlan(
        plan=plan,
        arguments=", ".join(arguments),
        state=unpacked(names),
        out=layer.carry_out_name if kind == "hidden" else layer.loss_name,
        extra_loss=" + ".join(layer.loss_terms) if layer.loss_terms else "0.0",
        element_grads=tuple((name, gradients[name]) for name, items in layer.owner.lists.items()
                            if items.role == "parameter"),
        carry_grad=gradients[layer.carry_name],
        carry_block=adjoint_name(layer.carry_name),
        trusted=tuple(spec.name for spec in plan.inputs if spec.name not in layer.elements),
    )


def _fewer_temporaries(plan: ModulePlan, layer) -> ModulePlan:
    """Repeated array expressions computed once and elementwise chains evaluated in place, within
    the forward and within the backward function (separate functions: the forward's values are
    all kept for the backward; the carry's block may not run, so it is left alone)."""
    kept = set(layer.tensors)
    carry = frozenset({adjoint_name(layer.carry_name)})
    inputs = {t.name for t in layer.inputs}                      # float64 once checked
    forward = optimized([b.statements for b in plan.forward], inputs, kept | {b.name for b in plan.forward}, kept)
    forward_floats = float_names([s for statements in forward for s in statements], inputs)
    backward = optimized([b.statements for b in plan.backward], forward_floats, set(plan.gradient_reads), kept,
                         skip=frozenset(k for k, b in enumerate(plan.backward) if b.name in carry))
    printer = NumPyPrinter()
    return replace(plan, forward=printed([replace(b, statements=s) for b, s in zip(plan.forward, forward)], printer),
                   backward=printed([replace(b, statements=s) for b, s in zip(plan.backward, backward)], printer))


def _without(plan: ModulePlan, names: set[str], seed: str) -> ModulePlan:
    """The hidden layer's plan without its VJP loss (``grad_out`` is passed to the backward instead)."""
    forward = tuple(b for b in plan.forward if b.name not in names)
    inputs = tuple(i for i in plan.inputs if i.name != GRAD_OUT)
    backward = tuple(b for b in plan.backward if b.name != seed)
    return replace(plan, forward=forward, inputs=inputs, backward=backward,
                   intermediates=tuple(n for n in plan.intermediates if n not in names))


def plan_stack_module(derivation: StackDerivation, command: str, printer=None, passes: bool = True) -> StackPlan:
    """The stack module's plan; ``printer``: another backend's, ``passes``: whether NumPy's passes
    run (see ``plan_module``)."""
    model = derivation.model
    if printer is not None:     # the layers' statements are printed one after another, with the same names
        printer.one_namespace = False
    inputs = tuple(
        InputSpec(t.name, t.role, not t.shape, shape_text(t.shape), shape_code(t.shape),
                  repr(tuple(str(n) for n in t.shape)), f'"{t.name}"')
        for t in model.inputs)
    reads = dimension_reads(model)
    return StackPlan(
        model_name=model.name,
        description=model.description,
        command=command,
        signature=", ".join(model.input_order),
        carry=model.stack.carry.name,
        inputs=inputs,
        dimensions=tuple(d for d, _, _ in reads),
        dim_reads=reads,
        lists=tuple((name, items.role) for name, items in model.lists.items()),
        parameters=tuple(derivation.parameters),
        hidden=_layer(derivation.hidden, command, "hidden", printer, passes),
        output=_layer(derivation.output, command, "output", printer, passes),
    )


@fewer_full_collections()
def plan_for(derivation, command: str, printer=None, passes: bool = True):
    """The plan of a generated module: one model, or a stack of layers (``printer``: another
    backend's, see ``plan_module``; without ``passes``, the statements as lowered: what the
    matrix view of a document needs). With ``part_plans`` and ``template_context``, what the
    stages after it take from a plan without asking which of the two it is."""
    if isinstance(derivation, StackDerivation):
        return plan_stack_module(derivation, command, printer, passes)
    return plan_module(derivation, command, share=passes, printer=printer)


def part_plans(plan) -> tuple[ModulePlan, ...]:
    """One model's plan for each part of its derivation (``ModelDerivation.parts``), in order."""
    if isinstance(plan, StackPlan):
        return plan.hidden.plan, plan.output.plan
    return (plan,)


def template_context(plan, module_template: str, stack_template: str) -> tuple[str, dict[str, ModulePlan]]:
    """The template a backend renders ``plan`` with, and the plan of each forward/backward pair
    by the name the template knows it by: ``state`` for one model, ``hidden`` and ``output`` for
    a stack's layers."""
    if isinstance(plan, StackPlan):
        return stack_template, {"hidden": plan.hidden.plan, "output": plan.output.plan}
    return module_template, {"state": plan}
