"""The catalogue and zoo models' loss and gradient in other autodiff systems, and a NumPy "floor".

For each catalogue model (see handwritten.py) and each zoo model (the losses in peers_zoo.py),
the same loss as generated/<name>.py, written once as a backend-neutral function of a small
namespace of ops, and differentiated by:

- jax:      jax.jit(jax.value_and_grad(loss)), float64 (jax_enable_x64), compiled ahead of
            time in make_peer; call() blocks until the result is ready. XLA's CPU thread
            pool is left as it is.
- torch:    float64 tensors (sharing memory with the NumPy inputs), requires_grad only on
            parameters, torch.autograd.grad (no .grad accumulation), eager mode;
            torch.set_num_threads(blas_threads()).
- autograd: HIPS autograd's value_and_grad on the NumPy inputs.

and a "floor": the matrix products the forward and backward pass need (right shapes and
operands, intermediates replaced by random arrays made once; gaussian_nll also its one
inverse), plus one read of every array input (``np.vdot(a, a)``: one pass, one call) and one
write of every gradient (a fresh array of its shape, filled), where no product already reads
that input or writes an array of that gradient's shape: no elementwise work,
reductions or allocation tricks, the hardware floor of one gradient evaluation.

    import peers
    if peers.available("jax") is None:
        call, to_numpy, peak = peers.make_peer("jax", "mlp_mse", inputs)
        result = call()                       # what to time
        loss, grads = to_numpy(result)        # generated module's structure, not timed
        nbytes, measure = peak()              # peak memory, the peer's own measure (memory.py)
    run = peers.floor("mlp_mse", inputs)      # zero-argument callable to time
    flops = peers.floor_flops("mlp_mse", inputs)

Numerics: softmax via log-sum-exp, BCE via softplus (logaddexp) of the logit, the libraries'
sigmoids; finite for pre-activations of 1e3 (autograd's tanh derivative, 1/cosh(x)**2, then
warns of an overflow in cosh but is the right 0). Kinks use each library's natural op; at
exactly 0 or t only torch (relu, clamp) and jax.nn.relu follow the generated convention
(relu'(0) = 0, crelu' = 1 on the closed [0, t]): jnp.clip gives 1/2 at both ends,
anp.maximum 1/2 at 0, anp.clip 0 at both ends. Random inputs never sit on a kink. The
zoo's softmax is each library's own (jax.nn.softmax, torch.softmax; autograd: exp of x less
its log-sum-exp), its log-determinant slogdet's and its Sigma^-1 D a linear solve.

Run as a script to check every peer against the generated modules at small sizes:

    python benchmarks/peers.py
"""
import importlib
import math
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:            # benchmarks/ has no __init__.py
    sys.path.insert(0, str(HERE))
import handwritten  # noqa: E402
import memory  # noqa: E402
import handwritten_zoo  # noqa: E402
import peers_zoo  # noqa: E402

PEERS = ("jax", "torch", "autograd")


# --- the losses, once, over a namespace `o` of ops -------------------------------------------
# Matrix product (@), .T, .shape and + - * / are spelled alike in jax.numpy, torch and
# autograd.numpy; `o` holds the rest: relu, crelu(z, t), sigmoid, tanh, softplus,
# logsumexp_rows and softmax_rows (over axis 1, kept), sum (of all entries), vstack(a, b),
# exp, sqrt, mean(x, axis) (kept), logdet (of a positive definite matrix), solve(A, B).

def _two_branch_crelu(o, X1, X2, Yexp, t, A1, A2, B1, B2, C, d):
    H = o.crelu(o.vstack(A1 @ X1 + B1, A2 @ X2 + B2), t)
    Delta = Yexp - (C @ H + d)
    return o.sum(Delta * Delta) / X1.shape[1]


def _mlp(f):
    def loss(o, X, Ystar, W1, B1, W2, B2):
        R = Ystar - (f(o)(X @ W1 + B1) @ W2 + B2)
        return o.sum(R * R) / (Ystar.shape[0] * Ystar.shape[1])
    return loss


def _hw1_relu_mse(o, x, y, W1, b1, W2, b2):
    r = W2 @ o.relu(W1 @ x + b1) + b2 - y
    return o.sum(r * r)


def _hw1_sigmoid_mse(o, x, y, W1, b1, W2, b2):
    r = o.sigmoid(W2 @ o.sigmoid(W1 @ x + b1) + b2) - y
    return o.sum(r * r)


def _hw1_sigmoid_bce(o, x, y, W1, b1, W2, b2):
    s2 = W2 @ o.sigmoid(W1 @ x + b1) + b2
    # -log(sigmoid(s)) = softplus(-s), -log(1 - sigmoid(s)) = softplus(s)
    return o.sum(y * o.softplus(-s2) + (1.0 - y) * o.softplus(s2)) / y.shape[0]


def _ntk_relu(o, X, r, W, W0, m, lam):
    a = X
    for Wl in W[:-1]:
        a = o.relu(Wl @ a)
    res = math.sqrt(m) * (W[-1] @ a) - r
    reg = sum(o.sum((Wl - W0l) * (Wl - W0l)) for Wl, W0l in zip(W, W0))
    return 0.5 * o.sum(res * res) + 0.5 * m * lam * reg


def _softmax_ce(o, X, Y, Theta):
    a = X
    for T in Theta[:-1]:
        a = o.sigmoid(a @ T.T)
    z = a @ Theta[-1].T
    return -o.sum(Y * (z - o.logsumexp_rows(z))) / X.shape[0]


# name: (loss, its parameters in the generated module's order)
MODELS = {
    "two_branch_crelu": (_two_branch_crelu, ("A1", "A2", "B1", "B2", "C", "d")),
    "mlp_mse": (_mlp(lambda o: o.relu), ("W1", "B1", "W2", "B2")),
    "mlp_mse_sigmoid": (_mlp(lambda o: o.sigmoid), ("W1", "B1", "W2", "B2")),
    "mlp_mse_tanh": (_mlp(lambda o: o.tanh), ("W1", "B1", "W2", "B2")),
    "ntk_relu": (_ntk_relu, ("W",)),
    "softmax_ce": (_softmax_ce, ("Theta",)),
    "hw1_relu_mse": (_hw1_relu_mse, ("W1", "b1", "W2", "b2")),
    "hw1_sigmoid_mse": (_hw1_sigmoid_mse, ("W1", "b1", "W2", "b2")),
    "hw1_sigmoid_bce": (_hw1_sigmoid_bce, ("W1", "b1", "W2", "b2")),
    **peers_zoo.MODELS,
}


# --- the peers -------------------------------------------------------------------------------
def available(peer):
    """None if `peer` can be used here, else a one-line reason."""
    if peer not in PEERS:
        raise ValueError(f"unknown peer {peer!r}; choose from {', '.join(PEERS)}")
    try:
        importlib.import_module(peer)
    except ModuleNotFoundError:
        return f"{peer} not installed"
    except ImportError as exc:
        return f"cannot import {peer}: {exc}"
    return None


def blas_threads():
    """Threads of the BLAS NumPy uses: threadpoolctl's count if installed, else the count set by
    OPENBLAS_NUM_THREADS or OMP_NUM_THREADS, else os.cpu_count()."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
            if os.environ.get(variable, "").isdigit():
                return int(os.environ[variable])
        return os.cpu_count() or 1
    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    # other libraries (torch's MKL) may have loaded a BLAS too: prefer NumPy's own
    own = [p for p in blas if "numpy" in p.get("filepath", "")] or blas
    return max((p["num_threads"] for p in own), default=os.cpu_count() or 1)


def _is_array(value):
    """True for an array input or a list of them (W, W0, Theta), False for a scalar."""
    return isinstance(value, (np.ndarray, list))


def _map_arrays(fn, value):
    """fn applied to an input, or to each matrix of a list input."""
    return [fn(a) for a in value] if isinstance(value, list) else fn(value)


def _flatten(values):
    """Parameter values (or their gradients) in order, list parameters expanded."""
    return [leaf for v in values for leaf in (v if isinstance(v, (list, tuple)) else [v])]


def _result(names, params, value, leaves, to_array):
    """(float, {parameter: gradient}) shaped like `params` (the NumPy parameter values):
    a list parameter gets a list, a scalar parameter a float, a matrix an ndarray."""
    leaves = iter(leaves)
    grads = {}
    for name, p in zip(names, params):
        if isinstance(p, list):
            grads[name] = [to_array(next(leaves)) for _ in p]
        elif np.ndim(p) == 0:
            grads[name] = float(next(leaves))
        else:
            grads[name] = to_array(next(leaves))
    return float(value), grads


def ops(peer: str) -> SimpleNamespace:
    """The namespace ``o`` the losses (here and in peers_zoo.py) are written over, in ``peer``'s
    spelling: the same functions for jax, torch and HIPS autograd."""
    if peer == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        from jax.scipy.special import logsumexp
        return SimpleNamespace(
            relu=jax.nn.relu, crelu=lambda z, t: jnp.clip(z, 0.0, t), sigmoid=jax.nn.sigmoid,
            tanh=jnp.tanh, softplus=jax.nn.softplus,
            logsumexp_rows=lambda z: logsumexp(z, axis=1, keepdims=True),
            sum=jnp.sum, vstack=lambda a, b: jnp.concatenate((a, b), axis=0),
            exp=jnp.exp, sqrt=jnp.sqrt, mean=lambda x, axis: jnp.mean(x, axis=axis, keepdims=True),
            softmax_rows=lambda z: jax.nn.softmax(z, axis=1),
            logdet=lambda a: jnp.linalg.slogdet(a)[1], solve=jnp.linalg.solve)
    if peer == "torch":
        import torch
        zero = torch.zeros((), dtype=torch.float64)
        return SimpleNamespace(
            relu=torch.relu, crelu=lambda z, t: torch.clamp(z, 0.0, t), sigmoid=torch.sigmoid,
            tanh=torch.tanh, softplus=lambda s: torch.logaddexp(s, zero),
            logsumexp_rows=lambda z: torch.logsumexp(z, dim=1, keepdim=True),
            sum=torch.sum, vstack=lambda a, b: torch.cat((a, b), dim=0),
            exp=torch.exp, sqrt=torch.sqrt, mean=lambda x, axis: torch.mean(x, dim=axis, keepdim=True),
            softmax_rows=lambda z: torch.softmax(z, dim=1),
            logdet=lambda a: torch.linalg.slogdet(a)[1], solve=torch.linalg.solve)
    import autograd.numpy as anp
    from autograd.scipy.special import expit, logsumexp
    return SimpleNamespace(
        relu=lambda z: anp.maximum(z, 0.0), crelu=lambda z, t: anp.clip(z, 0.0, t),
        sigmoid=expit, tanh=anp.tanh, softplus=lambda s: anp.logaddexp(0.0, s),
        logsumexp_rows=lambda z: logsumexp(z, axis=1, keepdims=True),
        sum=anp.sum, vstack=lambda a, b: anp.concatenate((a, b), axis=0),
        exp=anp.exp, sqrt=anp.sqrt, mean=lambda x, axis: anp.mean(x, axis=axis, keepdims=True),
        softmax_rows=lambda z: anp.exp(z - logsumexp(z, axis=1, keepdims=True)),
        logdet=lambda a: anp.linalg.slogdet(a)[1], solve=anp.linalg.solve)


def _jax_peer(loss, names, params, consts):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    o = ops("jax")
    arrays = {k: _map_arrays(jnp.asarray, v) for k, v in consts.items() if _is_array(v)}
    scalars = {k: v for k, v in consts.items() if k not in arrays}    # t, m, lam: baked in
    jparams = tuple(_map_arrays(lambda a: jnp.asarray(a, dtype=jnp.float64), v) for v in params)

    def f(params, arrays):
        return loss(o, **dict(zip(names, params)), **arrays, **scalars)

    compiled = jax.jit(jax.value_and_grad(f, argnums=0)).lower(jparams, arrays).compile()

    def call():
        return jax.block_until_ready(compiled(jparams, arrays))

    def to_numpy(result):
        value, grads = result
        return _result(names, params, value, _flatten(grads), np.asarray)
    return call, to_numpy, lambda: memory.xla_peak(compiled)


def _torch_peer(loss, names, params, consts):
    import torch
    torch.set_num_threads(blas_threads())
    o = ops("torch")

    def tensor(v, requires_grad):
        return torch.as_tensor(v, dtype=torch.float64).requires_grad_(requires_grad)

    tparams = tuple(_map_arrays(lambda a: tensor(a, True), v) for v in params)
    leaves = _flatten(tparams)
    kwargs = dict(zip(names, tparams), **{
        k: _map_arrays(lambda a: tensor(a, False), v) if _is_array(v) else v
        for k, v in consts.items()})

    def call():
        value = loss(o, **kwargs)
        return value, torch.autograd.grad(value, leaves)

    def to_numpy(result):
        value, grads = result
        return _result(names, params, value.item(), grads, lambda g: g.numpy())
    return call, to_numpy, lambda: memory.torch_profiler_peak(call)


def _autograd_peer(loss, names, params, consts):
    import autograd
    o = ops("autograd")
    value_and_grad = autograd.value_and_grad(
        lambda params: loss(o, **dict(zip(names, params)), **consts))

    def call():
        return value_and_grad(params)

    def to_numpy(result):
        value, grads = result
        return _result(names, params, value, _flatten(grads), np.asarray)
    return call, to_numpy, lambda: memory.tracemalloc_peak(call)


_PEER_MAKERS = {"jax": _jax_peer, "torch": _torch_peer, "autograd": _autograd_peer}


def make_peer(peer, name, inputs):
    """(call, to_numpy, peak) for model `name` in `peer` on the generated module's keyword `inputs`.

    Conversion (and jax's compilation) happen here, once; call() runs loss and gradient once
    and returns the peer's own result; to_numpy(result) is (float loss, {parameter: gradient})
    in the generated module's structure (list parameters: lists; scalar d: a float); peak()
    is (bytes, measure): one call's peak memory beyond its inputs, by the peer's own measure
    (memory.py: XLA's memory_analysis, torch.profiler, tracemalloc for autograd)."""
    reason = available(peer)
    if reason:
        raise RuntimeError(reason)
    loss, names = MODELS[name]
    params = tuple(inputs[p] for p in names)
    consts = {k: v for k, v in inputs.items() if k not in names}
    return _PEER_MAKERS[peer](loss, names, params, consts)


# --- the floor -------------------------------------------------------------------------------
def _products(name, inputs, make):
    """The floor's products as (np.matmul or np.multiply, (a, b)); intermediates from make(shape).

    Counted: every matrix product of the forward and backward pass, including
    matrix-vector ones and, as broadcasting multiplies (a K = 1 product), the outer products
    the hand-written gradients use. Not counted: reductions (bias gradients, the loss sum,
    the softmax's row sums), elementwise work, concatenation."""
    mm, outer = np.matmul, np.multiply
    if name == "two_branch_crelu":
        # forward Z_i = A_i @ X_i, Y = C @ H; backward dA_i ~ G_i @ X_i.T, dC ~ Delta @ H.T
        X1, X2, A1, A2, C = (inputs[k] for k in ("X1", "X2", "A1", "A2", "C"))
        M, L = A1.shape[0], X1.shape[1]
        H, G1, G2, Delta = make((2 * M, L)), make((M, L)), make((M, L)), make((1, L))
        return [(mm, (A1, X1)), (mm, (A2, X2)), (mm, (C, H)),
                (mm, (G1, X1.T)), (mm, (G2, X2.T)), (mm, (Delta, H.T))]
    if name.startswith("mlp_mse"):
        # forward X @ W1, H @ W2; backward dH = dY @ W2.T, dW1 = X.T @ dZ1, dW2 = H.T @ dY
        X, W1, W2 = inputs["X"], inputs["W1"], inputs["W2"]
        n, (h, o) = X.shape[0], W2.shape
        H, dY, dZ1 = make((n, h)), make((n, o)), make((n, h))
        return [(mm, (X, W1)), (mm, (H, W2)), (mm, (dY, W2.T)), (mm, (X.T, dZ1)), (mm, (H.T, dY))]
    if name.startswith("hw1_"):
        # forward W1 @ x, W2 @ z1; backward dz1 = W2.T @ ds2, outer products dW1 = ds1 x^T,
        # dW2 = ds2 z1^T (broadcasting multiplies, as in handwritten.py)
        x, W1, W2 = inputs["x"], inputs["W1"], inputs["W2"]
        ds, dy = W1.shape[0], W2.shape[0]
        z1, ds1, ds2 = make((ds, 1)), make((ds, 1)), make((dy, 1))
        return [(mm, (W1, x)), (mm, (W2, z1)), (mm, (W2.T, ds2)),
                (outer, (ds1, x.T)), (outer, (ds2, z1.T))]
    if name == "ntk_relu":
        # forward Z_l = W_l @ X_l (hidden layers), f ~ W_last @ X_last; backward
        # dW_last ~ res @ X_last.T, dX_last ~ W_last.T res (outer product, if depth > 1), and per
        # hidden layer dW_l ~ Gz_l @ X_l.T and, except for layer 0 (its input X is constant),
        # dX_l = W_l.T @ Gz_l
        W, n = inputs["W"], inputs["X"].shape[1]
        acts = [inputs["X"]] + [make((Wl.shape[0], n)) for Wl in W[:-1]]    # X_l: input of W_l
        Gz = [make((Wl.shape[0], n)) for Wl in W[:-1]]
        res = make((1, n))
        products = [(mm, (Wl, a)) for Wl, a in zip(W, acts)]
        products.append((mm, (res, acts[-1].T)))
        if len(W) > 1:
            products.append((outer, (W[-1].T, res)))
        for l in range(len(W) - 2, -1, -1):
            products.append((mm, (Gz[l], acts[l].T)))
            if l > 0:
                products.append((mm, (W[l].T, Gz[l])))
        return products
    if name == "softmax_ce":
        # forward z_l = a_l @ Theta_l.T; backward dTheta_l = dz_l.T @ a_l for every layer and,
        # except for layer 0 (its input X is constant), da_l = dz_l @ Theta_l
        Theta, M = inputs["Theta"], inputs["X"].shape[0]
        acts = [inputs["X"]] + [make((M, T.shape[1])) for T in Theta[1:]]  # a_l: input of Theta_l
        dz = [make((M, T.shape[0])) for T in Theta]
        products = [(mm, (a, T.T)) for a, T in zip(acts, Theta)]
        for l in range(len(Theta) - 1, -1, -1):
            products.append((mm, (dz[l].T, acts[l])))
            if l > 0:
                products.append((mm, (dz[l], Theta[l])))
        return products
    return peers_zoo.products(name, inputs, make)


def _arrays(values):
    """Every array among `values`, list inputs expanded; scalars left out."""
    return [a for v in values for a in (v if isinstance(v, list) else [v]) if isinstance(a, np.ndarray)]


def _result_shape(op, operands):
    if op is np.linalg.inv:
        return operands[0].shape
    a, b = operands
    return (a.shape[0], b.shape[1]) if op is np.matmul else np.broadcast_shapes(a.shape, b.shape)


def _reads_and_writes(name, inputs, products):
    """The floor's reads and writes beyond its products: every array input that no product
    reads (a transposed view counts as its array), and every array gradient whose shape no
    product's result has (each product result stands for one gradient at most)."""
    operands = {id(a if a.base is None else a.base) for _, ops in products for a in ops}
    reads = [a for a in _arrays(inputs.values()) if id(a) not in operands]
    results = [_result_shape(op, ops) for op, ops in products]
    writes = []
    for gradient in _arrays(inputs[p] for p in MODELS[name][1]):
        if gradient.shape in results:
            results.remove(gradient.shape)
        else:
            writes.append(gradient)
    return reads, writes


def floor(name, inputs):
    """Zero-argument callable running the matrix products of one gradient evaluation of model
    `name` (see _products for which; random intermediates are made here, once), then one read
    of every array input and one write of every array gradient (a fresh array, filled) that
    the products do not already read or write (_reads_and_writes)."""
    products = _products(name, inputs, np.random.default_rng(0).standard_normal)
    reads, written = _reads_and_writes(name, inputs, products)
    writes = [(a.shape, a.dtype) for a in written]

    def run():
        for op, operands in products:
            op(*operands)
        for a in reads:
            np.vdot(a, a)
        for shape, dtype in writes:
            np.empty(shape, dtype).fill(0.0)
    return run


def floor_flops(name, inputs):
    """Flops of floor(name, inputs)'s products: 2*m*k*n per (m, k) @ (k, n) product, 2*m*n per
    outer product (counted as a K = 1 matrix product), 2*n**3 per inverse (an LU
    factorization and the inverse from it); the reads and writes are not counted."""
    total = 0
    for op, operands in _products(name, inputs, np.empty):
        if op is np.linalg.inv:
            total += 2 * operands[0].shape[0] ** 3
        else:
            a, b = operands
            total += 2 * a.shape[0] * b.shape[1] * (a.shape[1] if op is np.matmul else 1)
    return float(total)


def floor_bytes(name, inputs):
    """Bytes floor(name, inputs) reads and writes besides its products (_reads_and_writes)."""
    reads, writes = _reads_and_writes(name, inputs, _products(name, inputs, np.empty))
    return float(sum(a.nbytes for a in reads + writes))


# --- self-check ------------------------------------------------------------------------------
RTOL = 1e-8
SMALL = {   # every dimension different
    "two_branch_crelu": {"N": 5, "M": 4, "L": 7},
    "mlp_mse": {"n": 6, "p": 5, "h": 7, "o": 3},
    "hw1": {"dx": 5, "ds": 7, "dy": 4},
    "ntk_relu": {"d": 5, "n": 6, "h": 7},
    "softmax_ce": {"M": 6, "N": 5, "P": 4, "H": 7},
    **handwritten_zoo.SMALL,
}
DEPTHS = (1, 2, 3)


def _small_cases():
    for name in MODELS:
        key = "mlp_mse" if name.startswith("mlp_mse") else "hw1" if name.startswith("hw1") else name
        if name in ("ntk_relu", "softmax_ce"):
            for depth in DEPTHS:
                yield name, dict(SMALL[key], depth=depth)
        else:
            yield name, dict(SMALL[key])


def self_check():
    failures = 0
    reasons = {peer: available(peer) for peer in PEERS}
    for peer, reason in reasons.items():
        if reason:
            print(f"skipping {peer}: {reason}")
    for name, size in _small_cases():
        inputs = handwritten.make_inputs(name, size, seed=0)
        want = handwritten.load_generated(name).loss_and_grad(**inputs)
        label = f"{name:<17}{', '.join(f'{k}={v}' for k, v in size.items()):<30}"
        for peer in PEERS:
            if reasons[peer]:
                continue
            call, to_numpy, _ = make_peer(peer, name, inputs)
            worst, problems = handwritten.compare(to_numpy(call()), want, RTOL)
            print(f"{label}{peer:<10}max rel diff {worst:.1e}" + ("  FAIL" if problems else ""))
            for p in problems:
                print(f"    {p}")
            failures += bool(problems)
        floor(name, inputs)()
        print(f"{label}{'floor':<10}ran {len(_products(name, inputs, np.empty))} products, "
              f"{floor_flops(name, inputs):.0f} flops")
    print(f"max rel diff: worst |peer - generated| / max |generated| over the loss and each "
          f"gradient array (rtol {RTOL:g}), float64, seed 0")
    return failures


if __name__ == "__main__":
    sys.exit(1 if self_check() else 0)
