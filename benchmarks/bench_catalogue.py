"""Benchmark every catalogue model's generated gradient against hand-written NumPy.

For each model, at a medium size (dimensions 10^2 - 10^3), this script

1. checks that the generated module (generated/<name>.py) and the hand-written
   reference (benchmarks/handwritten.py) agree (rtol 1e-9 per gradient array);
2. times them interleaved in one process (A B / B A rounds, each timed sample
   right after an untimed warm-up call of the same implementation), reporting
   medians, the ratio of medians and the median of per-round ratios;
3. times the derivation, `derive(catalogue.build(name))`: "cold" is the first
   derivation in the process (after `import symgrad`, which is not timed), as
   `symgrad generate <name>` sees it; "warm" is the median of a few repeats
   (SymPy's caches then hit, so it is 2-3x lower).

Each model runs in its own fresh worker process (the same script with --worker),
so models do not change each other's allocator state: glibc raises its mmap
threshold after a large block is freed, which alone moved medium-size timings
~2x (see PERF_NOTES.md). --single-process runs everything in this process instead.
Ratios also move between fresh processes and over time on this shared machine
(two_branch_crelu flipped between ~0.85 and ~1.12 from run to run);
--processes K repeats each model in K processes, round-robin, and shows the range.
The "other CPU" column flags rows timed while other processes were using the CPU.

Run from the repository root (needs only NumPy, plus symgrad's own dependencies
for the derivation timing):

    python benchmarks/bench_catalogue.py            # ~2 s of gradient timing per model
    python benchmarks/bench_catalogue.py --quick    # ~0.5 s per model
    python benchmarks/bench_catalogue.py --processes 3   # 3 fresh processes per model
    python benchmarks/bench_catalogue.py mlp_mse softmax_ce
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_two_branch_crelu as b2  # noqa: E402  (time_sample, summarize, print_environment)
import handwritten  # noqa: E402

RTOL = 1e-9
TARGET_SECONDS = {"full": 2.0, "quick": 0.5}   # gradient timing budget per model
MIN_SAMPLE_SECONDS = 1e-3                      # a timed sample repeats the call until this long
MIN_ROUNDS, MAX_ROUNDS = 5, 2000
WARM_DERIVES = {"full": 3, "quick": 1}
BUSY = 0.05                                    # flag a row when other processes used more CPU

SIZES = {
    "two_branch_crelu": {"N": 64, "M": 128, "L": 1024},
    "mlp_mse": {"n": 1024, "p": 256, "h": 512, "o": 64},
    "mlp_mse_sigmoid": {"n": 1024, "p": 256, "h": 512, "o": 64},
    "mlp_mse_tanh": {"n": 1024, "p": 256, "h": 512, "o": 64},
    "ntk_relu": {"d": 256, "n": 1024, "h": 256, "depth": 3},
    "softmax_ce": {"M": 1024, "N": 256, "P": 64, "H": 256, "depth": 3},
    "hw1_relu_mse": {"dx": 512, "ds": 1024, "dy": 256},
    "hw1_sigmoid_mse": {"dx": 512, "ds": 1024, "dy": 256},
    "hw1_sigmoid_bce": {"dx": 512, "ds": 1024, "dy": 256},
}


def size_label(size):
    return " ".join(f"{k}={v}" for k, v in size.items())


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


def time_interleaved(impls, inputs, target):
    """Alternate A B / B A rounds; each timed sample follows an untimed warm-up call."""
    per_call = max(b2.time_sample(fn, inputs, 3) for fn in impls)
    calls = max(1, math.ceil(MIN_SAMPLE_SECONDS / per_call))
    round_cost = len(impls) * (calls + 1) * per_call           # +1: the warm-up call
    rounds = max(MIN_ROUNDS, min(MAX_ROUNDS, round(target / round_cost)))
    times = [[] for _ in impls]
    for r in range(rounds):
        order = range(len(impls)) if r % 2 == 0 else reversed(range(len(impls)))
        for i in order:
            impls[i](**inputs)                                  # untimed warm-up
            times[i].append(b2.time_sample(impls[i], inputs, calls))
    return times, rounds, calls


def time_derivation(name, repeats):
    """Cold (first in this process) and warm (median of repeats) wall ms of derive(build(name))."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from symgrad import catalogue, derive                      # import not timed

    def once():
        start = time.perf_counter()
        result = derive(catalogue.build(name))
        return 1e3 * (time.perf_counter() - start), 1e3 * result.seconds

    cold_ms, cold_core_ms = once()
    warm = [once() for _ in range(repeats)]
    return {
        "derive_cold_ms": cold_ms,
        "derive_cold_core_ms": cold_core_ms,       # Derivation.seconds: chain rule only
        "derive_warm_ms": statistics.median(w for w, _ in warm) if warm else float("nan"),
    }


def run_model(name, mode):
    """Check, time and derive one model in this process; a dict of results (exits on disagreement)."""
    size = SIZES[name]
    inputs = handwritten.make_inputs(name, size, seed=0)
    generated = handwritten.load_generated(name).loss_and_grad
    hand = handwritten.HANDWRITTEN[name]
    worst, problems = handwritten.compare(generated(**inputs), hand(**inputs), RTOL)
    if problems:
        sys.exit(f"error [{name}]: generated and hand-written disagree:\n  " + "\n  ".join(problems))
    ticks, start = _cpu_ticks(), time.perf_counter()
    (gen_t, hand_t), rounds, calls = time_interleaved((generated, hand), inputs, TARGET_SECONDS[mode])
    busy = other_load(ticks, _cpu_ticks(), time.perf_counter() - start)
    result = {
        "model": name, "size": size_label(size), "max_rel_diff": worst,
        "rounds": rounds, "calls": calls, "other_cpu": busy,
        "generated_s": gen_t, "handwritten_s": hand_t,
    }
    result.update(time_derivation(name, WARM_DERIVES[mode]))
    return result


def run_worker(name, mode):
    """run_model in a fresh interpreter; its result dict, or None on failure."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name]
    if mode == "quick":
        cmd.append("--quick")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    if proc.returncode != 0:
        print(f"error [{name}]: worker exited {proc.returncode}\n{proc.stderr.strip()}",
              file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def combine(results):
    """One table row from one or more processes' results for the same model."""
    first = results[0]
    per_process = [b2.summarize(r["generated_s"], r["handwritten_s"]) for r in results]
    gen_ms = statistics.median(p[0] for p in per_process)
    hand_ms = statistics.median(p[1] for p in per_process)
    pairs = [g / h for r in results for g, h in zip(r["generated_s"], r["handwritten_s"])]
    q1, q3 = np.percentile(pairs, [25, 75])
    return {
        "model": first["model"], "size": first["size"],
        "max_rel_diff": max(r["max_rel_diff"] for r in results),
        "derive_cold_ms": statistics.median(r["derive_cold_ms"] for r in results),
        "derive_warm_ms": statistics.median(r["derive_warm_ms"] for r in results),
        "generated_ms": gen_ms, "handwritten_ms": hand_ms, "ratio": gen_ms / hand_ms,
        "pair_ratio": statistics.median(pairs), "pair_iqr": (q1, q3),
        "process_pair_ratios": [p[3] for p in per_process],
        "calls": sum(r["rounds"] * r["calls"] for r in results),
        "other_cpu": max(r["other_cpu"] for r in results),
    }


def print_table(rows, single_process, processes):
    header = (f"{'model':<17}{'size':<31}{'derive ms':>10}{'warm':>6}"
              f"{'generated ms':>13}{'handwritten ms':>15}{'ratio':>7}{'pair ratio':>11}"
              f"{'pair IQR':>11}" + (f"{'per process':>13}" if processes > 1 else "")
              + f"{'calls':>7}{'other CPU':>10}")
    print(header)
    print("-" * len(header))
    for r in rows:
        q1, q3 = r["pair_iqr"]
        lo, hi = min(r["process_pair_ratios"]), max(r["process_pair_ratios"])
        print(f"{r['model']:<17}{r['size']:<31}{r['derive_cold_ms']:>10.1f}{r['derive_warm_ms']:>6.1f}"
              f"{r['generated_ms']:>13.3f}{r['handwritten_ms']:>15.3f}{r['ratio']:>7.3f}"
              f"{r['pair_ratio']:>11.3f}{f'{q1:.2f}-{q3:.2f}':>11}"
              + (f"{f'{lo:.2f}-{hi:.2f}':>13}" if processes > 1 else "")
              + f"{r['calls']:>7}{r['other_cpu']:>10.0%}"
              + ("  BUSY" if r["other_cpu"] > BUSY else ""))
    where = ("this process (after the models above: not cold)" if single_process
             else "a fresh process")
    print(f"derive ms: wall time of derive(catalogue.build(name)), its first derivation in {where}, "
          "import symgrad not timed; warm: the same repeated in that process (SymPy caches warm).")
    print("generated / handwritten ms: median seconds per loss_and_grad call"
          + (" (median over processes)" if processes > 1 else "")
          + "; ratio = generated / handwritten of those; pair ratio = median of per-round ratios, "
          "pair IQR their quartiles" + ("; per process: range of each process's pair ratio"
                                        if processes > 1 else "")
          + "; < 1 means generated is faster.")
    print("calls: timed calls per implementation; other CPU: largest share of the machine's CPU "
          f"used by other processes while this model was timed (BUSY above {BUSY:.0%}: rerun).")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="catalogue models (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="~0.5 s of timing per model and process instead of ~2 s")
    parser.add_argument("--processes", type=int, default=1, metavar="K",
                        help="time each model in K fresh processes, round-robin over the models "
                             "(default: %(default)s)")
    parser.add_argument("--retry-busy", type=int, default=3, metavar="R",
                        help="rerun a model up to R times, after waiting for the machine to be quiet, "
                             "when other processes used the CPU while it was timed (default: %(default)s)")
    parser.add_argument("--single-process", action="store_true",
                        help="run every model in this process (results then depend on model order)")
    parser.add_argument("--worker", metavar="MODEL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    unknown = [m for m in args.models if m not in SIZES]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(SIZES)}")
    if args.processes < 1 or (args.single_process and args.processes != 1):
        parser.error("--processes must be >= 1, and 1 with --single-process")
    return args


def main():
    args = parse_args()
    mode = "quick" if args.quick else "full"
    if args.worker:
        print(json.dumps(run_model(args.worker, mode)))
        return
    b2.print_environment()
    before, start = _cpu_ticks(), time.perf_counter()
    time.sleep(0.5)
    busy = other_load(before, _cpu_ticks(), time.perf_counter() - start)
    print(f"other processes' CPU use just before the run: {busy:.0%} of the machine")
    if busy > BUSY:
        print("warning: the machine is busy; timings will be inflated and noisy (see the "
              "'other CPU' column)")
    names = args.models or list(SIZES)
    how = ("one process" if args.single_process else
           "one fresh process per model" if args.processes == 1 else
           f"{args.processes} fresh processes per model, round-robin")
    print(f"{len(names)} models, {mode} mode, {how}; agreement rtol {RTOL:g}, float64, seed 0")
    results, failed = {name: [] for name in names}, set()
    start = time.perf_counter()
    for k in range(args.processes):
        for name in names:
            if name in failed:
                continue
            for attempt in range(args.retry_busy + 1):
                result = run_model(name, mode) if args.single_process else run_worker(name, mode)
                if result is None or result["other_cpu"] <= BUSY or attempt == args.retry_busy:
                    break
                print(f"  [{k + 1}/{args.processes}] {name}: other processes used "
                      f"{result['other_cpu']:.0%} of the CPU; waiting for a quiet machine and "
                      f"retrying ({attempt + 1}/{args.retry_busy})", flush=True)
                wait_until_quiet()
            if result is None:
                failed.add(name)
                continue
            results[name].append(result)
            gen_ms, hand_ms, ratio, pair = b2.summarize(result["generated_s"], result["handwritten_s"])
            print(f"  [{k + 1}/{args.processes}] {name}: agree (max rel diff "
                  f"{result['max_rel_diff']:.1e}), {gen_ms:.3f} vs {hand_ms:.3f} ms, "
                  f"pair ratio {pair:.3f}", flush=True)
    print(f"done in {time.perf_counter() - start:.0f} s\n")
    rows = [combine(results[name]) for name in names if name not in failed]
    print_table(rows, args.single_process, args.processes)
    if failed:
        sys.exit(f"failed: {', '.join(sorted(failed))}")


if __name__ == "__main__":
    main()
