"""Shared fixtures: tests come from the catalogue, so adding a model adds its tests."""
from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path

import pytest

from symgrad import catalogue
from symgrad.differentiate.chain_rule import derive
from symgrad.cli import import_generated

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "generated"


@pytest.fixture(params=catalogue.names())
def catalogue_name(request) -> str:
    return request.param


@pytest.fixture
def model(catalogue_name):
    return catalogue.build(catalogue_name)


@pytest.fixture
def derivation(model):
    return derive(model)


@pytest.fixture
def generated(catalogue_name):
    """The committed generated module of a catalogue model."""
    return import_generated(GENERATED / f"{catalogue_name}.py")


def require(module: str):
    """Import an optional test tool: skip without it on a developer machine, fail under CI=true."""
    if os.environ.get("CI") == "true":
        return importlib.import_module(module)
    return pytest.importorskip(module)


def require_program(name: str) -> str:
    """The path of a program the test needs: skip without it on a developer machine, fail under CI=true."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed, and CI must run this test (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return path
