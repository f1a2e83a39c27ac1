"""Generated gradients against the tools a user would pick instead, and against the floor.

For every seed-note model of the catalogue at three sizes and every zoo model
(``symgrad/model/catalogue/zoo.py``) at two, in a fresh worker process per (model, size):
the implementations of ``implementations.py``, today the generated `loss_and_grad`, the
hand-written NumPy of `handwritten.py` and `handwritten_zoo.py`, jax.jit of
jax.value_and_grad (float64), PyTorch autograd (float64, threads matched to NumPy's BLAS),
HIPS autograd, and a floor (the matrix products the gradient needs plus one read of every
input and one write of every gradient, `peers.floor`). Every implementation is first
checked to agree with the generated code (rtol 1e-8); then all are timed interleaved
(rotating order each round, an untimed warm-up call before each timed sample) and reported
as medians and ratios to the generated code; then each one's peak memory is measured over
one call, by its own measure (`memory.py`). Peers that are not installed are left out and
said so.

Also: derive + generate time of every catalogue model (fresh process, cold SymPy
caches), the same for a synthetic chain of 1 to 64 layers, and cold start: a fresh
process importing the generated module and computing one gradient, against the same
with jax and torch.

    pip install -e '.[bench]'
    python benchmarks/bench_peers.py                    # everything, ~25 min; writes docs/benchmarks.md
    python benchmarks/bench_peers.py --quick            # ~0.6 s of timing per (model, size)
    python benchmarks/bench_peers.py --zoo --skip chains cold   # the zoo's rows only (--catalogue: the others)
    python benchmarks/bench_peers.py --models mlp_mse --sizes medium --no-write

A partial run replaces its own rows of docs/benchmarks.json and keeps the others. On a
machine other jobs share, ``--one-thread`` puts every library on one thread (NumPy's BLAS,
torch, XLA): there, a second BLAS or torch thread waits for a core another job holds, and
the same call varied 7x (medium sizes) to 1000x (torch at small sizes). Each row records
its threads, date, mode, clock and how busy the machine was. ``--cpu-time`` times each call
by the process's CPU time instead of the wall clock (every library on one thread): the time a
call waited for a core another job held is left out. NumPy's OpenBLAS runs the kernel it picks
for the processor, not one the machine's environment pins (``blas_kernel.py``); the machine line
names it.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
for path in (str(HERE), str(REPO_ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

import blas_kernel  # noqa: E402
import handwritten  # noqa: E402
import implementations as impl_registry  # noqa: E402
import peers  # noqa: E402

RTOL = 1e-8
BUSY = 0.05
BUDGET_SECONDS = {"full": 3.0, "quick": 0.6}   # timing per (model, size), all implementations
MIN_SAMPLE_SECONDS = 2e-3
MIN_ROUNDS, MAX_ROUNDS = 5, 1000
IMPLS = impl_registry.KEYS
REFERENCE = impl_registry.REFERENCE

# dimensions in the tens / ~10^2-10^3 / ~10^3-10^4, every dimension different where it can be
CATALOGUE_SIZES = {
    "two_branch_crelu": {"small": dict(N=8, M=16, L=64), "medium": dict(N=64, M=128, L=1024),
                         "large": dict(N=512, M=512, L=8192)},
    **{name: {"small": dict(n=32, p=16, h=24, o=8), "medium": dict(n=1024, p=256, h=512, o=64),
              "large": dict(n=4096, p=512, h=1024, o=128)}
       for name in ("mlp_mse", "mlp_mse_sigmoid", "mlp_mse_tanh")},
    "ntk_relu": {"small": dict(d=8, n=32, h=16, depth=3), "medium": dict(d=256, n=1024, h=256, depth=3),
                 "large": dict(d=1024, n=4096, h=1024, depth=3)},
    "softmax_ce": {"small": dict(M=32, N=16, P=8, H=24, depth=3),
                   "medium": dict(M=1024, N=256, P=64, H=256, depth=3),
                   "large": dict(M=4096, N=1024, P=256, H=1024, depth=3)},
    **{name: {"small": dict(dx=16, ds=32, dy=8), "medium": dict(dx=256, ds=512, dy=128),
              "large": dict(dx=2048, ds=4096, dy=1024)}
       for name in ("hw1_relu_mse", "hw1_sigmoid_mse", "hw1_sigmoid_bce")},
}
# the zoo: dimensions in the tens / ~10^2-10^3, every dimension of a model different; the
# medium sizes of batch and layer norm, self-attention and CS231n are issue 14's
ZOO_SIZES = {
    **{name: {"small": dict(N=64, D=16), "medium": dict(N=4096, D=256)}
       for name in ("logistic_regression", "ridge_regression")},
    **{name: {"small": dict(N=32, D=16), "medium": dict(N=1024, D=512)}
       for name in ("batch_norm", "layer_norm")},
    "rmsnorm_proj": {"small": dict(N=32, D=16, K=24), "medium": dict(N=1024, D=512, K=256)},
    "self_attention": {"small": dict(n=32, d=24, dk=8, dv=16), "medium": dict(n=512, d=256, dk=64, dv=128)},
    "causal_attention": {"small": dict(n=32, d=24, dk=8, dv=16), "medium": dict(n=512, d=256, dk=64, dv=128)},
    "cs231n_two_layer": {"small": dict(N=32, D=24, H=16, C=10), "medium": dict(N=1024, D=512, H=256, C=10)},
    "residual_block": {"small": dict(D=16, H=24, N=32), "medium": dict(D=256, H=512, N=1024)},
    "rnn_unrolled": {"small": dict(D=8, H=16, N=32, K=4), "medium": dict(D=128, H=256, N=1024, K=32)},
    "gaussian_nll": {"small": dict(d=8, N=64), "medium": dict(d=256, N=4096)},
}
SIZES = {**CATALOGUE_SIZES, **ZOO_SIZES}
SIZE_NAMES = ("small", "medium", "large")
CHAIN_DEPTHS = (1, 2, 4, 8, 16, 32, 64)


# --- how busy the machine is --------------------------------------------------------------------

def _cpu_ticks():
    """(busy ticks of the whole machine, ticks used by this process), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            own = f.read().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)        # idle + iowait
    return sum(fields[:8]) - idle, int(own[11]) + int(own[12])      # utime + stime, all threads


def other_load(before, after, seconds):
    """Share of the machine's CPU time used by other processes between two _cpu_ticks()."""
    if before is None or after is None or seconds <= 0:
        return float("nan")
    ticks = os.sysconf("SC_CLK_TCK") * seconds * (os.cpu_count() or 1)
    return max(0.0, ((after[0] - before[0]) - (after[1] - before[1])) / ticks)


def wait_until_quiet(quiet_seconds=2.0, timeout=120.0, step=0.5):
    """Wait until other processes have used < BUSY of the CPU for quiet_seconds; False on timeout."""
    deadline, quiet = time.monotonic() + timeout, 0.0
    while time.monotonic() < deadline:
        before, start = _cpu_ticks(), time.perf_counter()
        time.sleep(step)
        busy = other_load(before, _cpu_ticks(), time.perf_counter() - start)
        if busy != busy:                                            # nan: cannot tell
            return True
        quiet = quiet + step if busy < BUSY else 0.0
        if quiet >= quiet_seconds:
            return True
    return False


def size_label(size: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in size.items())


def one_thread_each(env=os.environ) -> None:
    """Every library on one thread, for this process and the workers it starts: NumPy's BLAS,
    torch (peers matches it to the BLAS) and XLA (no multi-threaded Eigen).
    ``env``: the environment to set (this process's by default)."""
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[variable] = "1"
    flags = env.get("XLA_FLAGS", "").split()
    env["XLA_FLAGS"] = " ".join([*flags, *(f for f in ONE_XLA_THREAD if f not in flags)])


# XLA ignores a word in XLA_FLAGS without the leading "--" and stops at an unknown "--" flag, so
# TensorFlow's intra_op_parallelism_threads has no place here.
ONE_XLA_THREAD = ("--xla_cpu_multi_thread_eigen=false",)


def threads() -> str:
    """The threads the libraries use here, as the tables say it."""
    xla = "one" if all(flag in os.environ.get("XLA_FLAGS", "") for flag in ONE_XLA_THREAD) else "its own pool of"
    return f"BLAS and torch {peers.blas_threads()}, XLA {xla}"


# --- one (model, size) in a worker -----------------------------------------------------------

def implementations(name: str, inputs: dict) -> tuple[dict, dict]:
    """A Runner per implementation of implementations.py, each checked against the generated
    code; and the reason each left-out implementation is missing."""
    runners, missing = {}, {}
    for implementation in impl_registry.IMPLEMENTATIONS:
        try:
            runners[implementation.key] = implementation.make(name, inputs)
        except impl_registry.Unavailable as reason:
            missing[implementation.key] = str(reason)
    if REFERENCE not in runners:
        sys.exit(f"error [{name}]: the reference {REFERENCE} is missing: {missing[REFERENCE]}")
    reference = runners[REFERENCE].call()
    for key, runner in runners.items():
        if runner.to_numpy is None or key == REFERENCE:
            continue
        _, problems = handwritten.compare(runner.to_numpy(runner.call()), reference, RTOL)
        if problems:
            sys.exit(f"error [{name} {key}]: disagrees with the generated code:\n  " + "\n  ".join(problems))
    return runners, missing


def _array_bytes(values) -> int:
    return sum(a.nbytes for v in values for a in (v if isinstance(v, list) else [v])
               if isinstance(a, np.ndarray))


CLOCK_VARIABLE = "SYMGRAD_BENCH_CLOCK"     # "cpu": time calls by this process's CPU time (--cpu-time)


def clock():
    """The clock calls are timed by: wall time, or with ``--cpu-time`` (which implies
    ``--one-thread``) the CPU time of this process, every thread's. On a machine other jobs share,
    a one-thread call's CPU time leaves out the time it waited for a core: a layer-norm gradient
    timed 40 times under a load of 5 on 2 cores had medians 37 to 66 ms by the wall clock and 21 to
    24 ms by CPU time, three runs. What sharing still costs (caches, a sibling hyperthread) stays in."""
    return time.process_time if os.environ.get(CLOCK_VARIABLE) == "cpu" else time.perf_counter


def clock_name() -> str:
    return "CPU time" if clock() is time.process_time else "wall time"


def cpu_time_each(env=os.environ) -> None:
    """Time by CPU time, here and in the workers this process starts (each library on one thread)."""
    one_thread_each(env)
    env[CLOCK_VARIABLE] = "cpu"


def restart_on_one_thread(cpu_time: bool = False) -> None:
    """For a script that times calls in its own process: every library on one thread (and
    ``cpu_time``: the CPU clock) from the start. NumPy's BLAS reads its thread count when it is
    loaded, which importing this module already did, so the script is started again with the
    settings in its environment (at once, before it has done anything), and OpenBLAS's kernel
    unpinned (``blas_kernel``); where they already are, this returns."""
    wanted = dict(os.environ)
    (cpu_time_each if cpu_time else one_thread_each)(wanted)
    blas_kernel.restart_unpinned(wanted)


def time_call(fn, calls: int) -> float:
    now = clock()
    start = now()
    for _ in range(calls):
        fn()
    return (now() - start) / calls


def time_interleaved(impls: dict, budget: float) -> tuple[dict, int]:
    """Seconds per call of every implementation, one sample per round, the order rotating."""
    names = list(impls)
    per_call = {k: min(time_call(impls[k], 1) for _ in range(3)) for k in names}
    calls = {k: max(1, math.ceil(MIN_SAMPLE_SECONDS / per_call[k])) for k in names}
    round_cost = sum((calls[k] + 1) * per_call[k] for k in names)
    rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, round(budget / round_cost)))
    times = {k: [] for k in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for k in (order if r % 2 == 0 else order[::-1]):
            impls[k]()                                         # untimed warm-up
            times[k].append(time_call(impls[k], calls[k]))
    return times, rounds


def run_case(name: str, size_name: str, mode: str) -> dict:
    size = SIZES[name][size_name]
    inputs = handwritten.make_inputs(name, size, seed=0)
    runners, missing = implementations(name, inputs)
    ticks, start = _cpu_ticks(), time.perf_counter()
    times, rounds = time_interleaved({k: r.call for k, r in runners.items()}, BUDGET_SECONDS[mode])
    busy = other_load(ticks, _cpu_ticks(), time.perf_counter() - start)
    peaks = {k: r.peak() for k, r in runners.items()}       # after timing: measuring slows calls
    gen = times[REFERENCE]
    return {
        "model": name, "size_name": size_name, "size": size_label(size), "rounds": rounds,
        "group": "zoo" if name in ZOO_SIZES else "catalogue",
        "date": time.strftime("%Y-%m-%d", time.gmtime()), "mode": mode, "threads": threads(), "clock": clock_name(),
        "other_cpu": busy, "missing": missing,
        "ms": {k: 1e3 * statistics.median(v) for k, v in times.items()},
        # median over rounds of (implementation / generated) in the same round
        "pair": {k: statistics.median(a / b for a, b in zip(v, gen)) for k, v in times.items()},
        "floor_gflops": peers.floor_flops(name, inputs) / 1e9,
        "inputs_mb": _array_bytes(inputs.values()) / 2**20,
        # peak memory of one call beyond its inputs, each implementation's own measure
        "peak_mb": {k: nbytes / 2**20 for k, (nbytes, _) in peaks.items()},
        "peak_measure": {k: measure for k, (_, measure) in peaks.items()},
    }


# --- derive + generate ------------------------------------------------------------------------

def chain_model(depth: int):
    """A chain of `depth` dense tanh layers, each its own named intermediates: Z_k, H_k."""
    from symgrad import Model, sum_squares, tanh
    m = Model(f"chain_{depth}", f"{depth} dense tanh layers")
    n, w = m.dims("n w")
    H = m.constant("X", (n, w))
    Y = m.constant("Y", (n, w))
    for k in range(1, depth + 1):
        W = m.parameter(f"W{k}", (w, w))
        b = m.parameter(f"b{k}", (1, w))
        Z = m.define(f"Z{k}", H @ W + b)
        H = m.define(f"H{k}", tanh(Z))
    m.loss("Loss", sum_squares(H - Y) / n)
    return m


def derive_and_generate(spec: str) -> dict:
    """Wall seconds of build + derive + render in this (fresh) process, SymPy caches cold."""
    import symgrad  # noqa: F401  (import not timed)
    from symgrad import catalogue
    from symgrad.differentiate.chain_rule import derive
    from symgrad.emit.files import render_module
    from symgrad.emit.layer_plan import plan_for
    start = time.perf_counter()
    model = chain_model(int(spec.split("_")[1])) if spec.startswith("chain_") else catalogue.build(spec)
    derived = time.perf_counter()
    derivation = derive(model)
    text = render_module(plan_for(derivation, f"symgrad generate {spec}"))
    end = time.perf_counter()
    return {"spec": spec, "build_s": derived - start, "derive_generate_s": end - start,
            "lines": text.count("\n"), "gradients": len(model.parameter_names)}


def check_chain(depth: int) -> float:
    """Max relative error of the generated chain gradient against central differences."""
    from symgrad.gradcheck import check_module
    from symgrad.cli import import_generated
    from symgrad.differentiate.chain_rule import derive
    from symgrad.emit.files import render_module
    from symgrad.emit.layer_plan import plan_for
    model = chain_model(depth)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{model.name}.py"
        path.write_text(render_module(plan_for(derive(model), "bench")))
        results = check_module(model, import_generated(path))
    assert all(r.shape_ok for r in results), results
    return max(r.max_relative_error for r in results)


# --- cold start -------------------------------------------------------------------------------

COLD_INPUTS = """
import numpy as np
rng = np.random.default_rng(0)
n, p, h, o = 64, 32, 48, 16
X, Ystar = rng.standard_normal((n, p)), rng.standard_normal((n, o))
W1, B1 = rng.standard_normal((p, h)) / p ** 0.5, rng.standard_normal((1, h))
W2, B2 = rng.standard_normal((h, o)) / h ** 0.5, rng.standard_normal((1, o))
"""
COLD = {
    "generated": COLD_INPUTS + """
import importlib.util
spec = importlib.util.spec_from_file_location("mlp_mse", {path!r})
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
value, grads = module.loss_and_grad(X=X, Ystar=Ystar, W1=W1, B1=B1, W2=W2, B2=B2)
""",
    "jax": COLD_INPUTS + """
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
def loss(W1, B1, W2, B2, X, Ystar):
    return jnp.mean((Ystar - (jax.nn.relu(X @ W1 + B1) @ W2 + B2)) ** 2)
value, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))(W1, B1, W2, B2, X, Ystar)
jax.block_until_ready(grads)
""",
    "torch": COLD_INPUTS + """
import torch
params = [torch.tensor(a, requires_grad=True) for a in (W1, B1, W2, B2)]
Xt, Yt = torch.tensor(X), torch.tensor(Ystar)
value = torch.mean((Yt - (torch.relu(Xt @ params[0] + params[1]) @ params[2] + params[3])) ** 2)
grads = torch.autograd.grad(value, params)
""",
}


def cold_start(repeats: int) -> dict:
    """Median wall seconds of `python -c SCRIPT` per implementation (interpreter start included)."""
    scripts = {"generated": COLD["generated"].format(path=str(REPO_ROOT / "generated" / "mlp_mse.py"))}
    for peer in ("jax", "torch"):
        if peers.available(peer) is None:
            scripts[peer] = COLD[peer]
    baseline = "import numpy"
    times = {k: [] for k in [*scripts, "python + numpy"]}
    for _ in range(repeats):
        for k, script in [*scripts.items(), ("python + numpy", baseline)]:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO_ROOT)
            times[k].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


# --- orchestration ----------------------------------------------------------------------------

def worker(kind: str, *args, mode: str = "full"):
    """Run one piece of work in a fresh interpreter (allocator state and SymPy caches fresh)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, *map(str, args), "--mode", mode]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    if proc.returncode != 0:
        sys.exit(f"error: worker {kind} {' '.join(map(str, args))} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_worker(kind: str, args: list[str], mode: str):
    if kind == "case":
        return run_case(args[0], args[1], mode)
    if kind == "derive":
        return derive_and_generate(args[0])
    raise SystemExit(f"unknown worker {kind}")


def timed_cases(models, sizes, mode, retries) -> list[dict]:
    rows = []
    for name in models:
        for size_name in [s for s in sizes if s in SIZES[name]]:    # the zoo has no large size
            for attempt in range(retries + 1):
                row = worker("case", name, size_name, mode=mode)
                if row["other_cpu"] <= BUSY or attempt == retries:
                    break
                print(f"  {name} {size_name}: other processes used {row['other_cpu']:.0%} of the CPU; "
                      "waiting for a quiet machine and retrying", flush=True)
                wait_until_quiet()
            rows.append(row)
            ms = row["ms"]
            print(f"  {name:<21}{size_name:<7} {REFERENCE} {ms[REFERENCE]:9.3f} ms   "
                  + "  ".join(f"{k} x{row['pair'][k]:.2f}" for k in IMPLS[1:] if k in ms), flush=True)
    return rows


def merged(old: dict, new: dict) -> dict:
    """The saved results with every part and row measured now replaced; a kept row without its
    own mode gets the mode of the run that measured it."""
    old = {**old, "cases": [{"mode": old.get("mode", "full"), **r} for r in old.get("cases", [])]}
    out = {**old, **{k: v for k, v in new.items() if k not in ("cases", "derive")}}
    for part, key in (("cases", lambda r: (r["model"], r["size_name"])), ("derive", lambda r: r["spec"])):
        rows = {key(r): r for r in old.get(part, [])}
        rows.update({key(r): r for r in new.get(part, [])})
        order = {key(r): i for i, r in enumerate(old.get(part, []) + new.get(part, []))}
        out[part] = sorted(rows.values(), key=lambda r: (_model_order(key(r)), order[key(r)]))
    return out


def _model_order(key) -> tuple:
    name, size = (key, "") if isinstance(key, str) else key
    names = list(SIZES)
    return (names.index(name) if name in names else len(names), [*SIZE_NAMES, ""].index(size))


def environment() -> dict:
    try:
        from threadpoolctl import threadpool_info
        blas = ", ".join(f"{p.get('internal_api')} {p.get('num_threads')} threads" for p in threadpool_info())
        blas += f", {blas_kernel.kernel()}"
    except ImportError:
        blas = "threadpoolctl not installed"
    versions = {"python": sys.version.split()[0], "numpy": np.__version__}
    for module in ("jax", "torch", "autograd", "sympy"):
        try:
            versions[module] = __import__(module).__version__
        except (ImportError, AttributeError):
            versions[module] = "not installed" if module != "autograd" else "installed"
    return {"cpus": os.cpu_count(), "blas": blas, "versions": versions}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(SIZES), choices=list(SIZES), metavar="MODEL",
                        help="default: every catalogue and zoo model")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--zoo", action="store_const", dest="models", const=list(ZOO_SIZES),
                       help="the zoo models only")
    group.add_argument("--catalogue", action="store_const", dest="models", const=list(CATALOGUE_SIZES),
                       help="the seed-note models only")
    parser.add_argument("--sizes", nargs="*", default=list(SIZE_NAMES), choices=list(SIZE_NAMES),
                        help="the zoo has small and medium")
    parser.add_argument("--quick", action="store_true", help="about 0.6 s of timing per (model, size)")
    parser.add_argument("--retry-busy", type=int, default=2, metavar="R")
    parser.add_argument("--one-thread", action="store_true",
                        help="every library on one thread (BLAS, torch, XLA): on a machine other jobs share")
    parser.add_argument("--cpu-time", action="store_true",
                        help="time by each call's CPU time (implies --one-thread): on a machine other jobs share")
    parser.add_argument("--skip", nargs="*", default=[], choices=["gradients", "derive", "chains", "cold"])
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--save", type=Path, metavar="PATH", help="also write this run's own results to PATH (JSON)")
    parser.add_argument("--render", action="store_true",
                        help="measure nothing: rewrite docs/benchmarks.md and the plot from docs/benchmarks.json")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="full", help=argparse.SUPPRESS)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.worker:
        print(json.dumps(run_worker(args.worker[0], args.worker[1:], args.mode)))
        return
    import report          # matplotlib only needed when writing
    saved = REPO_ROOT / "docs" / "benchmarks.json"
    if args.render:
        results = json.loads(saved.read_text())
        report.write(results, report.markdown(results), saved.parent)
        return
    mode = "quick" if args.quick else "full"
    blas_kernel.restart_unpinned()      # the workers inherit the environment
    if args.cpu_time:
        cpu_time_each()
    elif args.one_thread:
        one_thread_each()
    env = environment()
    print(f"{env['cpus']} CPUs, {env['blas']}; " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()))
    for peer in peers.PEERS:
        reason = peers.available(peer)
        if reason:
            print(f"left out: {peer} ({reason})")
    results = {"env": env, "mode": mode}
    if "gradients" not in args.skip:
        print(f"\ngradients ({mode}): checked to agree (rtol {RTOL:g}), then timed interleaved")
        results["cases"] = timed_cases(args.models, args.sizes, mode, args.retry_busy)
    if "derive" not in args.skip:
        print("\nderive + generate, fresh process per model")
        results["derive"] = [worker("derive", name) for name in args.models]
    if "chains" not in args.skip:
        print(f"chains of {CHAIN_DEPTHS[0]} to {CHAIN_DEPTHS[-1]} layers (checked against finite "
              f"differences at depth 3: max rel error {check_chain(3):.1e})")
        results["chains"] = [worker("derive", f"chain_{k}") for k in CHAIN_DEPTHS]
    if "cold" not in args.skip:
        print("cold start, median of 5 fresh processes")
        results["cold"] = cold_start(5)
    if args.save:
        args.save.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    if saved.is_file():           # a partial run updates its rows of the last full one
        results = merged(json.loads(saved.read_text()), results)
    text = report.markdown(results)
    print("\n" + text)
    if not args.no_write:
        report.write(results, text, saved.parent)


if __name__ == "__main__":
    main()
