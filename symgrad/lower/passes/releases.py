"""Releases: an array no later statement reads is let go (``del grad_h_4``) right after its last use.

Python keeps every local array of a function alive until it returns, so an unrolled
chain holds every step's adjoint at once (rnn_unrolled: 33 MiB at its medium size where
hand-written code needs 17), and each new array of that size is fresh memory, whose pages
fault in on every call. Dropping the names of an array once nothing reads it frees it, and
the next allocation of that size takes the freed block.

A ``del`` changes no value: it only removes a name. The names of one array (a buffer reused
under a new name, ``grad_Z1 = grad_H``, and the views of it, ``G1 = G[:M]``) are released
together, after the last statement that mentions any of them, so the array is really freed;
and only where none of them is read after these statements (``live_out``: the loss, the
gradients returned), is protected (inputs, and the values ``forward`` returns, whose
statements it shares), or is assigned or read last by a statement that may not run (the
name may not exist; the release would sit in that block). Only arrays that span two axes of
more than one entry are released, and only where a later statement makes a new array (after
the last one the function returns anyway).

Values of statements another function prints too (``loss_and_grad``'s forward statements are
``forward()``'s, which returns them) are protected there, but not after them: given ``shared``
(those values) and ``start`` (the first list that is this function's own), such a value dead
before ``start`` is released at the start of list ``start`` (the pre-activations of an unrolled
chain, read only by the forward), and one read later is released after its last use as any other.
"""
from __future__ import annotations

from symgrad.lower.statements import Allocate, Assign, Release, named_array, reads


def _large(shape) -> bool:
    return len(shape) == 2 and all(n != 1 for n in shape)


def with_releases(steps: list, live_out: set[str], protected: set[str], fixed: frozenset = frozenset(),
                  shared: frozenset = frozenset(), start: int = 0) -> list:
    """``steps`` (a list of statement lists, one function's, in order) with the names of each dead
    array released after the statement list that last mentions one of them; ``fixed``: indices
    of lists left as they are; ``shared``: protected values that may be released from list
    ``start`` on (at its start where they die before it)."""
    array: dict[str, str] = {}          # name -> the first name of its array

    def root(name: str) -> str:
        while array.get(name, name) != name:
            name = array[name]
        return name
    kept, last, final_allocation = set(live_out) | (set(protected) - set(shared)), {}, -1
    for k, statements in enumerate(steps):
        for statement in statements:
            for name in reads(statement) | {statement.target}:
                last[name] = k
            if isinstance(statement, Allocate):     # a new array, whose blocks are written in views of it
                final_allocation = k
                if not _large(statement.shape) or k in fixed or statement.target in array:
                    kept.add(statement.target)
                array.setdefault(statement.target, statement.target)
            if not isinstance(statement, Assign):
                continue
            source = named_array(statement.value)
            if source is None:
                final_allocation = k
                if not _large(statement.value.shape) or k in fixed or statement.target in array:
                    kept.add(statement.target)
                array.setdefault(statement.target, statement.target)
            else:
                array[statement.target] = root(source)
                if k in fixed:
                    kept.add(statement.target)
    groups: dict[str, list[str]] = {}
    for name in array:
        groups.setdefault(root(name), []).append(name)
    out, early = [list(statements) for statements in steps], []
    for names in sorted(groups.values(), key=lambda g: (max(last[n] for n in g), g)):
        end = max(last[n] for n in names)
        if root(names[0]) in array and not (set(names) | {root(names[0])}) & kept and end not in fixed \
                and end < final_allocation:
            if end >= start:
                out[end] += [Release(n) for n in sorted(names)]
            elif start <= final_allocation and not set(names) - set(shared):
                early += [Release(n) for n in sorted(names)]
    if early:
        out[start][:0] = early
    return out
