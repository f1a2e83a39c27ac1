"""Helpers for the rows of docs/errors.md: run the command line, or catch a message."""
import subprocess
import sys

from symgrad import ModelError

from .conftest import ROOT


def cli(tmp_path, *args, **kwargs):
    """(exit code, stderr) of ``python -m symgrad ARGS`` in ``tmp_path``; never a traceback."""
    result = subprocess.run([sys.executable, "-m", "symgrad", *args], capture_output=True, text=True,
                            cwd=tmp_path, env={"PYTHONPATH": str(ROOT), "PATH": ""}, **kwargs)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stderr.strip()


def message_of(call):
    """The message of the ValueError or ModelError that ``call()`` raises, else "no error"."""
    try:
        call()
    except (ValueError, ModelError) as error:
        return str(error)
    return "no error"
