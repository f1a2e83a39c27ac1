"""Hand-written NumPy value-and-gradient code for every catalogue model (the zoo's: handwritten_zoo.py).

One function per model, written from the math the way a competent user would:
plain NumPy, no preallocated buffers or `out=` tricks, no dense diag, no Jacobians.
Each takes the generated module's keyword inputs and returns the same structure,
``(loss: float, {parameter: gradient})``; a list parameter (W, Theta) gets a list
of arrays, one per layer.

    from handwritten import HANDWRITTEN
    value, grads = HANDWRITTEN["mlp_mse"](X=..., Ystar=..., W1=..., B1=..., W2=..., B2=...)

Run it as a script to check every function against the generated modules and
against central finite differences (small sizes, several depths, kinks hit exactly):

    python benchmarks/handwritten.py
"""
import importlib.util
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent


if str(HERE) not in sys.path:            # benchmarks/ has no __init__.py
    sys.path.insert(0, str(HERE))
import bench_two_branch_crelu  # noqa: E402
import handwritten_zoo  # noqa: E402


def _load_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- 000 two-branch CReLU: reuse the reference of bench_two_branch_crelu.py ------------------
two_branch_crelu = bench_two_branch_crelu.handwritten_loss_and_grad


def _sigmoid(z):
    return 0.5 * (np.tanh(0.5 * z) + 1.0)


# --- 002 two-layer MLP, batch rows, MSE over all n*o entries ---------------------------------
def _mlp(f, df_from_out, X, Ystar, W1, B1, W2, B2):
    """df_from_out(Z1, H): f'(Z1), computed from whichever of Z1, H is cheaper."""
    n, o = Ystar.shape
    Z1 = X @ W1 + B1
    H = f(Z1)
    R = Ystar - (H @ W2 + B2)
    loss = float(np.vdot(R, R)) / (n * o)
    dY = (-2.0 / (n * o)) * R
    dZ1 = (dY @ W2.T) * df_from_out(Z1, H)
    return loss, {
        "W1": X.T @ dZ1,
        "B1": dZ1.sum(axis=0, keepdims=True),
        "W2": H.T @ dY,
        "B2": dY.sum(axis=0, keepdims=True),
    }


def mlp_mse(X, Ystar, W1, B1, W2, B2):
    return _mlp(lambda z: np.maximum(z, 0.0), lambda z, h: z > 0,     # relu'(0) = 0
                X, Ystar, W1, B1, W2, B2)


def mlp_mse_sigmoid(X, Ystar, W1, B1, W2, B2):
    return _mlp(_sigmoid, lambda z, h: h * (1.0 - h), X, Ystar, W1, B1, W2, B2)


def mlp_mse_tanh(X, Ystar, W1, B1, W2, B2):
    return _mlp(np.tanh, lambda z, h: 1.0 - h * h, X, Ystar, W1, B1, W2, B2)


# --- 003 homework 1: one sample as a column --------------------------------------------------
def _hw1_grads(ds2, z1, dz1_ds1, x, W2):
    """Backward from dl/ds2 through s2 = W2 z1 + b2, z1 = f(s1), s1 = W1 x + b1.

    The weight gradients are outer products of columns: broadcasting, not `u @ v.T`
    (a K = 1 matrix product is about 2x slower here)."""
    ds1 = (W2.T @ ds2) * dz1_ds1
    return {"W1": ds1 * x.T, "b1": ds1, "W2": ds2 * z1.T, "b2": ds2}


def hw1_relu_mse(x, y, W1, b1, W2, b2):
    s1 = W1 @ x + b1
    z1 = np.maximum(s1, 0.0)
    r = (W2 @ z1 + b2) - y
    loss = float(np.vdot(r, r))
    return loss, _hw1_grads(2.0 * r, z1, s1 > 0, x, W2)


def hw1_sigmoid_mse(x, y, W1, b1, W2, b2):
    z1 = _sigmoid(W1 @ x + b1)
    yhat = _sigmoid(W2 @ z1 + b2)
    r = yhat - y
    loss = float(np.vdot(r, r))
    ds2 = 2.0 * r * yhat * (1.0 - yhat)
    return loss, _hw1_grads(ds2, z1, z1 * (1.0 - z1), x, W2)


def hw1_sigmoid_bce(x, y, W1, b1, W2, b2):
    K = y.shape[0]
    z1 = _sigmoid(W1 @ x + b1)
    s2 = W2 @ z1 + b2
    yhat = _sigmoid(s2)
    # -log(sigmoid(s)) = softplus(-s), -log(1 - sigmoid(s)) = softplus(s)
    loss = float(np.sum(y * np.logaddexp(0.0, -s2) + (1.0 - y) * np.logaddexp(0.0, s2))) / K
    ds2 = (yhat - y) / K
    return loss, _hw1_grads(ds2, z1, z1 * (1.0 - z1), x, W2)


# --- 001 deep ReLU network, NTK parametrisation, samples as columns --------------------------
def ntk_relu(X, r, W, W0, m, lam):
    L = len(W)
    sqrt_m = math.sqrt(m)
    Xs, Zs = [X], []                        # Xs[l] is the input of layer l
    for l in range(L - 1):
        Z = W[l] @ Xs[-1]
        Zs.append(Z)
        Xs.append(np.maximum(Z, 0.0))
    f = sqrt_m * (W[-1] @ Xs[-1])
    res = f - r
    diffs = [Wl - W0l for Wl, W0l in zip(W, W0)]
    loss = 0.5 * float(np.vdot(res, res)) + 0.5 * m * lam * sum(float(np.vdot(D, D)) for D in diffs)

    grads = [None] * L
    grads[-1] = sqrt_m * (res @ Xs[-1].T) + (m * lam) * diffs[-1]
    if L > 1:
        G = sqrt_m * (W[-1].T * res)        # dLoss/dX_{L-1}: an outer product, by broadcasting
        for l in range(L - 2, -1, -1):
            Gz = G * (Zs[l] > 0)            # relu'(0) = 0
            grads[l] = Gz @ Xs[l].T + (m * lam) * diffs[l]
            if l > 0:
                G = W[l].T @ Gz
    return loss, {"W": grads}


# --- 004 sigmoid hidden layers, softmax output, cross-entropy, samples as rows ---------------
def softmax_ce(X, Y, Theta):
    M = X.shape[0]
    acts = [X]                              # acts[l] is the input of layer l
    for T in Theta[:-1]:
        acts.append(_sigmoid(acts[-1] @ T.T))
    z = acts[-1] @ Theta[-1].T
    zmax = z.max(axis=1, keepdims=True)
    e = np.exp(z - zmax)
    s = e.sum(axis=1, keepdims=True)
    log_p = z - (zmax + np.log(s))
    loss = -float(np.sum(Y * log_p)) / M
    # dE/dz = (softmax(z) * rowsum(Y) - Y) / M; rowsum(Y) = 1 for proper soft labels
    dz = (e / s * Y.sum(axis=1, keepdims=True) - Y) / M
    grads = [None] * len(Theta)
    for l in range(len(Theta) - 1, -1, -1):
        grads[l] = dz.T @ acts[l]
        if l > 0:
            a = acts[l]
            dz = (dz @ Theta[l]) * a * (1.0 - a)
    return loss, {"Theta": grads}


HANDWRITTEN = {
    "two_branch_crelu": two_branch_crelu,
    "mlp_mse": mlp_mse,
    "mlp_mse_sigmoid": mlp_mse_sigmoid,
    "mlp_mse_tanh": mlp_mse_tanh,
    "ntk_relu": ntk_relu,
    "softmax_ce": softmax_ce,
    "hw1_relu_mse": hw1_relu_mse,
    "hw1_sigmoid_mse": hw1_sigmoid_mse,
    "hw1_sigmoid_bce": hw1_sigmoid_bce,
    **handwritten_zoo.HANDWRITTEN_ZOO,
}


# --- inputs, shared with bench_peers.py ------------------------------------------------------
def _normal(rng, shape, scale=1.0):
    return scale * rng.standard_normal(shape)


def make_inputs(name, size, seed=0):
    """Float64 inputs for model `name` at `size` (a dict of dimensions), pre-activations O(1)."""
    rng = np.random.default_rng(seed)
    s = size
    if name == "two_branch_crelu":
        N, M, L = s["N"], s["M"], s["L"]
        return {
            "X1": _normal(rng, (N, L)), "X2": _normal(rng, (N, L)),
            "Yexp": _normal(rng, (1, L)), "t": 1.0,
            "A1": _normal(rng, (M, N), 1 / math.sqrt(N)), "A2": _normal(rng, (M, N), 1 / math.sqrt(N)),
            "B1": _normal(rng, (M, 1), 0.5), "B2": _normal(rng, (M, 1), 0.5),
            "C": _normal(rng, (1, 2 * M), 1 / math.sqrt(2 * M)), "d": float(rng.standard_normal()),
        }
    if name.startswith("mlp_mse"):
        n, p, h, o = s["n"], s["p"], s["h"], s["o"]
        return {
            "X": _normal(rng, (n, p)), "Ystar": _normal(rng, (n, o)),
            "W1": _normal(rng, (p, h), 1 / math.sqrt(p)), "B1": _normal(rng, (1, h), 0.5),
            "W2": _normal(rng, (h, o), 1 / math.sqrt(h)), "B2": _normal(rng, (1, o), 0.5),
        }
    if name.startswith("hw1_"):
        dx, ds, dy = s["dx"], s["ds"], s["dy"]
        # targets in (0, 1) for the sigmoid outputs, standard normal for the linear one
        y = _normal(rng, (dy, 1)) if name == "hw1_relu_mse" else rng.random((dy, 1))
        return {
            "x": _normal(rng, (dx, 1)), "y": y,
            "W1": _normal(rng, (ds, dx), 1 / math.sqrt(dx)), "b1": _normal(rng, (ds, 1), 0.5),
            "W2": _normal(rng, (dy, ds), 1 / math.sqrt(ds)), "b2": _normal(rng, (dy, 1), 0.5),
        }
    if name == "ntk_relu":
        d, n, h, depth = s["d"], s["n"], s["h"], s["depth"]
        m = float(h)
        widths = [d] + [h] * (depth - 1)
        W0 = [_normal(rng, (widths[l + 1], widths[l]), math.sqrt(2 / widths[l]))
              for l in range(depth - 1)]
        W0.append(_normal(rng, (1, widths[-1]), 1 / math.sqrt(m * widths[-1])))
        W = [W0l + _normal(rng, W0l.shape, 0.1 * float(np.std(W0l))) for W0l in W0]
        return {
            "X": _normal(rng, (d, n)), "r": _normal(rng, (1, n)),
            "W": W, "W0": W0, "m": m, "lam": 1e-3,
        }
    if name == "softmax_ce":
        M, N, P, H, depth = s["M"], s["N"], s["P"], s["H"], s["depth"]
        widths = [N] + [H] * (depth - 1) + [P]
        # layers after the first see sigmoids in (0, 1): scale 2/sqrt(fan_in) keeps z = O(1)
        Theta = [_normal(rng, (widths[l + 1], widths[l]),
                         (1 if l == 0 else 2) / math.sqrt(widths[l])) for l in range(depth)]
        return {
            "X": _normal(rng, (M, N)),
            "Y": rng.dirichlet(np.ones(P), size=M),
            "Theta": Theta,
        }
    return handwritten_zoo.make_inputs(name, size, seed)


def generated_path(name, suffix="", directory=REPO_ROOT / "generated"):
    """The file of catalogue model `name`'s generated module: NAME.py, or NAME{suffix}.py
    for another backend with the same interface (e.g. "_numba")."""
    return Path(directory) / f"{name}{suffix}.py"


def load_generated(name, directory=REPO_ROOT / "generated", suffix=""):
    """The generated module for catalogue model `name`, imported from its file."""
    path = generated_path(name, suffix, directory)
    if not path.is_file():
        sys.exit(f"error: generated module not found: {path}")
    return _load_file(f"_generated_{name}{suffix}", path)


def compare(got, want, rtol, atol=0.0):
    """Worst error relative to each gradient's largest entry; problems as strings."""
    gval, ggrads = got
    wval, wgrads = want
    problems = []
    worst = abs(gval - wval) / max(abs(wval), 1e-300)
    if not abs(gval - wval) <= atol + rtol * abs(wval):
        problems.append(f"loss: {gval!r} vs {wval!r}")
    if set(ggrads) != set(wgrads):
        return worst, problems + [f"keys {sorted(ggrads)} vs {sorted(wgrads)}"]
    for p in wgrads:
        g, w = ggrads[p], wgrads[p]
        pairs = list(zip(g, w)) if isinstance(w, list) else [(g, w)]
        if isinstance(w, list) and (not isinstance(g, list) or len(g) != len(w)):
            problems.append(f"{p}: expected a list of {len(w)} arrays")
            continue
        for k, (gi, wi) in enumerate(pairs):
            label = f"{p}[{k}]" if isinstance(w, list) else p
            if np.shape(gi) != np.shape(wi):
                problems.append(f"{label}: shape {np.shape(gi)} vs {np.shape(wi)}")
                continue
            scale = float(np.max(np.abs(wi))) if np.size(wi) else 0.0
            err = float(np.max(np.abs(np.subtract(gi, wi)))) if np.size(wi) else 0.0
            worst = max(worst, err / max(scale, 1e-300))
            if not err <= atol + rtol * scale:
                problems.append(f"{label}: max abs error {err:.3e} > {rtol:g} * {scale:.3e}")
    return worst, problems


# --- self-check -----------------------------------------------------------------------------
SMALL = {
    "two_branch_crelu": {"N": 5, "M": 4, "L": 7},
    "mlp_mse": {"n": 6, "p": 5, "h": 7, "o": 3},
    "hw1": {"dx": 5, "ds": 7, "dy": 4},
    "ntk_relu": {"d": 5, "n": 6, "h": 7},
    "softmax_ce": {"M": 6, "N": 5, "P": 4, "H": 7},
    **handwritten_zoo.SMALL,
}


def _small_cases():
    for name in HANDWRITTEN:
        key = "mlp_mse" if name.startswith("mlp_mse") else "hw1" if name.startswith("hw1") else name
        if name in ("ntk_relu", "softmax_ce"):
            for depth in (1, 2, 3, 4):
                yield name, dict(SMALL[key], depth=depth)
        else:
            yield name, dict(SMALL[key])


def _with_kinks(name, inputs):
    """Put some pre-activations exactly on the kinks (0, and t for the CReLU)."""
    out = {k: ([a.copy() for a in v] if isinstance(v, list) else
               v.copy() if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}
    if name == "two_branch_crelu":
        for X, B in (("X1", "B1"), ("X2", "B2")):
            out[X][:, 0] = 0.0
            out[B][:2, 0] = (0.0, out["t"])
    elif name == "mlp_mse":
        out["X"][0] = 0.0
        out["B1"][0, :2] = 0.0
    elif name == "hw1_relu_mse":
        out["x"][:] = 0.0
        out["b1"][::2] = 0.0
    elif name == "ntk_relu":
        out["X"][:, 0] = 0.0
    return out


def _entries(value):
    """(parameter path, array) for every parameter array, lists expanded."""
    return value if isinstance(value, list) else [value]


def finite_difference_check(fn, inputs, params, rng, per_array=3, h=1e-6):
    """Max error of central differences of fn's loss vs its gradient at a few entries, relative
    to the largest entry of that gradient array (as in `compare`)."""
    _, grads = fn(**inputs)
    worst = 0.0
    for p in params:
        if not isinstance(inputs[p], (np.ndarray, list)):          # scalar parameter (d)
            v = inputs[p]
            plus = fn(**dict(inputs, **{p: v + h}))[0]
            minus = fn(**dict(inputs, **{p: v - h}))[0]
            fd, an = (plus - minus) / (2 * h), float(grads[p])
            worst = max(worst, abs(fd - an) / max(1e-12, abs(an)))
            continue
        arrays = _entries(inputs[p])
        for k, arr in enumerate(arrays):
            for _ in range(per_array):
                idx = tuple(int(rng.integers(s)) for s in arr.shape)
                vals = []
                for sign in (+1, -1):
                    new = [a.copy() for a in arrays]
                    new[k][idx] += sign * h
                    vals.append(fn(**dict(inputs, **{p: new if isinstance(inputs[p], list) else new[0]}))[0])
                fd = (vals[0] - vals[1]) / (2 * h)
                g = _entries(grads[p])[k]
                an = float(g[idx])
                worst = max(worst, abs(fd - an) / max(1e-12, float(np.max(np.abs(g)))))
    return worst


def self_check(rtol=1e-9, fd_tol=1e-6):
    rng = np.random.default_rng(1234)
    failures = 0
    print(f"{'model':<18}{'size':<38}{'vs generated':>14}{'at kinks':>10}{'vs central FD':>15}")
    for name, size in _small_cases():
        gen = load_generated(name)
        hand = HANDWRITTEN[name]
        row, problems = [], []
        for seed in range(3):
            inputs = make_inputs(name, size, seed=seed)
            worst, probs = compare(hand(**inputs), gen.loss_and_grad(**inputs), rtol)
            problems += probs
            row.append(worst)
        kink_inputs = _with_kinks(name, make_inputs(name, size, seed=99))
        kink, probs = compare(hand(**kink_inputs), gen.loss_and_grad(**kink_inputs), rtol)
        problems += [f"(kinks) {p}" for p in probs]
        fd = finite_difference_check(hand, make_inputs(name, size, seed=7), gen.PARAMETERS, rng)
        if fd > fd_tol:
            problems.append(f"finite differences: max relative error {fd:.2e} > {fd_tol:g}")
        label = ", ".join(f"{k}={v}" for k, v in size.items())
        print(f"{name:<18}{label:<38}{max(row):>14.1e}{kink:>10.1e}{fd:>15.1e}"
              + ("  FAIL" if problems else ""))
        for p in problems:
            print(f"    {p}")
        failures += bool(problems)
    print(f"errors are max |hand - generated| / max |generated| per array (rtol {rtol:g}); "
          "FD: 3 random entries per parameter array (layer), step 1e-6, error relative to the "
          f"array's largest gradient entry, tolerance {fd_tol:g}")
    return failures


if __name__ == "__main__":
    sys.exit(1 if self_check() else 0)
