"""Large arrays that never leave a numba module's ``loss_and_grad`` -> buffers kept between its calls.

A fresh array of a megabyte or more costs page faults on every call (glibc hands such blocks back
to the system when they are freed): the residual block's loss_and_grad at D=256, H=512, N=1024
made twenty megabytes of temporaries a call and spent a quarter of its time faulting them in.
Here each such array is computed into a *slot*, an array the function takes from its workspace at
the start and keeps there for the next call at the end, as the NumPy module's slots
(``symgrad.lower.passes.workspace``, whose ``_workspace`` and ``_keep`` the module prints too)::

    _slot_1, _slot_2 = _workspace((H, N), ((H, N), (H, N)))
    z, a = _kernel_rows_z(np.matmul(W1, x, out=_slot_1), b1, N, H, _slot_2)
    ...
    _keep((H, N), (_slot_1, _slot_2))

Which arrays, of two axes of more than one entry each: a matrix product that is a statement's
whole value or an argument of a kernel call (``np.matmul(..., out=slot)``), and the array a kernel
writes its entrywise result into (``NumbaPrinter.writing_into``: the slot is passed in place of a
new array), where the array does not *leave*: no returned name (a gradient, the loss) is it or may
be a view of it. A name may be a view of every name its statement's value reads, unless that value
is a kernel call or a matrix product (a new array, or a product's result the kernel wrote into);
a kernel's argument other than the one it writes into is only read. Matrix products elsewhere
(nested in another expression) and einsums stay new arrays.

Why it is safe: each slot is one array's, computed once per call (the statements run once each,
in order) and written in full before anything reads it; the arrays returned are never slots or
views of one, so the next call, which overwrites every slot, changes nothing a caller holds. A
call takes its slots out of the workspace, so two threads in the function at once never share
one (the second makes its own). Run before ``numba_sweeps`` (a kernel given a slot writes into it
as into a product it reads); ``taken`` numbers the slots the sweeps still pass and adds the lines
that take and keep them.
"""
from __future__ import annotations

import re
from dataclasses import replace

from symgrad.lower.nodes import same_shape
from symgrad.lower.numba_printer import KERNEL_PREFIX, KernelCall, NumbaPrinter
from symgrad.lower.numba_sweeps import ASSIGNMENT, NAME, READ_NAME, calls_in, closing
from symgrad.lower.passes.workspace import SLOT_PREFIX, large
from symgrad.lower.statements import WorkspaceKeep, WorkspaceTake

SLOT_NAME = f"{SLOT_PREFIX}_"     # the NumPy slots' spelling, _slot_1: names no model may take (``symgrad.model.names``)
SLOT = re.compile(rf"\b{SLOT_NAME}(\d+)\b")
TARGETS = re.compile(r"((?:\w+, )*\w+) = (.+)")     # a line assigning one name or several (a sweep's results)


def leaving(lines: list[str], live_out: set[str], printer: NumbaPrinter) -> set[str]:
    """The names of ``lines`` (one function's statements) whose arrays may leave the function:
    those in ``live_out`` and every name a statement whose target leaves reads, unless its value
    is a kernel call or a matrix product (a new array)."""
    out = set(live_out)
    for line in reversed(lines):
        assignment = ASSIGNMENT.fullmatch(line)
        if assignment is None or assignment.group(1) not in out:
            continue
        value = assignment.group(2)
        if value not in printer.calls and value not in printer.products:
            out |= set(NAME.findall(value))
    return out


class WorkspaceWriter:
    """Rewrites one function's lines to compute its large arrays that stay inside into slots."""

    def __init__(self, printer: NumbaPrinter, prefix: str = ""):
        self.printer, self.prefix = printer, prefix      # prefix: the workspace's (``_hvp``: hvp()'s own)
        self.shapes: dict[str, tuple] = {}      # slot -> its shape
        self.taken_slots: tuple = ()            # what ``taken`` numbered: (slot, shape) pairs

    def rewrite(self, lines: list[str], live_out: set[str]) -> list[str]:
        """``lines`` (in order; ``live_out``: the names the function returns) with every large
        array that does not leave computed into a slot, one line for each."""
        out = leaving(lines, live_out, self.printer)
        return [self._line(line, out) for line in lines]

    def _line(self, line: str, leaving_names: set[str]) -> str:
        assignment = ASSIGNMENT.fullmatch(line)
        stays = assignment is None or assignment.group(1) not in leaving_names    # a block added in place: copied
        if assignment is not None and assignment.group(2) in self.printer.products:
            return f"{assignment.group(1)} = {self._product(assignment.group(2))}" if stays else line
        spans = calls_in(line, self.printer.calls)
        outermost = [s for s in spans if not any(o[0] <= s[0] and s[1] <= o[1] and o != s for o in spans)]
        for start, end, text, call in sorted(outermost, key=lambda span: span[0], reverse=True):
            line = line[:start] + self._call(text, call, stays) + line[end:]
        return line

    def _call(self, text: str, call: KernelCall, stays: bool) -> str:
        """The kernel call ``text`` with its large products computed into slots (the one it writes
        into only where its result ``stays``), and its new result array a slot where it stays."""
        arguments = tuple((p, self._product(code) if code in self.printer.products and large(
            self.printer.products[code].shape) and (stays or p != call.nest.into) else code) for p, code in call.arguments)
        into_new_array = call.nest.into is None and large(call.shape)
        if arguments == call.arguments and not (stays and into_new_array):
            return text
        changed = replace(call, arguments=arguments)
        if stays and into_new_array:
            return self.printer.writing_into(changed, self._slot(call.shape))
        return self.printer.call_of(text[:text.index("(")], changed)

    def _product(self, code: str) -> str:
        product = self.printer.products[code]
        if not large(product.shape):
            return code
        return f"np.matmul({product.left}, {product.right}, out={self._slot(product.shape)})"

    def _slot(self, shape) -> str:
        name = f"{SLOT_NAME}{len(self.shapes) + 1}"
        self.shapes[name] = shape
        return name

    def taken(self, replaced: list[list[str]], written_into: dict[str, str]) -> list[list[str]]:
        """``replaced`` (the lines of each statement after ``numba_sweeps``, whose sweeps return
        what they write into an array they are given by the names ``written_into`` says) with the
        slots still passed numbered, taken from the workspace before the first line and kept
        after the last: a slot shared by arrays whose lives do not overlap (``_lives``), so that
        the memory a later array is written into was just written and read (in cache) and the
        workspace holds no more than the largest set of arrays alive at once; unchanged where no
        slot is passed."""
        flat = [line for lines in replaced for line in lines]
        lives = _lives(flat, self.printer, written_into)
        if not lives:
            return replaced
        slots: list[list] = []          # [name, shape, the last line its array is alive]
        order: dict[str, str] = {}
        for placeholder, (first, last) in lives.items():       # in the order the lines write them
            shape = self.shapes[placeholder]
            slot = next((s for s in slots if s[2] < first and same_shape(s[1], shape)), None)
            if slot is None:
                slot = [f"{SLOT_NAME}{len(slots) + 1}", shape, last]
                slots.append(slot)
            slot[2] = last
            order[placeholder] = slot[0]
        renamed = [[SLOT.sub(lambda m: order[m.group()], line) for line in lines] for lines in replaced]
        pairs = self.taken_slots = tuple((name, shape) for name, shape, _ in slots)
        key = tuple(sorted({d for _, shape in pairs for n in shape for d in n.free_symbols}, key=str))
        last = max(k for k, lines in enumerate(renamed) if lines)
        renamed[0].insert(0, self.printer.print_statement(WorkspaceTake(pairs[0][0], key, pairs, self.prefix)))
        renamed[last].append(self.printer.print_statement(WorkspaceKeep(pairs[0][0], key, pairs, self.prefix)))
        return renamed


def _lives(lines: list[str], printer: NumbaPrinter, written_into: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Each slot ``lines`` pass: the index of the line that writes it and of the last line that
    reads it or a name that may hold its array (``_holders``, then every name assigned from a
    value that reads one, unless that value is a new array: a kernel call or a matrix product)."""
    lives = {}
    for index, line in enumerate(lines):
        for slot in dict.fromkeys(m.group() for m in SLOT.finditer(line)):
            if slot in lives:
                continue
            holders, end = _holders(line, slot, printer, written_into), index
            if holders is None:
                lives[slot] = (index, len(lines))
                continue
            for later in range(index + 1, len(lines)):
                read = set(READ_NAME.findall(lines[later]))
                if slot in read or read & holders:
                    end = later
                    assignment = TARGETS.fullmatch(lines[later])
                    if assignment and read & holders and not _new_array(assignment.group(2), printer):
                        holders |= set(assignment.group(1).split(", "))
            lives[slot] = (index, end)
    return lives


def _holders(line: str, slot: str, printer: NumbaPrinter, written_into: dict[str, str]) -> set[str] | None:
    """The names ``line``, the first to pass ``slot``, gives its array: the target of a matrix
    product computed into it or of a kernel writing into it, the name a sweep returns it by; none
    where a kernel only reads it (a product it is given). None: not known (kept to the end)."""
    assignment = TARGETS.fullmatch(line)
    targets = set(assignment.group(1).split(", ")) if assignment else set()
    for code, name in written_into.items():
        if slot in _slots_in(code):
            return {name}
    for _, _, _, call in calls_in(line, printer.calls):
        for parameter, code in call.arguments:
            if slot in _slots_in(code):
                return targets if parameter == call.nest.into else set()
    value = assignment.group(2) if assignment else ""
    if _whole_call(value, "np.matmul") and value.endswith(f"out={slot})"):
        return targets
    if _whole_call(value, KERNEL_PREFIX):
        return set()        # a sweep's call, which only reads what it is not to write into
    return None


def _slots_in(code: str) -> set[str]:
    return {m.group() for m in SLOT.finditer(code)}


def _whole_call(value: str, prefix: str) -> bool:
    """Whether ``value`` is one call of a function whose name starts with ``prefix``."""
    match = re.match(rf"{re.escape(prefix)}[\w.]*\(", value)
    return match is not None and closing(value, match.end() - 1) == len(value)


def _new_array(value: str, printer: NumbaPrinter) -> bool:
    """Whether ``value`` is a new array or one written into a slot, never a view of a name."""
    return value in printer.products or _whole_call(value, "np.matmul") or _whole_call(value, KERNEL_PREFIX)
