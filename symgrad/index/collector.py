"""Fewer full garbage collections while symgrad builds SymPy trees.

Deriving and generating build millions of SymPy nodes, and most of them live until the module
is written (SymPy's caches, the terms of every adjoint, the lowered statements). Python's
collector promotes them to its oldest generation and then walks all of it, with every object
SymPy and NumPy made at import, each time ten younger collections have run: on a 200-intermediate
model those few full walks were a fifth of the CPU time while finding next to nothing to free.
``fewer_full_collections`` raises the oldest generation's threshold while it is open (the younger
generations, which do free the short-lived temporaries, are left as they are) and puts the
thresholds back on the way out, also when the body raises. Nested uses restore in turn.

    >>> import gc
    >>> before = gc.get_threshold()
    >>> with fewer_full_collections():
    ...     gc.get_threshold()[2] >= FULL_COLLECTION_EVERY
    True
    >>> gc.get_threshold() == before
    True

It also decorates: ``@fewer_full_collections()`` opens it for each call.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager

FULL_COLLECTION_EVERY = 100     # younger collections per full one (Python's default is 10)


@contextmanager
def fewer_full_collections():
    """Python's full collection at most once per ``FULL_COLLECTION_EVERY`` younger ones, for the
    block; a threshold already higher is kept. The thresholds are restored on exit."""
    before = gc.get_threshold()
    youngest, middle, oldest = before
    gc.set_threshold(youngest, middle, max(oldest, FULL_COLLECTION_EVERY))
    try:
        yield
    finally:
        gc.set_threshold(*before)
