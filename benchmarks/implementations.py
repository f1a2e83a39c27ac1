"""Every implementation the benchmark times, in the order of the tables' columns: one entry each.

An entry is its key (in docs/benchmarks.json), its column heading, and how to make it for
a model and its inputs: a `Runner` with the call to time, how to read its result (to check
it against the generated code before timing; None for the floor, which computes no
gradient) and how to measure its peak memory (memory.py). The first entry, the generated
NumPy module, is the reference every other is checked against and divided by.

Adding an implementation adds its column to every table of docs/benchmarks.md and to the
plot; for a backend module with the generated NumPy module's interface it is one line, e.g.
the numba backend (``generated/NAME_numba.py``), after the generated entry:

    Implementation("numba", "numba", generated_module("_numba")),

A model whose module is missing gets a dash in that column and a note naming the file.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import handwritten
import memory
import peers


class Unavailable(Exception):
    """An implementation that cannot run here (a peer not installed, a module not generated)."""


class Runner(NamedTuple):
    call: Callable[[], object]                       # one loss and gradient: what is timed
    to_numpy: Callable[[object], tuple] | None       # call()'s result as (loss, {parameter: grad})
    peak: Callable[[], tuple[float, str]]            # (bytes beyond the inputs, measure's name)


@dataclass(frozen=True)
class Implementation:
    key: str
    heading: str
    make: Callable[[str, dict], Runner]              # (model, inputs); raises Unavailable


def generated_module(suffix=""):
    """A generated module's loss_and_grad: generated/NAME{suffix}.py, timed as it is."""
    def make(name, inputs):
        path = handwritten.generated_path(name, suffix)
        if not path.is_file():
            raise Unavailable(f"{path.parent.name}/{path.name} not found")
        module = handwritten.load_generated(name, suffix=suffix)
        function, workspace = module.loss_and_grad, getattr(module, "_WORKSPACE", {})
        call = lambda: function(**inputs)                                  # noqa: E731
        return Runner(call, lambda result: result, lambda: memory.tracemalloc_peak(call, workspace.clear))
    return make


def _handwritten(name, inputs):
    function = handwritten.HANDWRITTEN[name]
    call = lambda: function(**inputs)                                      # noqa: E731
    return Runner(call, lambda result: result, lambda: memory.tracemalloc_peak(call))


def _floor(name, inputs):
    call = peers.floor(name, inputs)
    return Runner(call, None, lambda: memory.tracemalloc_peak(call))


def peer(which):
    """jax, torch or HIPS autograd differentiating the plain loss (peers.py)."""
    def make(name, inputs):
        reason = peers.available(which)
        if reason:
            raise Unavailable(reason)
        return Runner(*peers.make_peer(which, name, inputs))
    return make


IMPLEMENTATIONS = (
    Implementation("generated", "generated", generated_module()),
    Implementation("handwritten", "hand-written", _handwritten),
    Implementation("floor", "floor", _floor),
    Implementation("jax", "jax.jit", peer("jax")),
    Implementation("torch", "torch", peer("torch")),
    Implementation("autograd", "autograd", peer("autograd")),
)
REFERENCE = IMPLEMENTATIONS[0].key
KEYS = tuple(i.key for i in IMPLEMENTATIONS)
HEADINGS = {i.key: i.heading for i in IMPLEMENTATIONS}
