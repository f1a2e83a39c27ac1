"""docs/benchmarks.md, its plots and docs/benchmarks.json from bench_peers.py results.

The tables and the targets' verdicts are computed from the measurements, one set for the
seed-note models of the catalogue and one for the zoo; the columns are the implementations
of `implementations.py`, in its order. The analysis (what was changed, what remains and
why) is the hand-written `benchmarks/analysis.md`, included as it is.
"""
from __future__ import annotations

import json
from pathlib import Path

import implementations

HERE = Path(__file__).resolve().parent
ANALYSIS = HERE / "analysis.md"
REFERENCE = implementations.REFERENCE
COLUMNS = implementations.KEYS                   # every implementation, the reference first
RATIO_COLUMNS = COLUMNS[1:]
HEADINGS = implementations.HEADINGS
BUSY = 0.05                                      # other processes' share of the CPUs

# (what, applies to size, column, comparison, bound): ratios are implementation / generated
ISSUE_14_TARGETS = (      # for every catalogue and zoo model
    ("at least as fast as jax.jit at small sizes", "small", "jax", ">=", 1.0),
    ("at least 0.8x jax.jit's speed at medium sizes", "medium", "jax", ">=", 0.8),
)
TARGETS = ISSUE_14_TARGETS + (
    ("within 1.05x of hand-written NumPy", None, "handwritten", ">=", 1 / 1.05),
    ("within 1.2x of the floor at the large size", "large", "floor", ">=", 1 / 1.2),
    ("at least 3x faster than jax.jit at small sizes", "small", "jax", ">=", 3.0),
    ("at least 5x faster than torch at small sizes", "small", "torch", ">=", 5.0),
    ("never slower than jax.jit", None, "jax", ">=", 1.0),
    ("never slower than torch", None, "torch", ">=", 1.0),
)
GROUP_TARGETS = {"catalogue": TARGETS, "zoo": ISSUE_14_TARGETS}


def _ratio(row: dict, column: str) -> float | None:
    return row["pair"].get(column)


def group(row: dict) -> str:
    """'catalogue' (the seed notes' models; rows saved before the zoo was benchmarked) or 'zoo'."""
    return row.get("group", "catalogue")


def target_verdicts(cases: list[dict], targets=TARGETS) -> list[tuple[str, int, int, list[str]]]:
    """(target, cases met, cases measured, the misses as 'model size (ratio)')."""
    verdicts = []
    for what, size, column, _, bound in targets:
        measured = [r for r in cases if (size is None or r["size_name"] == size) and _ratio(r, column)]
        misses = [f"{r['model']} {r['size_name']} ({_ratio(r, column):.2f})"
                  for r in measured if _ratio(r, column) < bound]
        verdicts.append((what, len(measured) - len(misses), len(measured), misses))
    return verdicts


def _gradient_table(cases: list[dict]) -> list[str]:
    lines = [f"| model | size | {HEADINGS[REFERENCE]} ms | " + " | ".join(HEADINGS[c] for c in RATIO_COLUMNS) + " |",
             "| --- | --- | ---: | " + " | ".join("---:" for _ in RATIO_COLUMNS) + " |"]
    for r in cases:
        cells = []
        for column in RATIO_COLUMNS:
            ratio = _ratio(r, column)
            cells.append("—" if ratio is None else f"{ratio:.2f}")
        busy = " (busy)" if r["other_cpu"] > BUSY else ""
        lines.append(f"| {r['model']} | {r['size_name']}: {r['size']} | {r['ms'][REFERENCE]:.3f}{busy} | "
                     + " | ".join(cells) + " |")
    return lines


def _mib(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


def _memory_table(cases: list[dict]) -> list[str]:
    """Peak MiB of one call beyond its inputs, per implementation; rows measured before peak
    memory was recorded are left out."""
    lines = ["| model | size | inputs MiB | " + " | ".join(HEADINGS[c] for c in COLUMNS) + " |",
             "| --- | --- | ---: | " + " | ".join("---:" for _ in COLUMNS) + " |"]
    for r in cases:
        if "peak_mb" in r:
            lines.append(f"| {r['model']} | {r['size_name']}: {r['size']} | {_mib(r['inputs_mb'])} | "
                         + " | ".join(_mib(r["peak_mb"].get(c)) for c in COLUMNS) + " |")
    return lines


MEMORY_TEXT = (
    "Peak memory of one loss-and-gradient call **beyond its inputs** (the temporaries and outputs "
    "alive at the peak), MiB, each implementation by its own measure (`benchmarks/memory.py`): "
    "NumPy code (generated, hand-written, floor, HIPS autograd) by the peak of Python's "
    "`tracemalloc` during the call less what was traced before it (NumPy reports every array "
    "buffer to it; BLAS's own workspace is not seen); jax.jit by the compiled executable's "
    "`memory_analysis()`, temporaries plus outputs (XLA's buffer plan; its argument size, the "
    "inputs, left out); torch by `torch.profiler` (`profile_memory=True`): the peak of the running "
    "sum of the CPU allocator's allocations and frees during the call. The inputs' size is the "
    "column `inputs MiB`.")


def _conditions(cases: list[dict]) -> str:
    """When, in which mode and how busy the machine was, from the rows themselves."""
    dates = sorted({r["date"] for r in cases if "date" in r})
    if any("date" not in r for r in cases):
        dates.append("on a date not recorded")
    modes = sorted({r.get("mode", "unrecorded") for r in cases})
    busiest = max(r["other_cpu"] for r in cases)
    threads = sorted({r["threads"] for r in cases if "threads" in r})
    clocks = sorted({r.get("clock", "wall time") for r in cases})
    text = (f"Measured {' and '.join(dates)} ({' and '.join(modes)} mode"
            + "".join(f"; threads: {t}" for t in threads) + f"; clock: {' and '.join(clocks)}"
            + "); other processes used up to "
            f"{busiest:.0%} of the CPUs while a row was timed")
    if busiest > BUSY:
        text += (": **a busy machine** (rows marked busy: above 5 %). Its ratios are a first look; "
                 "a rerun on a quiet machine replaces them")
    return text + "."


def _targets_table(cases: list[dict], targets) -> list[str]:
    out = ["| target | met | misses (ratio) |", "| --- | ---: | --- |"]
    for what, met, measured, misses in target_verdicts(cases, targets):
        out.append(f"| {what} | {met} of {measured} | {', '.join(misses) or '—'} |")
    return out


def markdown(results: dict) -> str:
    env = results["env"]
    out = ["# Benchmarks", "",
           "Generated by `python benchmarks/bench_peers.py` (needs `pip install -e '.[bench]'`); "
           "the analysis at the end is `benchmarks/analysis.md`. Do not edit the tables by hand.", "",
           f"Machine: {env['cpus']} CPUs, {env['blas']}; "
           + ", ".join(f"{k} {v}" for k, v in env["versions"].items()) + ".", ""]
    cases = [r for r in results.get("cases", []) if group(r) == "catalogue"]
    if cases:
        out += ["## Gradient time", "",
                "`loss_and_grad` of the generated module, float64, and every other implementation's time "
                "**as a multiple of the generated code's** (median over interleaved rounds of the per-round "
                "ratio; above 1: the generated code is faster). Each (model, size) ran in a fresh process, "
                "after checking every implementation agrees with the generated code (rtol 1e-8). "
                "Floor: the matrix products the gradient needs, one read of every input and one write of "
                "every gradient that no product already reads or writes (`benchmarks/peers.py`). "
                "ntk_relu and softmax_ce at depth 3."
                + _old_floor_note(cases), "",
                _conditions(cases), "",
                *_gradient_table(cases), "",
                "![time of each implementation relative to the generated code](benchmarks.png)", ""]
        memory = _memory_table(cases)
        if len(memory) > 2:
            out += ["### Peak memory", "", MEMORY_TEXT, "", *memory, ""]
        out += ["### Targets", "", *_targets_table(cases, GROUP_TARGETS["catalogue"])]
        out += _missing(cases)
        out.append("")
    zoo = [r for r in results.get("cases", []) if group(r) == "zoo"]
    if zoo:
        out += ["## The zoo", "",
                "Every zoo model (`symgrad/model/catalogue/zoo.py`) at a small and a medium size, measured as "
                "above: the generated code's time and every other implementation's **as a multiple of it** "
                "(above 1: the generated code is faster), each checked first to agree with the generated code "
                "(rtol 1e-8). Hand-written NumPy: `benchmarks/handwritten_zoo.py`; the peers differentiate "
                "the plain losses of `benchmarks/peers_zoo.py`. Floor: the matrix products the gradient needs "
                "(none for batch and layer norm; gaussian_nll also the inverse of Sigma), one read of every "
                "input and one write of every gradient that no product already reads or writes.", "",
                _conditions(zoo), "",
                *_gradient_table(zoo), "",
                "![time of each zoo implementation relative to the generated code](benchmarks_zoo.png)", "",
                "### Peak memory", "", MEMORY_TEXT, "", *_memory_table(zoo), "",
                "### Targets", "", *_targets_table(zoo, GROUP_TARGETS["zoo"])]
        out += _missing(zoo)
        out.append("")
    if results.get("derive"):
        out += ["## Derive + generate", "",
                "Build the model, derive every gradient, render the module: wall time in a fresh process "
                "(SymPy caches cold; `import symgrad` not timed).", "",
                "| model | gradients | seconds | module lines |", "| --- | ---: | ---: | ---: |"]
        out += [f"| {d['spec']} | {d['gradients']} | {d['derive_generate_s']:.2f} | {d['lines']} |"
                for d in results["derive"]]
        out.append("")
    if results.get("chains"):
        out += ["Chains of dense tanh layers (`Z_k = H_{k-1} W_k + b_k`, `H_k = tanh(Z_k)`, squared loss), "
                "each layer its own named intermediates and parameters, so the derivation grows with depth:", "",
                "| layers | gradients | seconds | seconds per layer | module lines |",
                "| ---: | ---: | ---: | ---: | ---: |"]
        for d in results["chains"]:
            layers = int(d["spec"].split("_")[1])
            out.append(f"| {layers} | {d['gradients']} | {d['derive_generate_s']:.2f} | "
                       f"{d['derive_generate_s'] / layers:.3f} | {d['lines']} |")
        out.append("")
    if results.get("cold"):
        cold = results["cold"]
        out += ["## Cold start", "",
                "A fresh `python -c` that imports its tools, makes `mlp_mse` inputs (n=64, p=32, h=48, o=16) "
                "and computes one loss and gradient; median wall time of 5 runs, interpreter start included.", "",
                "| implementation | seconds |", "| --- | ---: |"]
        out += [f"| {k} | {v:.2f} |" for k, v in cold.items()]
        out.append("")
    if ANALYSIS.is_file():
        out += [ANALYSIS.read_text().rstrip(), ""]
    return "\n".join(out)


def _old_floor_note(cases: list[dict]) -> str:
    """Rows saved before peak memory was measured also had a floor of the matrix products only."""
    old = sum("peak_mb" not in r for r in cases)
    if not old:
        return ""
    return (f" {old} of these {len(cases)} rows were measured before the floor had its reads and writes "
            "and before peak memory was recorded: their floor is the matrix products only.")


def _missing(cases: list[dict]) -> list[str]:
    missing = sorted({f"{k} ({v})" for r in cases for k, v in r["missing"].items()})
    return ["", "Left out: " + ", ".join(missing) + "."] if missing else []


def plot(cases: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    sizes = [s for s in ("small", "medium", "large") if any(r["size_name"] == s for r in cases)]
    fig, axes = plt.subplots(len(sizes), 1, figsize=(10, 3.2 * len(sizes)), squeeze=False)
    for ax, size in zip(axes[:, 0], sizes):
        rows = [r for r in cases if r["size_name"] == size]
        width = 0.8 / len(RATIO_COLUMNS)
        for k, column in enumerate(RATIO_COLUMNS):
            xs = [i + (k - (len(RATIO_COLUMNS) - 1) / 2) * width for i, r in enumerate(rows)
                  if _ratio(r, column)]
            ys = [_ratio(r, column) for r in rows if _ratio(r, column)]
            ax.bar(xs, ys, width, label=HEADINGS[column])
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        values = [_ratio(r, c) for r in rows for c in RATIO_COLUMNS if _ratio(r, c)]
        ax.set_yticks([t for t in (0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 10, 20, 30)
                       if min(values) / 1.5 <= t <= max(values) * 1.5])
        ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(range(len(rows)), [r["model"] for r in rows], rotation=20, fontsize=8)
        ax.set_ylabel("time / generated")
        ax.set_title(f"{size} sizes: above 1, the generated code is faster", fontsize=10)
    axes[0, 0].legend(ncol=len(RATIO_COLUMNS), fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.12))
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


KEPT_SECTIONS = ("bench_backends.py", "bench_derivation.py", "bench_numba.py", "bench_hvp.py")   # scripts that write their own section of benchmarks.md


def _kept_section(path: Path) -> str:
    """The sections of ``path`` other scripts write (each script of ``KEPT_SECTIONS``, between its
    markers), kept when the file is rewritten."""
    text = path.read_text() if path.is_file() else ""
    kept = ""
    for script in KEPT_SECTIONS:
        start, end = f"<!-- benchmarks/{script}: begin -->", f"<!-- benchmarks/{script}: end -->"
        if start in text and end in text:
            kept += "\n" + start + text.split(start, 1)[1].split(end, 1)[0] + end + "\n"
    return kept


def write(results: dict, text: str, docs: Path) -> None:
    docs.mkdir(exist_ok=True)
    (docs / "benchmarks.json").write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    (docs / "benchmarks.md").write_text(text + "\n" + _kept_section(docs / "benchmarks.md"))
    print(f"wrote {docs / 'benchmarks.md'}, benchmarks.json")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("plots not redrawn: matplotlib is not installed (pip install -e '.[bench]')")
        return
    for name, group_name in (("benchmarks.png", "catalogue"), ("benchmarks_zoo.png", "zoo")):
        cases = [r for r in results.get("cases", []) if group(r) == group_name]
        if cases:
            plot(cases, docs / name)
            print(f"wrote {docs / name}")
