"""How the time to derive and generate grows with the number of named intermediates.

Each row runs in a fresh interpreter (SymPy caches cold, `import symgrad` not timed) and
times three stages of what `symgrad generate` does: build the model (the DSL and storing
every definition), `derive` (the chain rule and delta collapse) and generate (the module
plan, lowering, the passes over the statements and the template). Models:

- `chain_K` (`bench_peers.chain_model`): K dense tanh layers, two intermediates each;
- `mixed_B`: B blocks of four kinds in turn (a gated tanh layer, a row-centred ReLU
  with a residual, two branches concatenated by columns, an RMS-normalised layer) and a
  softmax cross-entropy head: matrix products, broadcasts, axis sums, a concatenation
  and most of the function table, written as a user would with `symgrad.Model`.

"intermediates" counts the model's named definitions (the loss and the hoisted parts of a
softmax included); "ms per intermediate" is build + derive + generate (wall) over that count,
"CPU ms per intermediate" the same in the process's CPU time (steadier on a busy machine).

    python benchmarks/bench_derivation.py                 # the table, ~1 min
    python benchmarks/bench_derivation.py --write         # and its section in docs/benchmarks.md
    python benchmarks/bench_derivation.py --specs chain_50 mixed_50
    python benchmarks/bench_derivation.py --check         # first check mixed_4's gradients
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
for path in (str(HERE), str(REPO_ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

SPECS = ("chain_1", "chain_10", "chain_25", "chain_50", "chain_75", "chain_100", "mixed_12", "mixed_45")
SECTION = ("<!-- benchmarks/bench_derivation.py: begin -->", "<!-- benchmarks/bench_derivation.py: end -->")
NOTES = "<!-- bench_derivation.py: notes, kept by --write -->"


def mixed_model(blocks: int):
    """``blocks`` blocks of four different kinds, then a softmax cross-entropy head."""
    from symgrad import Model, concat_cols, exp, log, relu, sigmoid, softmax, softplus, sqrt, sum_squares, tanh
    m = Model(f"mixed_{blocks}", f"{blocks} mixed blocks and a softmax head")
    n, w, h, o = m.dims("n w h o")
    H = m.constant("X", (n, w))
    Y = m.constant("Y", (n, o))
    for k in range(1, blocks + 1):
        W = m.parameter(f"W{k}", (w, w))
        b = m.parameter(f"b{k}", (1, w))
        Z = m.define(f"Z{k}", H @ W + b)
        kind = k % 4
        if kind == 1:      # a gated tanh layer
            U = m.parameter(f"U{k}", (w, w))
            G = m.define(f"G{k}", sigmoid(H @ U))
            A = m.define(f"A{k}", tanh(Z))
            H = m.define(f"H{k}", G * A + (1 - G) * H)
        elif kind == 2:    # a ReLU centred on its row mean, with a residual
            A = m.define(f"A{k}", relu(Z))
            S = m.define(f"S{k}", A.sum(axis=1) / w)
            H = m.define(f"H{k}", A - S + H)
        elif kind == 3:    # two branches, concatenated by columns and mixed back
            P = m.parameter(f"P{k}", (w, h))
            Q = m.parameter(f"Q{k}", (w, h))
            R = m.parameter(f"R{k}", (2 * h, w))
            left = m.define(f"L{k}", softplus(Z @ P))
            right = m.define(f"E{k}", exp(-((Z @ Q) ** 2)))
            C = m.define(f"C{k}", concat_cols(left, right))
            H = m.define(f"H{k}", C @ R)
        else:              # RMS-normalised
            V = m.define(f"V{k}", (Z * Z).sum(axis=1) / w + 1)
            H = m.define(f"H{k}", Z / sqrt(V))
    Wo = m.parameter("Wo", (w, o))
    logits = m.define("Logits", H @ Wo)
    P = m.define("P", softmax(logits, axis=1))
    m.loss("Loss", -(Y * log(P)).sum() / n + sum_squares(Wo) / (w * o))
    return m


def build(spec: str):
    import bench_peers
    kind, size = spec.split("_")
    return {"chain": bench_peers.chain_model, "mixed": mixed_model}[kind](int(size))


def measure(spec: str) -> dict:
    """Build, derive and generate ``spec`` in this process (run it in a fresh one)."""
    import symgrad  # noqa: F401  (import not timed)
    from symgrad.differentiate.chain_rule import derive
    from symgrad.emit.files import render_module
    from symgrad.emit.layer_plan import plan_for
    cpu, start = time.process_time(), time.perf_counter()
    model = build(spec)
    built = time.perf_counter()
    derivation = derive(model)
    derived = time.perf_counter()
    text = render_module(plan_for(derivation, f"bench_derivation {spec}"))
    end = time.perf_counter()
    return {"spec": spec, "intermediates": len(model.definitions), "build_s": built - start,
            "derive_s": derived - built, "generate_s": end - derived, "cpu_s": time.process_time() - cpu,
            "lines": text.count("\n")}


def check(spec: str) -> float:
    """Max relative error of ``spec``'s generated gradients against central differences."""
    import tempfile
    from symgrad.cli import import_generated
    from symgrad.differentiate.chain_rule import derive
    from symgrad.emit.files import render_module
    from symgrad.emit.layer_plan import plan_for
    from symgrad.gradcheck import check_module
    model = build(spec)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{model.name}.py"
        path.write_text(render_module(plan_for(derive(model), "bench")))
        results = check_module(model, import_generated(path))
    assert all(r.shape_ok for r in results), results
    return max(r.max_relative_error for r in results)


def fresh(spec: str) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", spec],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    if proc.returncode != 0:
        sys.exit(f"error: {spec} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    lines = ["| model | intermediates | build s | derive s | generate s | ms per intermediate | CPU ms per intermediate |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        total = r["build_s"] + r["derive_s"] + r["generate_s"]
        lines.append(f"| {r['spec']} | {r['intermediates']} | {r['build_s']:.2f} | {r['derive_s']:.2f} | "
                     f"{r['generate_s']:.2f} | {1000 * total / r['intermediates']:.1f} | "
                     f"{1000 * r['cpu_s'] / r['intermediates']:.1f} |")
    return "\n".join(lines)


def write_section(text: str, path: Path) -> None:
    """Replace this script's section of ``path`` (between its markers), or append it; what the
    section holds after its ``NOTES`` line (measurements and analysis written by hand) is kept."""
    start, end = SECTION
    old = path.read_text() if path.is_file() else ""
    kept = old.split(start, 1)[1].split(end, 1)[0] if start in old and end in old else ""
    notes = NOTES + kept.split(NOTES, 1)[1].rstrip("\n") if NOTES in kept else ""
    section = f"{start}\n{text}\n" + (f"\n{notes}\n" if notes else "") + end
    if start in old and end in old:
        new = old.split(start, 1)[0] + section + old.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(new)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specs", nargs="*", default=list(SPECS), help="chain_K or mixed_B, each in a fresh process")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--check", action="store_true", help="check mixed_4 against finite differences first")
    parser.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(measure(args.worker)))
        return
    if args.check:
        print(f"mixed_4 against central differences: max rel error {check('mixed_4'):.1e}", flush=True)
    rows = []
    for spec in args.specs:
        rows.append(fresh(spec))
        r = rows[-1]
        print(f"  {spec:<10} {r['intermediates']:4d} intermediates  build {r['build_s']:.2f} s  "
              f"derive {r['derive_s']:.2f} s  generate {r['generate_s']:.2f} s", flush=True)
    text = table(rows)
    print(text)
    if args.write:
        body = ("## Derivation time per intermediate\n\n"
                "`python benchmarks/bench_derivation.py --write`: build, derive and generate, each model in a "
                "fresh process (SymPy caches cold, imports not timed); see the script for the models.\n\n" + text)
        write_section(body, REPO_ROOT / "docs" / "benchmarks.md")
        print("wrote docs/benchmarks.md")


if __name__ == "__main__":
    main()
