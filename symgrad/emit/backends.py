"""The backends a model's code is generated for: NumPy, PyTorch, JAX and numba.

One table, one row per backend: the array printer that spells the IR (None:
NumPy's, with its passes over the text), the file suffix and the templates.
Every backend's plan comes from the same lowering (``plan_for`` with the
backend's printer); a torch or JAX plan is the plain statements, and this
module adds what their templates need beyond the NumPy plan: which values
the backward reads (what ``forward`` saves for it), where the dimensions and
the values' dtype are read from inside each function. A numba plan is the
NumPy module's statements calling compiled loops; its templates also get the
loops (kernels) and the statements ``loss_and_grad`` needs (``numba_context``).

>>> from symgrad import catalogue
>>> from symgrad.differentiate.chain_rule import derive
>>> text = render_backend(derive(catalogue.build("ridge_regression")), "symgrad generate x", "torch")
>>> "class DerivedLoss(torch.autograd.Function):" in text
True
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

from symgrad.emit.module_plan import ModulePlan, names_in
from symgrad.emit.files import render_module
from symgrad.errors import SymgradError
from symgrad.lower.jax_printer import JaxPrinter
from symgrad.lower.numba_printer import NumbaPrinter
from symgrad.lower.torch_printer import TorchPrinter
from symgrad.emit.layer_plan import plan_for
from symgrad.model.layers import StackDerivation


@dataclass(frozen=True)
class Backend:
    name: str
    printer: type | None      # None: NumPy's printer and passes (``codegen``)
    suffix: str               # the generated file is ``<model><suffix>.py``
    template: str | None      # None: NumPy's own choice (``emit.render_module``)
    stack_template: str | None


BACKENDS = {
    "numpy": Backend("numpy", None, "", None, None),
    "torch": Backend("torch", TorchPrinter, "_torch", "torch_module.py.j2", "torch_stack_module.py.j2"),
    "jax": Backend("jax", JaxPrinter, "_jax", "jax_module.py.j2", "jax_stack_module.py.j2"),
    "numba": Backend("numba", NumbaPrinter, "_numba", "numba_module.py.j2", "numba_stack_module.py.j2"),
}


def backend(name: str) -> Backend:
    try:
        return BACKENDS[name]
    except KeyError:
        raise SymgradError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}") from None


@dataclass(frozen=True)
class FunctionState:
    """What one forward/backward pair of a torch or JAX module shares."""

    saved: tuple[str, ...]        # the inputs and intermediates the backward reads, in plan order
    saved_inputs: tuple[str, ...]
    dim_lines: tuple[str, ...]    # "N = X1.shape[0]": dimensions read inside a function
    dtype_source: str             # the array whose dtype (and device) the values have


def function_state(plan: ModulePlan, trusted_dims: tuple = ()) -> FunctionState:
    """The state of ``plan``'s backward: every name its statements and gradients read that the
    forward or the inputs define; the dimensions' sources and one array input always."""
    used = set()
    for block in plan.backward:
        for line in block.lines:
            used |= names_in(line)
    for _, code in plan.gradients:
        used |= names_in(code)
    arrays = [i.name for i in plan.inputs if not i.is_scalar]
    sources = {source for _, source, _ in plan.dim_reads}
    dtype_source = next((s for _, s, _ in plan.dim_reads), arrays[0] if arrays else "")
    inputs = tuple(i.name for i in plan.inputs if i.name in used | sources | {dtype_source})
    intermediates = tuple(b.name for b in plan.forward if b.name in used)
    return FunctionState(inputs + intermediates, inputs,
                         tuple(f"{dim} = {source}.shape[{axis}]" for dim, source, axis in plan.dim_reads),
                         dtype_source)


def statement_lines(plan) -> list[str]:
    """Every line of ``plan``'s statements and gradients (a stack's: both layers')."""
    plans = [plan] if isinstance(plan, ModulePlan) else [plan.hidden.plan, plan.output.plan]
    return [line for p in plans for block in (*p.forward, *p.backward) for line in block.lines] + \
        [code for p in plans for _, code in p.gradients]


def live_blocks(blocks: tuple, live_out: set[str]) -> tuple:
    """The blocks a function needs for ``live_out``: a block is dropped where no later block and
    no result reads the name it assigns (each block assigns its own name, once)."""
    needed, kept = set(live_out), []
    for block in reversed(blocks):
        if block.name in needed:
            kept.append(block)
            for line in block.lines:
                needed |= names_in(line)
    return tuple(reversed(kept))


def numba_context(plan, printer: NumbaPrinter) -> dict:
    """What the numba templates need beyond the plan: the kernels the statements call and, for a
    model without layers, the statements ``loss_and_grad`` keeps: only those its results need
    (a loop may compute a value again instead of reading it; ``forward`` keeps every statement)."""
    if not isinstance(plan, ModulePlan):
        return kernel_context(plan, printer.kernel_sources(statement_lines(plan)))
    live_out = {plan.loss}.union(*(names_in(code) for _, code in plan.gradients))
    blocks = live_blocks((*plan.forward, *plan.backward), live_out)
    backward = tuple(b for b in blocks if b in plan.backward)
    lines = [line for block in (*plan.forward, *backward) for line in block.lines] + \
        [code for _, code in plan.gradients]
    return {**kernel_context(plan, printer.kernel_sources(lines)),
            "live_forward": tuple(b for b in blocks if b in plan.forward), "live_backward": backward}


def kernel_context(plan, kernels: tuple[str, ...]) -> dict:
    """The kernels, and the name of the module their globals live in: the model's name and a
    checksum of their source, so that two modules' kernels never share one (numba's cache finds
    a kernel's globals by that name)."""
    checksum = zlib.crc32("\n".join(kernels).encode("utf-8"))
    return {"kernels": kernels, "kernel_module": f"_symgrad_numba_{plan.model_name}_{checksum:08x}"}


def template_context(plan, printer) -> dict:
    """What a backend's module template needs beyond the plan its ``printer`` printed."""
    if isinstance(printer, NumbaPrinter):
        return numba_context(plan, printer)
    if isinstance(plan, ModulePlan):
        return {"state": function_state(plan)}
    return {"hidden": function_state(plan.hidden.plan), "output": function_state(plan.output.plan)}


def render_backend(derivation, command: str, name: str) -> str:
    """The generated module of ``derivation`` for backend ``name``."""
    row = backend(name)
    if row.printer is None:
        return render_module(plan_for(derivation, command))
    printer = row.printer()
    if isinstance(printer, NumbaPrinter) and isinstance(derivation, StackDerivation):
        printer.fuse_statements = False     # the layers' functions have names of their own
    plan = plan_for(derivation, command, printer)
    template = row.template if isinstance(plan, ModulePlan) else row.stack_template
    return render_module(plan, template, **template_context(plan, printer))
