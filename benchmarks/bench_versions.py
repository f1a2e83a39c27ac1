"""The generated code of two revisions against each other: did a change make any model slower?

For every model of the benchmark (the seed notes' and the zoo's) at the chosen sizes, the
generated `loss_and_grad` committed at REV (`git show REV:generated/NAME.py`) and the one in
the working tree are checked to agree (rtol 1e-8), then timed interleaved in one process, as
`bench_peers.py` times its implementations. The table gives each one's median time and the
median over rounds of REV's time over the working tree's: above 1, the working tree's code is
faster. Ratios to the other tools in `docs/benchmarks.md` move by the same factor, since the
tools themselves did not change. A model REV does not have is left out and said so. With
`--hvp`, the same for `hvp()` of `generated/NAME_hvp.py`, along the tangent `bench_hvp.py` uses
(the products, the gradients and the loss checked to agree first).

    python benchmarks/bench_versions.py ca424ab                       # small and medium
    python benchmarks/bench_versions.py ca424ab --sizes small --models mlp_mse layer_norm
    python benchmarks/bench_versions.py ca424ab --sizes medium --budget 10   # more rounds where calls are long
    python benchmarks/bench_versions.py ca424ab --cpu-time       # on a machine other jobs share
    python benchmarks/bench_versions.py ca424ab --hvp --sizes small   # the Hessian-vector products

Every library runs on one thread (the script restarts itself with that in its environment).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import bench_peers
import handwritten



def _module_at(revision: str, name: str, directory: Path, suffix: str = ""):
    """The generated module of ``name`` (``suffix``: "_hvp" for its --hvp module) as committed at
    ``revision``, or None if it has none."""
    shown = subprocess.run(["git", "show", f"{revision}:generated/{name}{suffix}.py"], cwd=bench_peers.REPO_ROOT,
                           capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    (directory / f"{name}{suffix}.py").write_text(shown.stdout)
    return handwritten.load_generated(name, directory=directory, suffix=suffix)


def _tangent(module, inputs: dict) -> dict:
    """bench_hvp.py's tangent: standard normal, one array per parameter (per layer of a list one)."""
    rng = np.random.default_rng(1)

    def draw(value):
        return rng.standard_normal(np.shape(value)) if np.ndim(value) else float(rng.standard_normal())
    return {p: [draw(v) for v in inputs[p]] if isinstance(inputs[p], list) else draw(inputs[p])
            for p in module.PARAMETERS}


def compare_case(name: str, size_name: str, old, new, budget: float, hvp: bool = False) -> dict:
    inputs = handwritten.make_inputs(name, bench_peers.SIZES[name][size_name], seed=0)
    if hvp:
        tangent = _tangent(new, inputs)
        functions = {module: (lambda m=module: m.hvp(tangent, **inputs)) for module in (old, new)}
        (value, grads, products), (old_value, old_grads, old_products) = functions[new](), functions[old]()
        checks = [((old_value, old_grads), (value, grads)), ((old_value, old_products), (value, products))]
    else:
        functions = {module: (lambda m=module: m.loss_and_grad(**inputs)) for module in (old, new)}
        checks = [(functions[old](), functions[new]())]
    problems = [p for got, want in checks for p in handwritten.compare(got, want, bench_peers.RTOL)[1]]
    if problems:
        raise SystemExit(f"{name} {size_name}: the two revisions disagree: {'; '.join(problems)}")
    calls = {"before": functions[old], "now": functions[new]}
    times, rounds = bench_peers.time_interleaved(calls, budget)
    return {"model": name, "size": size_name, "rounds": rounds,
            "before_ms": 1e3 * statistics.median(times["before"]), "now_ms": 1e3 * statistics.median(times["now"]),
            "ratio": statistics.median(b / n for b, n in zip(times["before"], times["now"]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="the git revision whose generated/ is compared")
    parser.add_argument("--models", nargs="*", default=list(bench_peers.SIZES), choices=list(bench_peers.SIZES),
                        metavar="MODEL")
    parser.add_argument("--sizes", nargs="*", default=["small", "medium"], choices=["small", "medium", "large"])
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timing per (model, size)")
    parser.add_argument("--cpu-time", action="store_true", help="time by CPU time (see bench_peers.py --cpu-time)")
    parser.add_argument("--hvp", action="store_true", help="time hvp() of the --hvp modules instead of loss_and_grad()")
    args = parser.parse_args()
    bench_peers.restart_on_one_thread(cpu_time=args.cpu_time)
    print(f"generated code at {args.revision} against the working tree ({bench_peers.threads()}, "
          f"{bench_peers.clock_name()}); "
          f"{'hvp()' if args.hvp else 'loss_and_grad()'}; ratio: before / now, above 1: now faster")
    print("| model | size | before ms | now ms | ratio | rounds |\n| --- | --- | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            suffix = "_hvp" if args.hvp else ""
            old = _module_at(args.revision, name, Path(tmp), suffix)
            if old is None:
                print(f"| {name} | - | - | - | not at {args.revision} | - |")
                continue
            new = handwritten.load_generated(name, suffix=suffix)
            for size_name in args.sizes:
                if size_name not in bench_peers.SIZES[name]:
                    continue
                row = compare_case(name, size_name, old, new, args.budget, args.hvp)
                print(f"| {name} | {size_name} | {row['before_ms']:.3f} | {row['now_ms']:.3f} | "
                      f"{row['ratio']:.2f} | {row['rounds']} |", flush=True)


if __name__ == "__main__":
    main()
