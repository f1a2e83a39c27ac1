"""The catalogue of models from the source notes: the single source for ``generated/`` and the tests.

Each entry is a module in ``symgrad/models`` with a ``build() -> Model``;
adding an entry here adds its generated module, its checks and its tests.
"""
from __future__ import annotations

import importlib

from .errors import ModelError
from .model import Model

CATALOGUE: dict[str, str] = {
    "two_branch_crelu": "symgrad.models.two_branch_crelu",
}


def names() -> list[str]:
    return list(CATALOGUE)


def build(name: str) -> Model:
    """The catalogue model called ``name``."""
    if name not in CATALOGUE:
        raise ModelError(f"unknown model {name!r}; the catalogue has: {', '.join(CATALOGUE)} "
                         "(or give the path of a .py file that defines a model)")
    return importlib.import_module(CATALOGUE[name]).build()
