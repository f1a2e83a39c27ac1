"""Workspace: large arrays that never leave the function live in buffers kept between its calls.

A fresh array of a megabyte or more costs more in page faults than in arithmetic: glibc
returns such blocks to the system when they are freed, so every call faults its
temporaries in again (batch_norm at N=1024, D=512: 16 ms a call, about half of it faults). Here
each such array is computed into a *slot*, an array the function takes from its
workspace at the start and puts back at the end, so that from the second call on no
temporary of that size is allocated::

    _slot_1, _slot_2 = _workspace((D, N), ((N, D), (N, D)))
    Xc = _slot_1
    np.subtract(X, mu, out=Xc)
    ...
    _keep((D, N), (_slot_1, _slot_2))

Which arrays: from a given block on (``loss_and_grad``'s backward: its forward statements
are ``forward()``'s too, which gives ``loss()`` the very same number), the value of an ``Assign`` (the first step of a chain, or a large operand of a
matrix product or of an in-place step, first given a name of its own) of two axes of more
than one entry, that ``buffers.steps_into`` computes into an existing array with no
temporary of its size. Never a slot: an array any of whose names (a second name, a view)
is read after these statements (the gradients returned: the user keeps them, and the next
call would overwrite them) or is protected (an input, a value ``forward`` returns), and
nothing in a function with statements that may not run.

Slots are shared by arrays whose lives do not overlap: an array takes a slot of its shape
only after the last statement that mentions the slot's previous array (any of its names),
so a value is never overwritten while something still reads it. The workspace is a
dictionary the function's module holds, keyed by the dimensions of the slots' shapes and
holding one entry (the last dimensions seen); a call *takes* its entry out (``pop``: two
threads at once never share buffers, the second makes its own), so it holds at most one
call's large temporaries between calls.
"""
from __future__ import annotations

import sympy as sp

from symgrad.lower.nodes import (Add, BroadcastTo, Elementwise, MatMul, Node, Product, Reshape, Slice, Tensor, Transpose,
                                 same_shape)
from symgrad.lower.passes.buffers import is_float, steps_into
from symgrad.lower.statements import (Assign, Release, UfuncInto, WorkspaceKeep, WorkspaceTake, holding, reads,
                                      unwrapped, with_nodes)

# a leading underscore: names no model may take (``symgrad.model.names``)
SLOT_PREFIX = "_slot"
TEMPORARY_PREFIX = "_temporary"


def large(shape) -> bool:
    """A shape worth a kept buffer: two axes of more than one entry each (a fresh array of it can
    be megabytes, whose page faults cost on every call); vectors are made anew."""
    return len(shape) == 2 and all(n != 1 for n in shape)


def _fresh(node: Node) -> bool:
    """A value printed as a new array (not a name, a view or a mask)."""
    node = unwrapped(node)
    if isinstance(node, Elementwise):
        return not node.boolean and not isinstance(node.body, sp.Indexed)
    return isinstance(node, (Product, Add, MatMul))


def _named(value):
    """The name ``value`` is another name or a view of (a reshape or an uncopied broadcast
    included), or None for a new array."""
    value = unwrapped(value)
    if isinstance(value, Elementwise) and isinstance(value.body, sp.Indexed):
        value = value.operand(value.body)
    if isinstance(value, Reshape) or isinstance(value, BroadcastTo) and not value.copy:
        value = unwrapped(value.operand)
    if isinstance(value, Transpose):
        value = value.operand
    if isinstance(value, Slice):
        value = value.base
    return value.name if isinstance(value, Tensor) else None


class _Names:
    """Numbered names, one count per prefix."""

    def __init__(self):
        self.counts = {}

    def fresh(self, prefix: str) -> str:
        self.counts[prefix] = self.counts.get(prefix, 0) + 1
        return f"{prefix}_{self.counts[prefix]}"


def _hoisted(statement, floats: set[str], names: _Names) -> tuple[list, object]:
    """The large fresh operands of ``statement``'s matrix products and in-place steps, each
    assigned to a temporary of its own first (``(assignments, statement reading them)``)."""
    found: list[Assign] = []

    def hoist(node: Node) -> Node:
        if large(node.shape) and _fresh(node) and is_float(node, floats) and steps_into("_", node, floats):
            name = names.fresh(TEMPORARY_PREFIX)
            found.append(Assign(name, node))
            return Tensor(name, node.shape)
        return node

    def in_products(node: Node) -> Node:
        if isinstance(node, MatMul):
            left, right = hoist(node.left), hoist(node.right)
            return node if left is node.left and right is node.right else MatMul(left, right)
        return node
    statement = with_nodes(statement, in_products, holding(MatMul))
    if isinstance(statement, UfuncInto):
        statement = UfuncInto(statement.target, statement.ufunc, tuple(
            hoist(a) if isinstance(a, Node) and a.shape else a for a in statement.arguments))
    return found, statement


def in_workspace(steps: list, floats: set[str], live_out: set[str], protected: set[str],
                 fixed: frozenset = frozenset(), start: int = 0) -> list:
    """``steps`` (a list of statement lists, one function's, in order) with every large array
    that does not leave the function, made from list ``start`` on, computed into a slot of its
    workspace (the lists before are left as they are: statements another function prints too);
    ``floats``: the names known to hold floats at the start. Unchanged where there is no such
    array or some statements may not run."""
    if fixed:
        return steps
    names = _Names()
    floats = set(floats)
    lists: list[list] = []
    candidates: set[str] = set()
    for index, statements in enumerate(steps):
        out = []
        for statement in statements:
            found, statement = _hoisted(statement, floats, names) if index >= start else ([], statement)
            for s in [*found, statement]:
                value = getattr(s, "value", None)
                if isinstance(s, Assign) and is_float(value, floats):
                    floats.add(s.target)
                if index >= start and isinstance(s, Assign) and large(value.shape) and _fresh(value) \
                        and is_float(value, floats):
                    candidates.add(s.target)
                out.append(s)
        lists.append(out)
    return _slotted(lists, candidates, floats, names, set(live_out) | set(protected), start)


def _slotted(lists: list, candidates: set[str], floats: set[str], names: _Names, kept: set[str],
             start: int) -> list:
    """``lists`` with each candidate whose array stays inside the function computed into a slot."""
    root: dict[str, str] = {}
    assigned: dict[str, int] = {}
    last: dict[str, int] = {}
    flat = [s for statements in lists for s in statements]
    for p, s in enumerate(flat):
        for name in reads(s) | {s.target}:
            last[name] = p
        if isinstance(s, Assign):
            assigned[s.target] = -1 if s.target in assigned else p     # assigned twice: never a slot
            source = _named(s.value)
            root[s.target] = root.get(source, source) if source is not None else s.target
    groups: dict[str, set[str]] = {}
    for name, r in root.items():
        groups.setdefault(r, set()).add(name)
    escaping = {root.get(n, n) for n in kept}
    chosen = sorted((assigned[c], c) for c in candidates
                    if assigned.get(c, -1) >= 0 and root.get(c) == c and c not in escaping
                    and not (groups[c] & kept))
    slots: list[list] = []          # [name, shape, position after which it is free]
    into: dict[int, tuple[str, list]] = {}
    for p, name in chosen:
        statement = flat[p]
        steps = steps_into(name, statement.value, floats)
        if steps is None:
            continue
        end = max(last[n] for n in groups[name])
        slot = next((s for s in slots if s[2] < p and same_shape(s[1], statement.value.shape)), None)
        if slot is None:
            slot = [names.fresh(SLOT_PREFIX), statement.value.shape, end]
            slots.append(slot)
        slot[2] = end
        into[p] = (slot[0], steps)
    if not into:
        return [list(statements) for statements in lists]
    held = set().union(*(groups[flat[p].target] for p in into))
    out, p = [], 0
    for statements in lists:
        rewritten = []
        for s in statements:
            if isinstance(s, Release) and s.target in held:
                pass                        # the workspace holds the array: nothing to let go
            elif p in into:
                slot, steps = into[p]
                rewritten += [Assign(s.target, Tensor(slot, s.value.shape)), *steps]
            else:
                rewritten.append(s)
            p += 1
        out.append(rewritten)
    pairs = tuple((name, shape) for name, shape, _ in slots)
    key = tuple(sorted({d for _, shape in pairs for n in shape for d in n.free_symbols}, key=str))
    first = next(k for k, statements in enumerate(out) if statements and k >= start)
    last_list = max(k for k, statements in enumerate(out) if statements)
    released = next((k for k, s in enumerate(out[first]) if not isinstance(s, Release)), len(out[first]))
    out[first].insert(released, WorkspaceTake(pairs[0][0], key, pairs))     # after what is let go there
    out[last_list].append(WorkspaceKeep(pairs[0][0], key, pairs))
    return out
