"""What a scan of a model's definitions found, remembered until the model gains a definition.

Reusing forward values (``reuse``, ``softmax_value``) reads every definition of the model, and
is asked for each expression the module plan prints: scanning anew each time made generating
quadratic in the number of intermediates. A model's definitions are only ever added to (every
name is new, ``Model._check_new_name``), so a scan stays true while their number and last name
are what they were when it ran; models are held weakly, so one that is dropped takes its scans
with it.
"""
from __future__ import annotations

import weakref
from typing import Callable, TypeVar

Found = TypeVar("Found")

_SCANS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def remembered(model, key, scan: Callable[[], Found]) -> Found:
    """``scan()``, run once per state of ``model``'s definitions for each ``key``."""
    definitions = model.definitions
    stamp = (len(definitions), next(reversed(definitions), None))
    scans = _SCANS.setdefault(model, {})
    if key not in scans or scans[key][0] != stamp:
        scans[key] = (stamp, scan())
    return scans[key][1]
