"""A tangent derivation -> the numba ``--hvp`` module: ``hvp()``'s tangents as compiled loops.

``generated/NAME_hvp_numba.py`` is the numba module of ``NAME`` (``emit.backends``) with the
NumPy ``--hvp`` module's ``hvp()`` and ``hessian()`` (``templates/hvp.py.j2``,
``templates/stack_hvp.py.j2``, the same results and types). The tangent statements are NumPy's,
lowered once (``emit/hvp_plan.py``), printed by the module's own numba printer, so that their
entrywise chains are kernels like the first order's, and a cheap value of the forward or the
backward is computed again in a tangent's loop rather than read back (one namespace: ``hvp()``
runs the forward, the backward and the tangents in order). ``hvp()`` then keeps what its loss,
gradients and products need, runs consecutive kernels over the same rows in one row loop and
computes its large inner arrays into buffers kept between its calls, as ``loss_and_grad`` does
(``backends.live_statements``), in a workspace of its own (``_hvp_workspace``, ``_hvp_keep``), so
that the two functions never take each other's buffers.

``hessian()`` is the NumPy module's: its forward, the backward statements its tangents read and
the tangents over the batch of every basis tangent (``BatchedNumPyPrinter``; a batch axis is not a
loop the kernels know, and the batched products are most of its time), so it compiles nothing.
A stack's layers get each layer kind's tangents as the torch and JAX
modules do (``backend_hvp.plan_backend_stack_hvp``, with this module's printer), unfused, as its
first-order layers are.
"""
from __future__ import annotations

from dataclasses import replace

from symgrad.differentiate.tangents import derive_tangents
from symgrad.emit.backend_hvp import plan_backend_stack_hvp
from symgrad.emit.backends import backend, live_statements, rendering
from symgrad.emit.files import render_module
from symgrad.emit.hvp_plan import plan_hvp
from symgrad.emit.layer_plan import plan_for
from symgrad.emit.module_plan import printed
from symgrad.index.conventions import adjoint_name, tangent_name
from symgrad.lower.batched_printer import BatchedNumPyPrinter
from symgrad.lower.numba_printer import NumbaPrinter
from symgrad.lower.numba_sweeps import SweepWriter

HVP_WORKSPACE = "_hvp"      # hvp()'s workspace functions: _hvp_workspace, _hvp_keep (loss_and_grad's: _workspace, _keep)


def plan_numba_hvp(derivation, plan, printer: NumbaPrinter, command: str):
    """The blocks ``templates/hvp.py.j2`` prints beside the numba ``plan`` of one model (printed by
    ``printer``), and what ``hvp()`` keeps (``backends.LiveStatements``)."""
    numpy_hvp = plan_hvp(derive_tangents(derivation), command)
    tangents = printed(numpy_hvp.batched, printer)       # the blocks as lowered, printed as loops
    present = {b.name for b in tangents}
    returned = frozenset(tangent_name(adjoint_name(p)) for p in derivation.parameters) & present
    live = live_statements(plan, printer, SweepWriter(printer), tangents, returned, HVP_WORKSPACE)
    hvp = replace(numpy_hvp, forward=live.forward, backward=live.backward, tangents=live.tangents,
                  gradients=plan.gradients, constants=False)
    return hvp, live


def render_numba_hvp(derivation, command: str) -> str:
    """The numba module of a model, with or without layers, with ``hvp()`` and ``hessian()``."""
    row = backend("numba")
    printer = row.printer()
    plan = plan_for(derivation, command, printer)
    if len(derivation.parts) > 1:      # a stack's layers (``ModelDerivation.parts``)
        hvp = plan_backend_stack_hvp(derivation, plan, printer, BatchedNumPyPrinter())
        parts = (hvp.hidden, hvp.output, hvp.first)
        blocks = [b for part in parts for b in (*part.forward, *part.backward, *part.tangents, *part.read_back)]
        template, context = rendering(plan, row, printer, [line for b in blocks for line in b.lines])
        return render_module(plan, template, hvp=hvp, **context)
    hvp, live = plan_numba_hvp(derivation, plan, printer, command)
    blocks = (*live.forward, *live.backward, *live.tangents)
    template, context = rendering(plan, row, printer, [line for b in blocks for line in b.lines])
    return render_module(plan, template, hvp=hvp, hvp_state=live, **context)
