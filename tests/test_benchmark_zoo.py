"""The benchmark's zoo: every zoo model has hand-written NumPy and peers that agree with the
generated code, a floor, peak-memory measures and its own section of docs/benchmarks.md.

The benchmark itself (timing) is a script, benchmarks/bench_peers.py; these tests check what it
relies on, on small shapes whose dimensions all differ, so that a transposed or mis-scaled
hand-written gradient fails.
"""
import sys

import numpy as np
import pytest

from symgrad import catalogue

from .conftest import ROOT, require

sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_peers  # noqa: E402
import handwritten  # noqa: E402
import handwritten_zoo  # noqa: E402
import implementations  # noqa: E402
import memory  # noqa: E402
import peers  # noqa: E402
import peers_zoo  # noqa: E402
import report  # noqa: E402

ZOO = [name for name in catalogue.names() if catalogue.CATALOGUE[name][0].endswith(".zoo")]


def test_every_zoo_model_is_benchmarked():
    assert ZOO, "the catalogue lists no zoo model"
    for table in (bench_peers.ZOO_SIZES, handwritten_zoo.HANDWRITTEN_ZOO, handwritten_zoo.SMALL, peers_zoo.MODELS):
        assert sorted(table) == sorted(ZOO)


@pytest.mark.parametrize("name", ZOO)
def test_benchmark_sizes_fit_the_model_and_all_dimensions_differ(name):
    sizes = {**bench_peers.ZOO_SIZES[name], "check": handwritten_zoo.SMALL[name]}
    assert set(bench_peers.ZOO_SIZES[name]) == {"small", "medium"}
    generated = handwritten.load_generated(name)
    for size_name, size in sizes.items():
        assert len(set(size.values())) == len(size), (size_name, size)
        if size_name != "medium":           # the generated module checks every input's shape
            generated.loss_and_grad(**handwritten.make_inputs(name, size, seed=0))


@pytest.mark.parametrize("name", ZOO)
def test_handwritten_matches_generated_and_finite_differences(name):
    generated = handwritten.load_generated(name)
    hand = handwritten_zoo.HANDWRITTEN_ZOO[name]
    for seed in (0, 1):
        inputs = handwritten.make_inputs(name, handwritten_zoo.SMALL[name], seed=seed)
        _, problems = handwritten.compare(hand(**inputs), generated.loss_and_grad(**inputs), rtol=1e-9)
        assert not problems, problems
    inputs = handwritten.make_inputs(name, handwritten_zoo.SMALL[name], seed=7)
    error = handwritten.finite_difference_check(hand, inputs, generated.PARAMETERS, np.random.default_rng(0))
    assert error < 1e-6


@pytest.mark.parametrize("name", ZOO)
def test_the_comparison_catches_a_wrong_gradient(name):
    """A gradient off by one part in a million in one entry (or transposed) is reported."""
    inputs = handwritten.make_inputs(name, handwritten_zoo.SMALL[name], seed=0)
    want = handwritten.load_generated(name).loss_and_grad(**inputs)
    value, grads = want
    for parameter, grad in grads.items():
        if np.ndim(grad) == 0:
            wrong = grad * (1 + 1e-6) + 1e-12
        else:
            wrong = grad.copy()
            wrong.flat[-1] += 1e-6 * np.max(np.abs(grad))
        _, problems = handwritten.compare((value, {**grads, parameter: wrong}), want, rtol=1e-9)
        assert problems, parameter
        if np.ndim(grad) == 2 and grad.shape[0] != grad.shape[1]:
            _, problems = handwritten.compare((value, {**grads, parameter: grad.T}), want, rtol=1e-9)
            assert problems, parameter


@pytest.mark.parametrize("peer", peers.PEERS)
@pytest.mark.parametrize("name", ZOO)
def test_peer_matches_generated(name, peer):
    require(peer)
    inputs = handwritten.make_inputs(name, handwritten_zoo.SMALL[name], seed=0)
    call, to_numpy, peak = peers.make_peer(peer, name, inputs)
    _, problems = handwritten.compare(to_numpy(call()), handwritten.load_generated(name).loss_and_grad(**inputs),
                                      rtol=1e-8)
    assert not problems, problems
    nbytes, measure = peak()
    assert nbytes > 0 and measure in (memory.TRACEMALLOC, memory.XLA, memory.TORCH_PROFILER)


@pytest.mark.parametrize("name", ZOO)
def test_floor_runs_its_products_reads_and_writes(name):
    inputs = handwritten.make_inputs(name, handwritten_zoo.SMALL[name], seed=0)
    peers.floor(name, inputs)()
    gradients = handwritten.load_generated(name).loss_and_grad(**inputs)[1].values()
    everything = sum(a.nbytes for a in inputs.values() if isinstance(a, np.ndarray)) \
        + sum(g.nbytes for g in gradients if isinstance(g, np.ndarray))
    if name in ("batch_norm", "layer_norm"):          # no products: every input read, every gradient written
        assert peers.floor_bytes(name, inputs) == everything
    elif name == "residual_block":     # T, b1, b2 are no product's operands (read); no product has
        read = sum(inputs[k].nbytes for k in ("T", "b1", "b2"))        # b1's or b2's shape (written)
        assert peers.floor_bytes(name, inputs) == read + inputs["b1"].nbytes + inputs["b2"].nbytes
    else:
        assert 0 < peers.floor_bytes(name, inputs) < everything
    flops = peers.floor_flops(name, inputs)
    assert flops == 0 if name in ("batch_norm", "layer_norm") else flops > 0
    if name == "residual_block":             # six products of D x H x N each
        s = handwritten_zoo.SMALL[name]
        assert flops == 12 * s["D"] * s["H"] * s["N"]


def test_every_implementation_is_checked_and_measured():
    """The worker's implementations at a small size: every one made, checked, with a peak that
    at least holds its outputs (the NumPy measures count the returned gradients)."""
    name = "layer_norm"
    inputs = handwritten.make_inputs(name, handwritten_zoo.SMALL[name], seed=0)
    runners, missing = bench_peers.implementations(name, inputs)
    assert set(runners) | set(missing) == set(implementations.KEYS)
    gradient_bytes = sum(a.nbytes for a in handwritten.load_generated(name).loss_and_grad(**inputs)[1].values())
    for key, runner in runners.items():
        nbytes, _ = runner.peak()
        assert nbytes >= gradient_bytes, key


def test_a_missing_backend_module_is_left_out_naming_its_file():
    with pytest.raises(implementations.Unavailable, match="generated/layer_norm_nosuchbackend.py not found"):
        implementations.generated_module("_nosuchbackend")("layer_norm", {})


def _row(model, size_name, group, other_cpu, **extra):
    keys = implementations.KEYS
    return {"model": model, "size_name": size_name, "size": "N=32 D=16", "rounds": 5, "other_cpu": other_cpu,
            "missing": {}, "ms": {k: 1.0 for k in keys}, "pair": {k: 1.5 for k in keys}, "floor_gflops": 0.0,
            "group": group, **extra}


def test_report_has_a_zoo_section_labeled_with_its_conditions():
    measured = dict(date="2026-12-01", mode="quick", inputs_mb=0.5, threads="BLAS and torch 1, XLA one", clock="CPU time",
                    peak_mb={k: 0.25 for k in implementations.KEYS},
                    peak_measure={k: memory.TRACEMALLOC for k in implementations.KEYS})
    results = {"env": {"cpus": 2, "blas": "", "versions": {}}, "mode": "quick",
               "cases": [_row("mlp_mse", "small", "catalogue", 0.0) | {"group": "catalogue"},
                         _row("layer_norm", "small", "zoo", 0.4, **measured),
                         _row("layer_norm", "medium", "zoo", 0.01, **measured)]}
    text = report.markdown(results)
    zoo = text.split("## The zoo", 1)[1]
    assert "Measured 2026-12-01 (quick mode; threads: BLAS and torch 1, XLA one; clock: CPU time)" in zoo
    assert "on a date not recorded (unrecorded mode; clock: wall time)" in text     # a row from before clocks were recorded
    assert "a busy machine" in zoo and "up to 40%" in zoo
    assert "| layer_norm | small: N=32 D=16 | 1.000 (busy) | " in zoo
    assert "| layer_norm | medium: N=32 D=16 | 0.5 | " + " | ".join("0.25" for _ in implementations.KEYS) in zoo
    assert "at least 0.8x jax.jit's speed at medium sizes | 1 of 1 |" in zoo
    assert "1 of these 1 rows were measured before the floor had its reads and writes" in text
    assert text.index("## Gradient time") < text.index("## The zoo")
    for heading in implementations.HEADINGS.values():
        assert heading in zoo
