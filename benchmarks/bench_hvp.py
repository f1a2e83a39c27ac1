"""Generated Hessian-vector products and Hessians against the autodiff peers.

For every catalogue and zoo model that `peers.py` writes for the peers, at the sizes of
`bench_peers.py`, along one random tangent of every parameter (a list parameter's: one per
layer): the generated `hvp()`
(`generated/NAME_hvp.py`), the generated `loss_and_grad()` (the ratio `hvp/grad` is the hvp's
time as a multiple of the gradient's), jax.jit of `jax.jvp(jax.grad(f))` (forward-over-reverse,
float64), `torch.func.jvp(torch.func.grad(f))` and HIPS autograd's Hessian-vector product
(reverse-over-reverse), the generated torch and JAX modules' `hvp()` (`NAME_hvp_torch.py`, and
jax.jit of `NAME_hvp_jax.py`'s), each beside its framework's forward-over-reverse, and the numba
module's (`NAME_hvp_numba.py`: compiled loops, its kernels compiled before timing) beside jax.jit's. Every peer is
first checked to agree with the generated product (rtol 1e-8); then all are timed interleaved in
one process (rotating order, a warm-up call before each sample: `bench_peers.time_interleaved`),
medians in microseconds. At the small size, the full Hessian: the generated `hessian()` (NumPy,
torch, and jax.jit of JAX's) against `jax.jit(jax.hessian(f))`, where it is within HESSIAN_LIMIT
and the model has no layers (their blocks are keyed by layer, jax's nested by list).

    python benchmarks/bench_hvp.py                       # every model and size, prints the table
    python benchmarks/bench_hvp.py --write               # and puts it into docs/benchmarks.md
    python benchmarks/bench_hvp.py --models mlp_mse --sizes small --budget 0.3
    python benchmarks/bench_hvp.py --cpu-time            # on a machine other jobs share

Every library runs on one thread (the script restarts itself with that in its environment).
"""
from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
for path in (str(HERE), str(REPO_ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

import bench_peers  # noqa: E402
import handwritten  # noqa: E402
import peers  # noqa: E402

from symgrad.cli import import_generated  # noqa: E402

RTOL = 1e-8
MODELS = list(peers.MODELS)
LAYERED = ("ntk_relu", "softmax_ce")    # list parameters, one matrix per layer
SECTION_START = "<!-- benchmarks/bench_hvp.py: begin -->"
SECTION_END = "<!-- benchmarks/bench_hvp.py: end -->"
IMPLS = ("hvp", "grad", "jax", "jax products", "torch", "autograd", "hvp torch", "hvp jax", "hvp numba")
# (column, peer, whether its compiled function returns the gradient too, as hvp() does)
PEERS = (("jax", "jax", True), ("jax products", "jax", False), ("torch", "torch", True),
         ("autograd", "autograd", True))
BACKENDS = ("torch", "jax", "numba")     # the generated --hvp modules beside NumPy's


def backend_missing(backend):
    """None if the generated ``backend`` module can run here, else a one-line reason."""
    if backend in peers.PEERS:
        return peers.available(backend)
    return None if importlib.util.find_spec(backend) else f"{backend} not installed"


def peer_products(peer, name, inputs, tangent, gradients=False):
    """A zero-argument call computing the peer's Hessian-vector product, and its result as
    {parameter: NumPy array or float}. ``gradients`` (jax): the compiled function returns the
    gradient too, as the generated ``hvp()`` does; without it XLA drops what only the gradient
    needs (a layer's weight gradient products). torch.func's ``jvp`` and autograd compute the
    gradient either way."""
    loss, names = peers.MODELS[name]
    consts = {k: v for k, v in inputs.items() if k not in names}
    params = tuple(inputs[p] for p in names)
    vector = tuple(tangent[p] for p in names)
    o = peers.ops(peer)
    if peer == "jax":
        import jax
        import jax.numpy as jnp
        arrays = {k: _each(jnp.asarray, v) for k, v in consts.items() if isinstance(v, (np.ndarray, list))}
        scalars = {k: v for k, v in consts.items() if k not in arrays}

        def f(p, arrays):
            return loss(o, **dict(zip(names, p)), **arrays, **scalars)
        jp = tuple(_each(lambda a: jnp.asarray(a, dtype=jnp.float64), p) for p in params)
        jv = tuple(_each(lambda a: jnp.asarray(a, dtype=jnp.float64), v) for v in vector)
        outputs = slice(None) if gradients else 1      # (gradient, product) or the product alone
        compiled = jax.jit(lambda p, v, a: jax.jvp(lambda q: jax.grad(f)(q, a), (p,), (v,))[outputs]).lower(
            jp, jv, arrays).compile()
        call = lambda: jax.block_until_ready(compiled(jp, jv, arrays))  # noqa: E731
        convert = lambda r: {n: _each(_to_numpy, x) for n, x in zip(names, r[1] if gradients else r)}  # noqa: E731
    elif peer == "torch":
        import torch
        from torch.func import grad, jvp
        torch.set_num_threads(peers.blas_threads())
        tensor = lambda v: torch.as_tensor(v, dtype=torch.float64)  # noqa: E731
        kwargs = {k: _each(tensor, v) if isinstance(v, (np.ndarray, list)) else v for k, v in consts.items()}
        tp, tv = tuple(_each(tensor, p) for p in params), tuple(_each(tensor, v) for v in vector)

        def f(p):
            return loss(o, **dict(zip(names, p)), **kwargs)
        call = lambda: jvp(grad(f), (tp,), (tv,))[1]  # noqa: E731
        convert = lambda r: {n: _each(lambda t: _to_numpy(t.numpy()), x) for n, x in zip(names, r)}  # noqa: E731
    else:
        import autograd
        import autograd.numpy as anp

        def f(p):
            return loss(o, **dict(zip(names, p)), **consts)
        def along(p):     # the gradient's dot product with the tangent (autograd boxes lists: index them)
            g = autograd.grad(f)(p)
            return sum(sum(anp.sum(g[i][l] * part) for l, part in enumerate(v)) if isinstance(v, list)
                       else anp.sum(g[i] * v) for i, v in enumerate(vector))
        product = autograd.grad(along)
        call = lambda: product(params)  # noqa: E731
        convert = lambda r: {n: _each(_to_numpy, x) for n, x in zip(names, r)}  # noqa: E731
    return call, convert


def generated_products(backend, name, inputs, tangent, function="hvp"):
    """A zero-argument call of the generated torch, JAX or numba module's ``hvp`` (or ``hessian``:
    jitted for JAX), and how to read its result as NumPy values: {parameter: product} (or {(p, q): block})."""
    module = import_generated(REPO_ROOT / "generated" / f"{name}_hvp_{backend}.py")
    if backend == "numba":      # NumPy values in and out, as the NumPy module's
        call = (lambda: module.hvp(tangent, **inputs)[2]) if function == "hvp" else lambda: module.hessian(**inputs)
        return call, lambda r: r
    if backend == "torch":
        import torch
        torch.set_num_threads(peers.blas_threads())
        tensor = lambda v: torch.as_tensor(v, dtype=torch.float64) if isinstance(v, np.ndarray) else v  # noqa: E731
        given = {k: _each(tensor, v) for k, v in inputs.items()}
        along = {k: _each(lambda t: torch.as_tensor(t, dtype=torch.float64), v) for k, v in tangent.items()}
        call = (lambda: module.hvp(along, **given)[2]) if function == "hvp" else lambda: module.hessian(**given)  # noqa: E731
        return call, lambda r: {k: _each(lambda x: x.numpy() if x.ndim else float(x), v) for k, v in r.items()}
    import jax
    import jax.numpy as jnp
    array = lambda v: jnp.asarray(v, dtype=jnp.float64)  # noqa: E731
    params = {p: _each(array, inputs[p]) for p in module.PARAMETERS}
    rest = {k: _each(lambda v: jnp.asarray(v) if isinstance(v, np.ndarray) else v, v) for k, v in inputs.items()
            if k not in params}
    along = {k: _each(array, v) for k, v in tangent.items()}
    if function == "hvp":
        compiled = jax.jit(lambda ps, ts, rs: module.hvp(ts, **rs, **ps)[2]).lower(params, along, rest).compile()
        call = lambda: jax.block_until_ready(compiled(params, along, rest))  # noqa: E731
    else:
        compiled = jax.jit(lambda ps, rs: module.hessian(**rs, **ps)).lower(params, rest).compile()
        call = lambda: jax.block_until_ready(compiled(params, rest))  # noqa: E731
    return call, lambda r: {k: _each(_to_numpy, x) for k, x in r.items()}


def _each(fn, value):
    """``fn`` of a value, or of each matrix of a list parameter's value (one per layer)."""
    return [fn(a) for a in value] if isinstance(value, (list, tuple)) else fn(value)


def _to_numpy(x):
    return np.asarray(x) if np.ndim(x) else float(x)


def _leaves(values):
    """Values in order, list parameters' matrices one by one."""
    return [leaf for v in values for leaf in (v if isinstance(v, (list, tuple)) else [v])]


def _worst(got: dict, want: dict) -> float:
    pairs = [(g, w) for k in want for g, w in zip(_leaves([got[k]]), _leaves([want[k]]))]
    return max(float(np.max(np.abs(np.asarray(g) - np.asarray(w))))
               / max(float(np.max(np.abs(np.asarray(w)))), 1e-300) for g, w in pairs)


def run_case(name, size_name, budget):
    size = bench_peers.SIZES[name][size_name]
    inputs = handwritten.make_inputs(name, size, seed=0)
    module = import_generated(REPO_ROOT / "generated" / f"{name}_hvp.py")
    rng = np.random.default_rng(1)
    tangent = {p: _each(lambda v: rng.standard_normal(np.shape(v)) if np.ndim(v) else float(rng.standard_normal()),
                        inputs[p]) for p in module.PARAMETERS}
    _, _, reference = module.hvp(tangent, **inputs)
    impls = {"hvp": lambda: module.hvp(tangent, **inputs), "grad": lambda: module.loss_and_grad(**inputs)}
    missing = {}
    for key, peer, gradients in PEERS:
        reason = peers.available(peer)
        if reason:
            missing[key] = reason
            continue
        call, convert = peer_products(peer, name, inputs, tangent, gradients)
        error = _worst(convert(call()), reference)
        if error > RTOL:
            sys.exit(f"error: {peer} disagrees with the generated hvp of {name} ({size_name}): {error:.2g}")
        impls[key] = call
    for backend in BACKENDS:
        reason = backend_missing(backend)
        if reason:
            missing[f"hvp {backend}"] = reason
            continue
        call, convert = generated_products(backend, name, inputs, tangent)
        error = _worst(convert(call()), reference)
        if error > RTOL:
            sys.exit(f"error: the generated {backend} hvp disagrees with the NumPy one of {name} ({size_name}): {error:.2g}")
        impls[f"hvp {backend}"] = call
    times, _ = bench_peers.time_interleaved(impls, budget)
    row = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    entries = sum(int(np.size(a)) for p in module.PARAMETERS for a in _leaves([inputs[p]]))
    if size_name == "small" and entries ** 2 <= module.HESSIAN_LIMIT and name not in LAYERED:
        # hessian() refuses more; a layered model's blocks are keyed by layer, jax.hessian's nested
        row.update(hessian_case(name, inputs, module, budget))
    return row, missing


def hessian_case(name, inputs, module, budget):
    """The generated hessian() against jax.jit(jax.hessian(f)), checked to agree first."""
    if peers.available("jax"):
        return {}
    import jax
    import jax.numpy as jnp
    loss, names = peers.MODELS[name]
    consts = {k: v for k, v in inputs.items() if k not in names}
    arrays = {k: jnp.asarray(v) for k, v in consts.items() if isinstance(v, np.ndarray)}
    scalars = {k: v for k, v in consts.items() if k not in arrays}
    jp = tuple(jnp.asarray(inputs[p], dtype=jnp.float64) for p in names)

    def f(p, arrays):
        return loss(peers.ops("jax"), **dict(zip(names, p)), **arrays, **scalars)
    compiled = jax.jit(jax.hessian(f)).lower(jp, arrays).compile()
    ours = module.hessian(**inputs)
    theirs = compiled(jp, arrays)
    for a, p in enumerate(names):
        for b, q in enumerate(names):
            want = np.asarray(theirs[a][b])
            error = float(np.max(np.abs(ours[(p, q)] - want), initial=0.0)) / max(float(np.max(np.abs(want), initial=0.0)), 1.0)
            if error > RTOL:
                sys.exit(f"error: jax.hessian disagrees with the generated hessian of {name} at {p}, {q}: {error:.2g}")
    impls = {"hessian": lambda: module.hessian(**inputs),
             "jax hessian": lambda: jax.block_until_ready(compiled(jp, arrays))}
    for backend in (b for b in BACKENDS if not backend_missing(b)):
        call, convert = generated_products(backend, name, inputs, {}, "hessian")
        theirs = convert(call())
        scale = max(max(float(np.max(np.abs(b), initial=0.0)) for b in ours.values()), 1.0)
        error = max(float(np.max(np.abs(theirs[k] - ours[k]), initial=0.0)) for k in ours) / scale
        if error > RTOL:
            sys.exit(f"error: the generated {backend} hessian disagrees with the NumPy one of {name}: {error:.2g}")
        impls[f"hessian {backend}"] = call
    times, _ = bench_peers.time_interleaved(impls, budget)
    entries = sum(int(np.size(inputs[p])) for p in names)
    return {**{k: statistics.median(v) * 1e6 for k, v in times.items()}, "entries": entries}


def table(rows) -> str:
    def ratio(row, peer, ours):
        return f"{row[peer] / row[ours]:.2f}" if peer in row and ours in row else "–"
    lines = ["| model | size | hvp µs | grad µs | hvp/grad | jax µs | jax products µs | torch µs | autograd µs "
             "| generated torch µs | generated jax.jit µs | generated numba µs | jax/hvp | jax products/hvp | torch/hvp "
             "| autograd/hvp | torch.func/generated torch | jax products/generated jax | jax/generated numba |",
             "| --- | --- |" + " ---: |" * 17]
    for (name, size), row in rows:
        cells = [f"{row[k]:.0f}" if k in row else "–" for k in IMPLS]
        ratios = [ratio(row, k, "hvp") for k in ("jax", "jax products", "torch", "autograd")]
        ratios += [ratio(row, "torch", "hvp torch"), ratio(row, "jax products", "hvp jax"), ratio(row, "jax", "hvp numba")]
        lines.append(f"| {name} | {size} | {cells[0]} | {cells[1]} | {row['hvp'] / row['grad']:.2f} | "
                     f"{' | '.join(cells[2:])} | {' | '.join(ratios)} |")
    lines += ["", "| model (small) | Hessian entries | hessian() µs | generated torch µs | generated jax.jit µs "
              "| generated numba µs | jax.jit(jax.hessian) µs | jax/ours | jax/generated torch | jax/generated jax "
              "| jax/generated numba |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (name, size), row in rows:
        if "hessian" in row:
            cells = [f"{row[k]:.0f}" if k in row else "–" for k in ("hessian torch", "hessian jax", "hessian numba")]
            lines.append(f"| {name} | {row['entries'] ** 2} | {row['hessian']:.0f} | {' | '.join(cells)} | "
                         f"{row['jax hessian']:.0f} | {ratio(row, 'jax hessian', 'hessian')} | "
                         f"{ratio(row, 'jax hessian', 'hessian torch')} | {ratio(row, 'jax hessian', 'hessian jax')} | "
                         f"{ratio(row, 'jax hessian', 'hessian numba')} |")
    return "\n".join(lines)


def write_section(body: str, path: Path) -> None:
    """``body`` between this script's markers in ``path``: replacing the section there, or appended."""
    text = path.read_text()
    section = f"{SECTION_START}\n{body}\n{SECTION_END}\n"
    if SECTION_START in text:
        before, rest = text.split(SECTION_START, 1)
        text = before + section + rest.split(SECTION_END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


INTRO = """## Second order: Hessian-vector products and Hessians

Generated by `python benchmarks/bench_hvp.py --write`. Along one random tangent of every parameter,
float64, interleaved in one process, median microseconds per call: the generated `hvp()`, the generated
`loss_and_grad()` (`hvp/grad`: the product's cost in gradients), jax.jit of `jax.jvp(jax.grad(f))`
returning the gradient and the product, as `hvp()` does (`jax`), and returning the product alone
(`jax products`: XLA then leaves out what only the gradient needs, a layer's weight-gradient
products), `torch.func.jvp(torch.func.grad(f))` and HIPS autograd (grad of the gradient's dot product with the
tangent); `peer/hvp` above 1: the generated product is faster. The generated torch module's `hvp()`
and jax.jit of the generated JAX module's `hvp()` are compared with their own framework's
forward-over-reverse (`torch.func/generated torch`, `jax products/generated jax`: both jitted
functions return the products alone); the numba module's `hvp()` (compiled loops, NumPy's BLAS for
the matrix products) with jax.jit's forward-over-reverse returning the gradient too, as both do
(`jax/generated numba`). Every peer agreed with the generated
product (rtol 1e-8) before it was timed; jax's Hessian agreed with `hessian()` entry by entry. The
sizes are `bench_peers.py`'s. Every library runs on one thread; calls are timed by {clock}
(`--cpu-time`: the process's CPU time, which leaves out the time a call waited for a core on a
shared machine; the caches and cores other jobs share still slow it).
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=MODELS, choices=MODELS)
    parser.add_argument("--sizes", nargs="*", default=["small", "medium", "large"], choices=["small", "medium", "large"])
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timing per (model, size)")
    parser.add_argument("--write", action="store_true", help="put the table into docs/benchmarks.md")
    parser.add_argument("--cpu-time", action="store_true", help="time by CPU time (see bench_peers.py --cpu-time)")
    args = parser.parse_args()
    bench_peers.restart_on_one_thread(cpu_time=args.cpu_time)
    import jax
    jax.config.update("jax_enable_x64", True)
    rows = []
    for name in args.models:
        for size in (s for s in args.sizes if s in bench_peers.SIZES[name]):    # the zoo: small, medium
            row, missing = run_case(name, size, args.budget)
            rows.append(((name, size), row))
            print(f"{name} {size}: " + ", ".join(f"{k} {v:.0f}" for k, v in row.items())
                  + "".join(f"; {k}: {v}" for k, v in missing.items()), flush=True)
    body = INTRO.format(clock=bench_peers.clock_name()) + "\n" + table(rows) + "\n"
    print(body)
    if args.write:
        write_section(body, REPO_ROOT / "docs" / "benchmarks.md")


if __name__ == "__main__":
    main()
