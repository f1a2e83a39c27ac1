"""Consecutive kernel calls over the same rows -> one kernel whose row loop runs them all.

A numba module's statements call one kernel per entrywise chain (``numba_printer``), and each
kernel is a pass over its rows: the layer-norm gradient made a dozen passes over N x D, each
reading its inputs from memory again and writing a fresh N x D array for the next. Here, calls in
the lines of one function whose kernels loop over the same rows share one row loop (a *sweep*):
for every row ``_i``, each kernel's work on that row in the lines' order. One sweep is open per
row count, so lines over other rows in between (a hidden layer's H x N kernels between an output's
D x N ones) run after the sweep, as any line that has no kernel over its rows does. A kernel may
read a value an earlier kernel of the sweep computes, at its own row, where that value is final
row by row (an entrywise value, a row sum: ``ROW``); one final only after every row (a column sum,
a total: ``END``) ends the sweep before a kernel that reads it. An N x D value nothing reads after
the sweep lives in a one-row buffer, rewritten row by row, instead of a fresh array.

Why it is safe: the sweep runs where its first line ran, so every argument it is passed is
computed before it; a line joins only where each of its kernels' arguments is either a value of
the sweep that is final at the kernel's row, or code that reads no name a line of the sweep
assigns (any other reading ends the sweep first). Within a row the kernels run in the lines'
order, so each reads what it read before; the lines' other code (``Loss = 1/2 * ...``, a block
added in place) runs after the sweep, on what the sweep returns, in its own order. A kernel given an array to write its
result into (a matrix product's, a workspace buffer: ``numba_workspace``) writes into it in the
sweep too, unless its result is a one-row buffer there (the array is then not passed); the sweep's
call returns that array by the name ``written_into`` records.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from symgrad.lower.numba_printer import INTO_PARAMETER, KERNEL_PREFIX, ROW, KernelCall, NumbaPrinter

CALL_START = re.compile(rf"{KERNEL_PREFIX}\w+\(")
ASSIGNMENT = re.compile(r"(\w+) = (.+)")
NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
READ_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?!=(?!=))")    # not a keyword argument's name (``out=``)


def closing(line: str, opening: int) -> int:
    """The index just past the parenthesis that closes the one at ``opening``."""
    depth = 0
    for index in range(opening, len(line)):
        depth += {"(": 1, ")": -1}.get(line[index], 0)
        if depth == 0:
            return index + 1
    raise ValueError(f"unbalanced parentheses in {line!r}")


def calls_in(line: str, calls: dict[str, KernelCall]) -> list[tuple[int, int, str, KernelCall]]:
    """The kernel calls ``line`` makes, as (start, end, text, what it runs), inner calls before
    the outer ones."""
    spans = []
    for match in CALL_START.finditer(line):
        end = closing(line, match.end() - 1)
        text = line[match.start():end]
        if text in calls:
            spans.append((match.start(), end, text, calls[text]))
    return sorted(spans, key=lambda span: span[1])


def _names(code: str) -> set[str]:
    return set(READ_NAME.findall(code))


@dataclass
class _Member:
    """One kernel call of a sweep: the local its result has in the sweep's kernel, the name the
    function gets it by (None: only other kernels of the sweep read it)."""

    call: str
    kernel: KernelCall
    local: str
    returned_as: str | None = None


@dataclass
class _Sweep:
    first: int                                         # the index of its first line
    rows: str | None = None
    members: list[_Member] = field(default_factory=list)
    row_values: dict[str, int] = field(default_factory=dict)   # code -> member final at its row
    assigned: set[str] = field(default_factory=set)    # every name its lines and locals assign
    whole: dict[int, str] = field(default_factory=dict)   # line index -> the target a call computes whole
    partial: dict[int, list] = field(default_factory=dict)   # line index -> its top-level calls' spans

    def join(self, index: int, line: str, spans: list) -> bool:
        """Adds those of ``line``'s kernel calls that can share the row loop (the others run after
        the sweep, in the line's own code); False (and nothing added) where none can."""
        rows, values, joined = self.rows, dict(self.row_values), []
        for span in spans:                           # inner calls first
            kernel = span[3]
            if kernel.rows is None or (rows is not None and kernel.rows != rows) or \
                    not all(self._available(code, values) for _, code in kernel.arguments):
                continue
            rows = kernel.rows
            joined.append(span)
            if kernel.nest.complete == ROW:     # a call made again computes the same: the first one serves
                values.setdefault(span[2], len(self.members) + len(joined) - 1)
        if not joined:
            return False
        outermost = [s for s in joined if not any(o[0] <= s[0] and s[1] <= o[1] and o != s for o in joined)]
        assignment = ASSIGNMENT.fullmatch(line)
        target = assignment.group(1) if assignment and assignment.group(2) == joined[-1][2] else None
        for _, _, text, kernel in joined:
            whole = target is not None and text == joined[-1][2]
            self.members.append(_Member(text, kernel, target if whole else f"_o{len(self.members)}"))
        self.rows, self.row_values = rows, values
        if target is not None:
            self.whole[index] = target
            if joined[-1][3].nest.complete == ROW:
                self.row_values[target] = len(self.members) - 1
        else:
            self.partial[index] = outermost
        first_name = NAME.match(line)
        self.assigned |= {m.local for m in self.members} | ({first_name.group()} if first_name else set())
        return True

    def pass_over(self, index: int, line: str) -> None:
        """``line``, which has no kernel over the sweep's rows, runs after the sweep as it is; a
        later kernel that reads what it assigns cannot join."""
        self.partial[index] = []
        first_name = NAME.match(line)
        self.assigned |= {first_name.group()} if first_name else set()

    def _available(self, code: str, values: dict[str, int]) -> bool:
        """Whether an argument ``code`` can be read by a kernel of the sweep: a value of the sweep
        final at each row (``values``), or code that reads nothing the sweep's lines assign and
        calls no kernel (one of this line's that runs after the sweep, or one run before it)."""
        return code in values or (KERNEL_PREFIX not in code and not _names(code) & self.assigned)


class SweepWriter:
    """Rewrites the lines of one function at a time, numbering its sweeps across functions."""

    def __init__(self, printer: NumbaPrinter):
        self.printer, self.count = printer, 0
        self.written_into: dict[str, str] = {}      # code a sweep passes a kernel to write into -> its result's name

    def rewrite(self, lines: list[str], live_out: set[str]) -> list[list[str]]:
        """What replaces each of ``lines`` (one function's statements, in order; ``live_out``: the
        names its results read): a sweep's call before its first line, each line's own code after
        it, a line a sweep computes whole dropped. One sweep is open per row count, so kernels
        over the rows of another space in between (a residual block's H x N hidden layer between
        its D x N output's kernels) neither end it nor stay alone: each line joins the open sweep
        over its kernels' rows where it can, else ends that sweep and starts the next one, and
        every other open sweep passes over it."""
        replaced = [[line] for line in lines]
        open_sweeps: dict[str, _Sweep] = {}
        for index, line in enumerate(lines):
            spans = calls_in(line, self.printer.calls)
            rows_here = list(dict.fromkeys(span[3].rows for span in spans if span[3].rows is not None))
            joined = next((open_sweeps[rows] for rows in rows_here
                           if rows in open_sweeps and open_sweeps[rows].join(index, line, spans)), None)
            if joined is None and rows_here:
                fresh = _Sweep(index)
                if fresh.join(index, line, spans):
                    if fresh.rows in open_sweeps:
                        self._close(open_sweeps.pop(fresh.rows), index, lines, live_out, replaced)
                    joined = open_sweeps[fresh.rows] = fresh
            for sweep in open_sweeps.values():
                if sweep is not joined:
                    sweep.pass_over(index, line)    # it runs after the sweep; what it assigns ends joining
        for sweep in open_sweeps.values():
            self._close(sweep, len(lines), lines, live_out, replaced)
        return replaced

    def _close(self, sweep: _Sweep, end: int, lines: list[str], live_out: set[str], replaced: list) -> None:
        """Prints ``sweep`` (its lines between ``sweep.first`` and ``end``; the lines it passed
        over are left as they are, for their own sweep) where it has two kernels or more."""
        if len(sweep.members) < 2:
            return
        number, self.count = self.count, self.count + 1
        residuals = {i: self._residual(lines[i], spans, sweep, number) for i, spans in sweep.partial.items()}
        read_after = set(live_out).union(*(_names(line) for line in lines[end:]), *map(_names, residuals.values()))
        for member in sweep.members:
            if member.local in sweep.whole.values() and member.local in read_after:
                member.returned_as = member.local
        for spans in sweep.partial.values():
            for _, _, text, _ in spans:
                member = next(m for m in sweep.members if m.call == text and m.returned_as is None)
                member.returned_as = _outside_name(number, member)
        name, arguments = self._kernel(sweep)
        returned = [m.returned_as for m in sweep.members if m.returned_as is not None]
        call = f"{', '.join(returned)} = {name}({', '.join(arguments)})"
        for index in sweep.whole:
            replaced[index] = []
        for index, spans in sweep.partial.items():
            if spans:
                replaced[index] = [residuals[index]]
        replaced[sweep.first].insert(0, call)

    def _kernel(self, sweep: _Sweep) -> tuple[str, list[str]]:
        """The sweep's kernel (registered with the printer) and the code its call passes."""
        parameters: dict[str, str] = {}      # code passed -> parameter
        buffered = [m for m in sweep.members if m.returned_as is None and m.kernel.nest.complete == ROW]
        passed = [code for m in sweep.members for _, code in m.kernel.arguments]
        setup, groups = [], []
        for k, member in enumerate(sweep.members):
            nest = member.kernel.nest
            renamed = {"_total": f"_t{k}", "_value": f"_v{k}"}
            renamed[nest.result] = member.local
            for parameter, code in member.kernel.arguments:
                if member in buffered and parameter == nest.into == INTO_PARAMETER:
                    continue        # the array given for its result, which is a one-row buffer here
                if code in sweep.row_values and sweep.row_values[code] < k:
                    renamed[parameter] = sweep.members[sweep.row_values[code]].local
                else:
                    if code not in parameters:
                        taken = set(parameters.values())
                        own = parameter if not re.fullmatch(r"_a\d+", parameter) and parameter not in taken else None
                        parameters[code] = own or f"_a{len(parameters)}"
                    renamed[parameter] = parameters[code]
            into = dict(member.kernel.arguments).get(nest.into)
            if member not in buffered and into is not None and passed.count(into) == 1:     # its own fresh array
                setup.append(f"    {member.local} = {renamed[nest.into]}")
                self.written_into[into] = member.returned_as
            elif member not in buffered:
                setup.append(f"    {member.local} = {nest.init.format(rows=sweep.rows)}")
            elif not nest.one_column:
                setup.append(f"    {member.local} = {nest.init.format(rows='1')}")
            before, inner, after = ([_buffers(_renamed(line, renamed), buffered) for line in part]
                                    for part in (nest.before, nest.inner, nest.after))
            group = groups[-1] if groups else None
            if nest.columns is None:        # a number per row: after the loop it may read
                if group is None:
                    group = _ColumnLoop(None)
                    groups.append(group)
                group.after += before + inner + after
                group.finishing.add(member.local)
                continue
            if group is None or group.columns != nest.columns or _names(" ".join(before + inner)) & group.finishing:
                group = _ColumnLoop(nest.columns)
                groups.append(group)
            group.before += before
            group.inner += inner
            group.after += after
            if nest.after:      # a row sum: final once the loop over the row's columns is done
                group.finishing.add(member.local)
        returned = [m.local for m in sweep.members if m.returned_as is not None]
        body = [line for group in groups for line in group.lines()]
        lines = [*setup, f"    for _i in range({sweep.rows}):", *body, f"    return {', '.join(returned)}"]
        targets = [m.local for m in sweep.members if not m.local.startswith("_o")]
        purpose = f"for {', '.join(targets) or 'one statement'}: one loop over the rows, every kernel's work on each row"
        named_after = "rows_" + (targets[0] if targets else sweep.members[0].local.lstrip("_"))
        name = self.printer.add_kernel(named_after, tuple(parameters.values()), lines, purpose)
        return name, list(parameters)

    def _residual(self, line: str, spans: list, sweep: _Sweep, number: int) -> str:
        """``line`` with each of its top-level kernel calls that ``sweep`` runs replaced by the
        sweep's result. A call of a kernel outside the sweep that passed one of them (the candidate
        ``tanh(U @ (r * h) + ...)`` around the swept ``r * h``) now passes that result: it is
        remembered as it now reads (``printer.calls``), or the lines after the sweeps
        (``numba_workspace``'s lives) would not know what it runs, nor that it writes into an array
        it is given, and would take that array for free while its result is still read."""
        outside = {text: _outside_name(number, next(m for m in sweep.members if m.call == text))
                   for _, _, text, _ in spans}
        for start, end, text, call in calls_in(line, self.printer.calls):
            if text not in outside and any(s[0] >= start and s[1] <= end for s in spans):
                arguments = tuple((parameter, _replaced(code, outside)) for parameter, code in call.arguments)
                self.printer.call_of(text[:text.index("(")], replace(call, arguments=arguments))
        for start, end, text, _ in sorted(spans, key=lambda span: span[0], reverse=True):
            line = line[:start] + outside[text] + line[end:]
        return line


@dataclass
class _ColumnLoop:
    """Consecutive kernels' work on one row over the same columns, in one loop over them (None:
    lines with no such loop), the numbers per row computed from them after it; ``finishing``: the
    values final only after the loop (row sums, those numbers), which no kernel of the loop may read."""

    columns: str | None
    before: list[str] = field(default_factory=list)
    inner: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    finishing: set[str] = field(default_factory=set)

    def lines(self) -> list[str]:
        if self.columns is None:
            return ["        " + line for line in (*self.before, *self.inner, *self.after)]
        return ["        " + line for line in self.before] + [f"        for _j in range({self.columns}):"] + \
            ["            " + line for line in self.inner] + ["        " + line for line in self.after]


def _renamed(line: str, renamed: dict[str, str]) -> str:
    return NAME.sub(lambda m: renamed.get(m.group(), m.group()), line)


def _buffers(line: str, buffered: list[_Member]) -> str:
    """``line`` reading and writing each of ``buffered`` (values kept only while their row runs)
    as a number (a row of one entry) or at row 0 of a one-row buffer."""
    for member in buffered:
        if member.kernel.nest.one_column:
            line = re.sub(rf"(?<![\w.]){member.local}\[_i, 0\]", member.local, line)
        else:
            line = re.sub(rf"(?<![\w.]){member.local}\[_i,", f"{member.local}[0,", line)
    return line


def _outside_name(number: int, member: _Member) -> str:
    return f"_swept{number}{member.local}"


def _replaced(code: str, outside: dict[str, str]) -> str:
    """``code`` with each kernel call of ``outside`` in it replaced by the name it maps to."""
    for text, name in outside.items():
        code = code.replace(text, name)
    return code
