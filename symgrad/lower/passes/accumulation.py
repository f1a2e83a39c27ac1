"""Early accumulation: a sum is added up term by term, each term as soon as its operands exist.

The gradient of a weight that every step of an unrolled chain reads is a sum of one product per
step (rnn_unrolled: ``grad_Wh = grad_h_1_1 @ h0.T + grad_h_2_1 @ h_1.T + ...``), lowered as one
statement after the last step's adjoint, so every step's adjoint stays alive until then (five
H x N arrays at once where hand-written backpropagation through time holds one or two). Here the
statement ``T = a + b + c`` becomes ``T = a`` as soon as ``a`` is the last reader of a large array
the function computes (its operands ready, every other reader run), ``T += b`` as soon as ``b`` is,
and the term that would move last stays where the sum was, under its comment::

    grad_h_4_1 = ...
    grad_h_3 = Wh.T @ grad_h_4_1
    grad_Wx = grad_h_4_1 @ x4.T       # moved up: grad_h_4_1 is dead after this step
    ...

so each step's adjoint is dead once its step is done, and later passes (``releases``,
``workspace``) let its memory go to the next step. Reads by the other sums split here do not
count (they move too). A term moves only where a new large array is made between where it
would run and the sum (else nothing would be gained by running early), and a term of inputs
alone never moves. A small value that reads nothing the function computes (the ones vector of
an axis sum) moves up with the first term that reads it, unless it is its block's only
statement.

Why it is safe: the terms are reordered and split, nothing else; each runs after every statement
that assigns or writes (in place, or through a view of the same array) any name it reads, up to
the sum's own position, so it reads what it read there. ``T`` is mentioned by no statement before
the sum and assigned nowhere else, so its readers all come after its last term; its first
statement makes a new float array (never another name's array, which ``+=`` would change), and
every term has the sum's shape (no term is broadcast into ``T``). Statements of a block that may
not run, and sums that read their own target, are left as they are. Reordered additions round
differently in the last bits.
"""
from __future__ import annotations

from bisect import bisect_right

from symgrad.lower.nodes import Add, Node, Tensor, same_shape
from symgrad.lower.passes.buffers import is_float
from symgrad.lower.statements import Assign, added_into, named_array, node_reads, reads, subnodes


def _large(shape) -> bool:
    return len(shape) == 2 and all(n != 1 for n in shape)


class _Writes:
    """Where each name of ``statements`` becomes available and where each array is written."""

    def __init__(self, statements: list):
        self.root: dict[str, str] = {}              # name -> the first name of its array
        self.assigned: dict[str, int | None] = {}   # name -> its Assign's position (None: two)
        self.writes: dict[str, list[int]] = {}      # array (its first name) -> positions writing it
        self.first_mention: dict[str, int] = {}
        for q, statement in enumerate(statements):
            for name in reads(statement) | {statement.target}:
                self.first_mention.setdefault(name, q)
            if isinstance(statement, Assign):
                self.assigned[statement.target] = None if statement.target in self.assigned else q
                source = named_array(statement.value)
                self.root[statement.target] = self.array(source) if source is not None else statement.target
            self.writes.setdefault(self.array(statement.target), []).append(q)

    def array(self, name: str) -> str:
        return self.root.get(name, name)

    def ready(self, node: Node, before: int, anywhere: set[str]) -> int | None:
        """The last position before ``before`` that assigns or writes what ``node`` reads (-1:
        nothing does; None: a name it reads is assigned twice); names in ``anywhere`` can move."""
        last = -1
        for name in node_reads(node) - anywhere:
            if name in self.assigned and self.assigned[name] is None:
                return None
            positions = [q for q in self.writes.get(self.array(name), ()) if q < before]
            if name in self.assigned:
                positions.append(self.assigned[name])
            last = max([last, *positions])
        return last

    def movable(self, statements: list, blocks: list, name: str) -> bool:
        """Whether ``name``'s statement may move anywhere before its readers: a small new value
        that reads nothing the function computes, assigned once and never written again, and not
        the only statement of its block (which stays under its comment)."""
        q = self.assigned.get(name)
        if q is None or self.writes.get(self.array(name)) != [q] or self.array(name) != name \
                or blocks.count(blocks[q]) == 1:
            return False
        value = statements[q].value
        return not _large(value.shape) and named_array(value) is None and \
            not (node_reads(value) & (set(self.assigned) | set(self.writes)))


def accumulated_early(statements: list, blocks: list, floats: set[str], start: int = 0) -> tuple[list, list]:
    """``statements`` (one function's, in order; ``blocks[k]``: the block statement ``k`` belongs
    to) with every sum from position ``start`` on added up as its terms become ready; returns the
    new statements and their blocks (a moved statement joins the block of the statement after
    which it runs, the first from ``start`` on where that is before ``start``)."""
    facts = _Writes(statements)
    sums = _sums(statements, facts, floats, start)
    readers: dict[str, list[int]] = {}     # name -> the positions of the statements, sums aside, reading it
    for q, statement in enumerate(statements):
        if q not in sums:
            for name in reads(statement):
                readers.setdefault(name, []).append(q)
    allocations = [q for q, s in enumerate(statements) if q not in sums and isinstance(s, Assign)
                   and named_array(s.value) is None and _large(s.value.shape)]
    after: dict[int, list] = {}            # position -> statements that run right after it
    replaced: dict[int, list] = {}
    for p, (statement, floats_there) in sums.items():
        target, value = statement.target, statement.value
        anywhere = {n for n in node_reads(value) if facts.movable(statements, blocks, n)}
        ready = [facts.ready(t, p, anywhere) for t in value.terms]
        if None in ready:
            continue
        at = [_position(t, r, p, facts, readers) for t, r in zip(value.terms, ready)]
        at = [q if _made_between(allocations, q, p) else p for q in at]    # no new array before p: no gain
        if all(q == p for q in at):
            continue
        if p not in at:         # the last term stays, under the sum's comment
            at[max(range(len(at)), key=at.__getitem__)] = p
        order = sorted(range(len(value.terms)), key=at.__getitem__)
        count = next((c for c in range(1, len(order) + 1)
                      if _new_float(Add(tuple(value.terms[k] for k in order[:c])), floats_there)), None)
        if count is None:
            continue
        steps = [(at[order[count - 1]], Assign(target, Add(tuple(value.terms[k] for k in order[:count]))))]
        steps += [(at[k], added_into(target, value.shape, value.terms[k])) for k in order[count:]]
        replaced[p] = [s for q, s in steps if q == p]
        for q, s in steps:
            if q != p:
                after.setdefault(max(q, start - 1), []).append(s)
    if not replaced:
        return list(statements), list(blocks)
    moved = _hoisted(statements, blocks, facts, after)
    out, out_blocks = [], []

    def emit(items, block):
        out.extend(items)
        out_blocks.extend([block] * len(items))
    emit(after.get(-1, []), blocks[start] if statements else 0)
    for q, statement in enumerate(statements):
        if q not in moved:
            emit(replaced.get(q, [statement]), blocks[q])
        emit(after.get(q, []), blocks[q] if q >= start else blocks[start])
    return out, out_blocks


def _sums(statements: list, facts: _Writes, floats: set[str], start: int) -> dict[int, tuple]:
    """The sums that may be split: position -> (the statement, the names holding floats there)."""
    floats, out = set(floats), {}
    for p, statement in enumerate(statements):
        value = getattr(statement, "value", None)
        if p >= start and isinstance(statement, Assign) and isinstance(value, Add) and len(value.terms) > 1 \
                and facts.assigned.get(statement.target) == p and facts.first_mention[statement.target] == p \
                and statement.target not in node_reads(value) \
                and all(same_shape(t.shape, value.shape) for t in value.terms):
            out[p] = (statement, set(floats))
        if isinstance(statement, Assign) and is_float(value, floats):
            floats.add(statement.target)
    return out


def _position(term: Node, ready: int, p: int, facts: _Writes, readers: dict) -> int:
    """Where ``term`` of the sum at ``p`` runs: once its operands are ready, right after the
    statement from which on it is the last reader (reads by sums aside, which move too) of a
    large array it reads, the first such; at ``p`` where it is no such reader before ``p``."""
    last_reads = [max(readers.get(n.name, ()), default=-1) for n in subnodes(term)
                  if isinstance(n, Tensor) and n.name in facts.assigned and _large(n.shape)]
    sooner = [q for q in last_reads if q < p]
    return max(ready, min(sooner)) if sooner else p


def _made_between(allocations: list[int], q: int, p: int) -> bool:
    """Whether a position of ``allocations`` (ascending) lies strictly between ``q`` and ``p``."""
    k = bisect_right(allocations, q)
    return k < len(allocations) and allocations[k] < p


def _new_float(node: Add, floats: set[str]) -> bool:
    return named_array(node) is None and is_float(node, floats)


def _hoisted(statements: list, blocks: list, facts: _Writes, after: dict[int, list]) -> set[int]:
    """Moves each movable statement that a moved statement reads before it runs to the front of
    the first place a moved statement reads it; returns the positions it left."""
    moved = set()
    for name in sorted({n for items in after.values() for s in items for n in reads(s)}):
        if not facts.movable(statements, blocks, name):
            continue
        q = facts.assigned[name]
        first = min((p for p, items in after.items() if any(name in reads(s) for s in items)))
        if first < q:
            after[first].insert(0, statements[q])
            moved.add(q)
    return moved
