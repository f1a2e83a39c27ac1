"""A recurrence unrolled for a fixed number of steps, its weights shared.

``unroll(m, step, state, steps, name="h")`` calls ``step(t, state)`` for
t = 1 .. steps, each time defining the new state as the named intermediate
``h_t`` of ``m`` (``m.define(f"{name}_{t}", ...)``), and returns the states
``[h_1, ..., h_T]``. Parameters are shared simply because ``step`` uses the
same ``Tensor`` objects at every step: the chain rule then sums each one's
contributions over the steps (backpropagation through time)::

    >>> from symgrad import Model, tanh, sum_squares
    >>> m = Model("rnn")
    >>> k, n = m.dims("k n")
    >>> W, h0 = m.parameter("W", (k, k)), m.constant("h0", (k, n))
    >>> states = unroll(m, lambda t, h: tanh(W @ h), h0, 3)
    >>> [s.name for s in states]
    ['h_1', 'h_2', 'h_3']
"""
from __future__ import annotations

import numbers
from typing import Callable

from symgrad.model.dsl import TensorExpr, as_tensor, same_size, show_shape
from symgrad.errors import ModelError, ShapeError


def unroll(m, step: Callable, state, steps: int, name: str = "h") -> list:
    """The states ``[name_1, ..., name_steps]`` of ``state_t = step(t, state_{t-1})``, each a named
    intermediate of ``m`` (a ``Model``, or anything with its ``define``) of the initial state's shape."""
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ModelError(f"unroll {name!r}: steps must be a positive integer, got {steps!r}")
    state = as_tensor(state)
    states = []
    for t in range(1, int(steps) + 1):
        new = step(t, state)
        if not isinstance(new, TensorExpr):
            raise ModelError(f"unroll {name!r}: step({t}, state) returned {type(new).__name__}, "
                             "not a tensor expression")
        if len(new.shape) != len(state.shape) or not all(map(same_size, new.shape, state.shape)):
            raise ShapeError(f"unroll {name!r}: step({t}, state) has shape {show_shape(new.shape)}, "
                             f"the state {show_shape(state.shape)}")
        state = m.define(f"{name}_{t}", new)
        states.append(state)
    return states
