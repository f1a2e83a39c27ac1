"""Shared values: an array expression computed more than once becomes one statement.

The lowering lowers each named value on its own, so the loss and the first
adjoint both compute the error (``Ystar - Y``), and every sum over the same
axis makes its ones vector. Here, over the statements of one function, a node
(nodes are compared by value) or a part of an elementwise body that occurs
more than once is assigned once, ``shared_1 = Ystar - Y``, just before its
first use, and read from there on; a value inside a value shared already counts as well (the
ones vector of a shared row sum is the one every other row sum reads). Since SymPy flattens
sums and multiplies numbers into them, a part of a body is also a sum of all but one of a
longer sum's terms (``0.5*t + 0.5`` in ``u*v + 0.5*t + 0.5``) and a sum without its rational
content (``1 - p`` in ``2 - 2*p``, read as ``2*shared_1``). Likewise a part of a body is a
product of some of a longer product's factors (``g*P`` in ``dT*g*P``, ``g`` a column broadcast
along ``P``'s rows), where naming it saves at least the passes over an array that computing it
costs: ``g*P`` read in two statements is one pass, where ``dT*g*P`` made two of its own; a row
times a row inside ``r1*r2*G`` is not (``(r1*r2)*G`` is one pass over ``G`` already, and
``r1*shared`` would be another), nor a column times a row alone (each statement makes its
outer product fused into its own chain; a name only holds it longer).

Safe because a value is shared only when nothing between its first and last
use can change what it reads: every statement in between is an ``Assign``
to a name it does not read, or writes in place into an array none of whose
names (its views, its other names) the value reads. A statement of a block
that may not run is left as it is (the value is shared around it, not into it). A mask is shared only
where it multiplies an array of numbers (``Delta * (H == Z)``, ``dot_Z * (H == Z)``),
and only those uses read the name: NumPy's booleans times floats are floats, so
the product is what it was, while the printers make a mask a number where it is
added, negated or contracted, which they could no longer see through a name. A value that is the whole of two
statements is not shared either (both names would be one array, and a later
in-place step on one would change the other).
"""
from __future__ import annotations

from collections import Counter
from functools import lru_cache
from itertools import combinations

import sympy as sp

from symgrad.index.conventions import SHARED_PREFIX
from symgrad.index.terms import atoms_of
from symgrad.lower.nodes import (Diagonal, Elementwise, Entry, Node, Ones, Product, Slice, SquaredNorm, Tensor, Transpose,
                                 Zeros, node_repr, same_shape)
from symgrad.lower.passes.entries import canonical, part
from symgrad.lower.statements import (Assign, children, named_array, node_reads, nodes_of, unwrapped,
                                     with_nodes)

_NAMES = (Tensor, Entry, Slice, Transpose, Diagonal, Zeros)     # printed as a name or a view of one


@lru_cache(maxsize=1 << 14)
def _reads_array(node: Node) -> bool:
    """Whether ``node`` reads an array: a tensor that is not a scalar, or a ones vector (remembered:
    asked of every subtree of every statement, again after each round of sharing)."""
    return (isinstance(node, Tensor) and bool(node.shape)) or isinstance(node, Ones) \
        or any(_reads_array(child) for child in children(node))


def _shareable(node: Node) -> bool:
    node_core = unwrapped(node)
    if node_core is not node or isinstance(node, _NAMES):
        return False
    if isinstance(node, Elementwise) and (node.boolean or isinstance(node.body, sp.Indexed)):
        return False
    return _reads_array(node)


def _is_mask(node: Node, masks: set[str]) -> bool:
    """A mask, or the name a shared mask was given (``masks``)."""
    return node.boolean or (isinstance(node, Tensor) and node.name in masks)


def _scaled_masks(node: Product, masks: set[str]):
    """The masks ``node`` multiplies into an array of numbers: a product whose first factor (the
    one a minus sign is printed on) is numbers, and whose masks read arrays."""
    if not node.factors or _is_mask(node.factors[0], masks) or not node.factors[0].shape:
        return
    for factor in node.factors[1:]:
        if factor.boolean and _reads_array(factor):
            yield factor


def _sub_sums(expr: sp.Expr):
    """The sums of all terms but one of a sum of three or more: SymPy flattens nested sums, so
    ``a = (0.5*t + 0.5)*h`` and ``g = (u*v + 0.5*t + 0.5)*w`` share ``0.5*t + 0.5`` only as a part
    of ``g``'s sum."""
    if expr.is_Add and len(expr.args) > 2:
        for k in range(len(expr.args)):
            yield sp.Add(*expr.args[:k], *expr.args[k + 1:], evaluate=False)


_MOST_FACTORS = 6      # a longer product's sub-products are not searched (2**n of them)


def _passes(shapes: list, full) -> int:
    """About how many passes over an array of shape ``full`` a product of factors of ``shapes``
    makes: one per factor of that shape after the first, and one per smaller shape (the factors
    of one smaller shape are multiplied together first, ``passes.scalars``)."""
    large = sum(same_shape(shape, full) for shape in shapes)
    small = {shape for shape in shapes if not same_shape(shape, full)}
    return max(large + len(small) - 1, 0)


def _sub_products(node: Elementwise, expr: sp.Expr):
    """The products of two or more, not all, of the array factors of the product ``expr`` in
    ``node``'s body whose name there saves at least the passes they make on their own
    (``_passes``): the factor that gives them their shape among them, and more than one pass
    fewer when they become one factor."""
    if not expr.is_Mul:
        return
    factors = [f for f in expr.args if atoms_of(f, sp.Indexed)]
    if not 3 <= len(factors) <= _MOST_FACTORS:
        return
    shapes = {f: part(node, f).shape for f in factors}
    full = part(node, expr).shape
    before = _passes(list(shapes.values()), full)
    for size in range(2, len(factors)):
        for chosen in combinations(factors, size):
            own = [shapes[f] for f in chosen]
            shape = part(node, sp.Mul(*chosen)).shape
            if not any(same_shape(s, shape) for s in own):     # an outer product: see the module's docstring
                continue
            rest = [shapes[f] for f in factors if f not in chosen] + [shape]
            if before - _passes(rest, full) >= max(_passes(own, shape), 1):
                yield sp.Mul(*chosen)


def _scaled(expr: sp.Expr) -> tuple:
    """``expr`` as (number, sum): a sum's positive rational content taken out, so that ``2 - 2*p``
    is ``1 - p`` times 2 (SymPy multiplies a number into a sum); anything else times 1. The sign
    stays: ``p - 1`` for ``1 - p`` would cost a negation wherever it is read."""
    if not expr.is_Add:
        return sp.Integer(1), expr
    return expr.primitive()


def _without(total: sp.Expr, terms: tuple):
    """The terms of the sum ``total`` left when ``terms`` (each as often as it occurs) are taken
    out; None unless ``total`` holds them all."""
    rest = list(total.args)
    for term in terms:
        if term not in rest:
            return None
        rest.remove(term)
    return rest


@lru_cache(maxsize=1 << 12)
def _body_parts(node: Elementwise) -> tuple:
    """The parts of ``node``'s body worth a name of their own: array values, not masks, as
    ``(expr, value)`` pairs, a sum's sums of all terms but one among them (``_sub_sums``;
    remembered: nodes are immutable, and each round of sharing and each rewrite asks again of the
    same bodies)."""
    found = []
    for whole in sp.preorder_traversal(node.body):
        if isinstance(whole, sp.Indexed) or not atoms_of(whole, sp.Indexed):
            continue
        scaled = _scaled(whole)[1]
        for expr in ((whole,) if whole is not node.body else ()) + ((scaled,) if scaled != whole else ()) \
                + tuple(_sub_sums(whole)) + tuple(_sub_products(node, whole)):
            if not atoms_of(expr, sp.Indexed):
                continue
            value = part(node, expr)
            if value.shape and not value.boolean and _reads_array(value):
                found.append((expr, value))
    return tuple(found)


def _put(body: sp.Expr, parts: dict) -> sp.Expr:
    """``body`` with each part of ``parts`` (expr -> its stand-in) replaced: a subtree where it is
    one, a number times a stand-in where a sum is a multiple of one (``_scaled``), a sum of some of
    a sum's terms among the others (``_sub_sums``)."""
    body = body.xreplace(parts)
    sums = [(expr, stand_in, _scaled(expr)) for expr, stand_in in parts.items() if expr.is_Add]
    products = [(Counter(expr.args), stand_in) for expr, stand_in in parts.items() if expr.is_Mul]
    if not sums and not products:
        return body

    def rebuilt(e):
        if e.is_Mul:
            have = Counter(e.args)
            for wanted, stand_in in products:
                if all(have[f] >= count for f, count in wanted.items()):
                    return sp.Mul(*(have - wanted).elements(), stand_in)
            return None
        if not e.is_Add:
            return None
        content, rest = _scaled(e)
        for expr, stand_in, (expr_content, expr_rest) in sums:
            if rest == expr_rest:
                return content / expr_content * stand_in
        for expr, stand_in, _ in sums:
            terms = _without(e, expr.args)
            if terms is not None:
                return sp.Add(*terms, stand_in)
        return None
    return body.replace(lambda e: rebuilt(e) is not None, rebuilt)


def _values_in(statement, masks: set[str]) -> list[Node]:
    """The shareable values ``statement`` computes, once per occurrence (none outside an
    ``Assign``); ``masks``: the names shared masks were given so far (only a statement a sharing
    rewrites can read a new one, so the others' lists stay right)."""
    if not isinstance(statement, Assign):
        return []
    found = []
    for node in _printed_subnodes(statement.value):
        if _shareable(node):
            found.append(node)
        if isinstance(node, Product):
            found += list(_scaled_masks(node, masks))
        if isinstance(node, Elementwise):
            found += [value for _, value in _body_parts(node)]
    return found


class _Occurrences:
    """Each shareable value -> the statements it occurs in, from ``_values_in`` of each statement
    (``values_in``), kept up to date as statements are rewritten: a round of sharing rewrites a
    few statements of hundreds, so the counts change there alone, and a fresh count of every
    statement's values each round made the pass quadratic in the number of values shared."""

    def __init__(self, values_in: list):
        self.values_in = values_in
        self.counts: dict[Node, dict[int, int]] = {}     # value -> {statement index: occurrences}
        self.repeated: set[Node] = set()                 # the values occurring more than once
        for k in range(len(values_in)):
            self._count(k, 1)

    def _count(self, k: int, step: int) -> None:
        for value in self.values_in[k]:
            counts = self.counts.setdefault(value, {})
            counts[k] = counts.get(k, 0) + step
            if not counts[k]:
                del counts[k]
            total = sum(counts.values())
            if total > 1:
                self.repeated.add(value)
            else:
                self.repeated.discard(value)
                if not total:
                    del self.counts[value]

    def update(self, k: int, values: list) -> None:
        """Statement ``k``'s values are now ``values``."""
        self._count(k, -1)
        self.values_in[k] = values
        self._count(k, 1)

    def uses(self, value: Node) -> list[int]:
        """The index of the statement of each occurrence of ``value``, ascending."""
        return [k for k in sorted(self.counts[value]) for _ in range(self.counts[value][k])]

    def order(self, value: Node, uses: list[int]) -> tuple:
        """Where ``value`` first occurs: (its first statement, its place among that statement's
        values); the order a scan of the statements meets the values in."""
        return uses[0], self.values_in[uses[0]].index(value)


def _printed_subnodes(node: Node):
    """Every node inside ``node`` as often as the printed code computes it (an inner product of a
    value with itself, ``np.vdot(E, E)``, computes ``E`` twice)."""
    yield node
    for child in children(node):
        for _ in range(2 if isinstance(node, SquaredNorm) else 1):
            yield from _printed_subnodes(child)


def _names_of_arrays(statements: list) -> dict[str, set[str]]:
    """Each name -> every name of the same array (a view, another name: ``dot_Z1 = dot_Z[:M]``)."""
    groups: dict[str, set[str]] = {}
    for statement in statements:
        source = named_array(statement.value) if isinstance(statement, Assign) else None
        if source is not None:
            group = groups.get(statement.target, {statement.target}) | groups.get(source, {source})
            for name in group:
                groups[name] = group
    return groups


def _undisturbed(statements: list, first: int, last: int, value: Node, names: dict[str, set[str]]) -> bool:
    """Nothing from statement ``first`` to ``last`` changes what ``value`` reads: each assigns a
    name it does not read, or writes into an array none of whose names it reads (whether it
    runs or not)."""
    read = node_reads(value)
    arrays = set().union(*(names.get(n, {n}) for n in read))
    return all(s.target not in read if isinstance(s, Assign) else s.target not in arrays
               for s in statements[first:last])


def _replaced(value: Node, name: str, masks: set[str]):
    """A rewrite putting the array ``name`` where ``value`` was, as a node or a part of a body (a
    mask: as a factor of the products that multiply it into numbers, ``_scaled_masks``)."""
    shared = Tensor(name, value.shape)
    entry = sp.IndexedBase(name)[0]

    def rewrite(node: Node) -> Node:
        if value.boolean:
            if isinstance(node, Product) and value in set(_scaled_masks(node, masks)):
                return Product(node.coefficient, tuple(shared if f == value else f for f in node.factors))
            return node
        if node == value:
            return shared
        if isinstance(node, Elementwise):
            parts = {expr: sp.Dummy() for expr, found in _body_parts(node) if found == value}
            if parts:
                body = _put(node.body, parts).xreplace({d: entry for d in parts.values()})
                kept = tuple((a, o) for a, o in node.operands if body.has(a))
                return canonical(Elementwise(body, (*kept, (entry, shared))))
        return node
    return rewrite


def _may_hold(value: Node):
    """A ``touches`` test for ``_replaced(value, ...)``: a subtree can hold ``value`` (as a node, a
    part of a body or a mask among a product's factors) only where it reads every name ``value``
    reads (a node reads what its children and its body read)."""
    read = node_reads(value)
    return lambda node: read <= node_reads(node)


def share_values(statements: list, guarded: list, worth=None) -> list:
    """``statements`` (one function's, in order; None for one that may not run) with every
    repeated array value computed once, into a name beginning ``shared_``. ``guarded``: the same
    statements, those that may not run among them (left alone: a value is shared around one,
    never into it). ``worth``: which values are worth a name (a backend's printer may compute
    some again more cheaply than it reads them, ``NumbaPrinter.worth_sharing``); None: all."""
    statements = list(statements)
    hoisted: dict[int, list[Assign]] = {}
    counter, masks, aliases = 0, set(), _names_of_arrays(guarded)

    def values_at(k: int) -> list[Node]:
        """The values statement ``k`` and the shared values computed just before it compute."""
        return [v for a in hoisted.get(k, []) for v in _values_in(a, masks)] + _values_in(statements[k], masks)
    occurrences = _Occurrences([values_at(k) for k in range(len(statements))])
    undisturbed: dict = {}       # (first, last, value) -> _undisturbed (``guarded`` and ``aliases`` never change)
    worthy: dict = {}            # value -> worth(value)
    while True:
        candidates = [(value, uses) for value, uses in ((v, occurrences.uses(v)) for v in occurrences.repeated)
                      if (worth is None or _remembered(worthy, value, lambda value=value: worth(value)))
                      and _remembered(undisturbed, (uses[0], uses[-1], value),
                                     lambda: _undisturbed(guarded, uses[0], uses[-1], value, aliases))
                      and sum(unwrapped(getattr(statements[k], "value", None)) == value for k in set(uses)) < 2]
        if not candidates:
            break
        # the largest first; of equal sizes, the first computed, as a scan of the statements meets them
        value, uses = max(candidates, key=lambda c: (len(node_repr(c[0])), *(-n for n in occurrences.order(*c))))
        counter += 1
        name = f"_{SHARED_PREFIX}_{counter}"            # renamed in the order they are computed below
        before = hoisted.setdefault(uses[0], [])        # a shared value that reads this one comes after it
        place = next((j for j, a in enumerate(before) if value in _values_in(a, masks)), len(before))
        rewrite = _replaced(value, name, set(masks))
        if value.boolean:
            masks.add(name)
        touches = _may_hold(value)
        for k in sorted(set(uses)):
            hoisted[k] = [with_nodes(a, rewrite, touches) for a in hoisted.get(k, [])]
            statements[k] = with_nodes(statements[k], rewrite, touches)
        hoisted[uses[0]].insert(place, Assign(name, value))
        for k in sorted(set(uses)):
            occurrences.update(k, values_at(k))
    order = [a.target for k in sorted(hoisted) for a in hoisted[k]]
    if not order:        # nothing shared: no name to choose
        return [(k, statement) for k, statement in enumerate(statements)]
    taken = set().union(*(node_reads(s.value) | {s.target} for s in statements if isinstance(s, Assign)),
                        set()) - set(order)
    prefix = SHARED_PREFIX
    while any(n.startswith(f"{prefix}_") for n in taken):
        prefix = f"{prefix}_value"                      # a model's own tensor is called shared_1
    names = {old: f"{prefix}_{n}" for n, old in enumerate(order, 1)}
    out = []
    for k, statement in enumerate(statements):
        out += [(k, _renamed(a, names)) for a in hoisted.get(k, [])]
        out.append((k, _renamed(statement, names) if statement is not None else None))
    return out


def _remembered(memo: dict, key, compute):
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def _renamed(statement, names: dict[str, str]):
    untouched = not (isinstance(statement, Assign) and statement.target in names) and all(
        node_reads(n).isdisjoint(names) for n in nodes_of(statement))
    if untouched:       # reads no renamed value: the statement is what it was
        return statement

    def rename(node: Node) -> Node:
        return Tensor(names[node.name], node.shape) if isinstance(node, Tensor) and node.name in names else node
    statement = with_nodes(statement, rename, lambda node: not node_reads(node).isdisjoint(names))
    return Assign(names.get(statement.target, statement.target), statement.value) \
        if isinstance(statement, Assign) else statement
