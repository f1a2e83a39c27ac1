"""Where one generated ``loss_and_grad`` spends its time: each of its statements timed on its own.

The function's statements run one at a time, in order, in one namespace (the module's globals,
the inputs, the values the earlier statements assigned), each compiled from the function's own
source; a round runs them all, warmed by one untimed round, and each statement's time is the
median over the rounds. The table lists the statements, the slowest ``--top`` first, with their
share of the sum and the line of the file they start on. A statement's time includes what it
leaves for later (memory it touches first, a buffer the next statement finds warm), so the
shares say where to look, not what removing a line would save.

    python benchmarks/profile_statements.py NAME [--backend numba] [--size medium] [--rounds 30] [--cpu-time]

``NAME``: a catalogue or zoo model of ``bench_peers.py`` (its sizes and inputs); the module is
``generated/NAME.py`` or, with ``--backend``, ``generated/NAME_BACKEND.py``.
"""
from __future__ import annotations

import argparse
import ast
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import handwritten
from bench_peers import SIZES, clock, restart_on_one_thread

from symgrad.cli import import_generated

FUNCTION = "loss_and_grad"


def statements_of(path: Path) -> list[tuple[int, str, object]]:
    """``(line, source, code)`` of each top-level statement of ``FUNCTION`` in the file at
    ``path``, its docstring left out; a ``return`` becomes an expression statement."""
    text = path.read_text()
    tree = ast.parse(text)
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == FUNCTION)
    body = function.body[1:] if ast.get_docstring(function) is not None else function.body
    out = []
    for statement in body:
        if isinstance(statement, ast.Return):
            statement = ast.Expr(statement.value, lineno=statement.lineno, col_offset=statement.col_offset)
        source = ast.get_source_segment(text, statement) or ast.unparse(statement)
        code = compile(ast.Module([statement], type_ignores=[]), str(path), "exec")
        out.append((statement.lineno, source, code))
    return out


def profile(path: Path, inputs: dict, rounds: int) -> list[tuple[int, str, float]]:
    """``(line, source, median seconds)`` of each statement of the module's ``FUNCTION``."""
    module = import_generated(path)
    statements = statements_of(path)
    tick = clock()
    times = [[] for _ in statements]
    for r in range(rounds + 1):                     # round 0 warms (and compiles) everything
        namespace = {**vars(module), **inputs}
        for k, (_, _, code) in enumerate(statements):
            start = tick()
            exec(code, namespace)  # noqa: S102 (the module's own statements, compiled from its file)
            elapsed = tick() - start
            if r:
                times[k].append(elapsed)
    return [(line, source, statistics.median(t)) for (line, source, _), t in zip(statements, times)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=list(SIZES))
    parser.add_argument("--backend", default="", help="numba: generated/NAME_numba.py (default: NAME.py)")
    parser.add_argument("--size", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--top", type=int, default=15, help="statements listed, the slowest first")
    parser.add_argument("--cpu-time", action="store_true", help="time by this process's CPU time (one thread each)")
    args = parser.parse_args()
    restart_on_one_thread(cpu_time=args.cpu_time)
    if args.size not in SIZES[args.name]:
        sys.exit(f"error: {args.name} has no {args.size} size; it has {', '.join(SIZES[args.name])}")
    path = ROOT / "generated" / (f"{args.name}_{args.backend}.py" if args.backend else f"{args.name}.py")
    if not path.exists():
        sys.exit(f"error: {path} does not exist (symgrad generate {args.name} --backend {args.backend or 'numpy'})")
    inputs = handwritten.make_inputs(args.name, SIZES[args.name][args.size], seed=0)
    rows = profile(path, inputs, args.rounds)
    total = sum(t for _, _, t in rows)
    print(f"{path.name}, {args.size} {SIZES[args.name][args.size]}: {total * 1e6:.0f} µs in {len(rows)} statements "
          f"(sum of medians over {args.rounds} rounds)")
    print("| line | µs | share | statement |\n| ---: | ---: | ---: | --- |")
    for line, source, t in sorted(rows, key=lambda r: -r[2])[:args.top]:
        first = source.splitlines()[0]
        shown = first if len(first) <= 110 else first[:107] + "..."
        print(f"| {line} | {t * 1e6:.0f} | {t / total:.0%} | `{shown}` |")


if __name__ == "__main__":
    main()
