"""The ``symgrad`` command line.

    symgrad list                                   the catalogue
    symgrad show NAME|PATH.py                      definitions, adjoints, collapsed gradients
    symgrad generate NAME|PATH.py ... [-o DIR]     write generated/<model>.py
    symgrad generate --all [--check]               every catalogue model; --check only compares
    symgrad generate NAME|--all --hvp [--check]    NAME_hvp.py: also hvp() and hessian() (second order)
    symgrad generate NAME|--all --hvp --backend torch|jax|numba   NAME_hvp_torch.py, _hvp_jax.py, _hvp_numba.py
    symgrad verify [NAME|PATH.py ...|--all]        regenerate and check against finite differences
    symgrad verify [NAME|PATH.py ...|--all] --hvp  Hessian-vector products: differences, autograd
    symgrad check NAME|PATH.py --wrt P --formula F  validate a hand-derived gradient formula
    symgrad latex NAME|PATH.py [--format tex|md|pdf]  the derivation, step by step
    symgrad latex --all [--check]                  every catalogue model into derivations/

show, generate, verify, check and latex take a loss typed on one line in place of NAME|PATH.py:
``--loss TEXT --param NAME=DIMS --const NAME=DIMS [--name NAME]`` (``symgrad.one_line``).

Errors are one line on stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import time
import warnings
from pathlib import Path

from symgrad.model import catalogue
from symgrad.emit.backends import BACKENDS, backend, render_backend
from symgrad.gradcheck import DEPTHS, RESOLUTION_MARGIN, TOLERANCE, check_module
from symgrad.differentiate.chain_rule import derive
from symgrad.index.conventions import adjoint_name
from symgrad.index.text import formula_text
from symgrad.emit.files import render_module, write_all, write_atomic, write_atomic_bytes
from symgrad.errors import SymgradError, SymgradWarning, counted
from symgrad.model.one_line import OneLineLoss
from symgrad.differentiate.reuse import reuse_forward_values
from symgrad.model.sources import is_path, load
from symgrad.emit.layer_plan import plan_for
from symgrad.emit.backend_hvp import render_backend_hvp, require_hvp_backend
from symgrad.emit.numba_hvp import render_numba_hvp
from symgrad.emit.layer_hvp_plan import render_hvp_module
from symgrad.hvpcheck import HVP_DEPTHS, check_hvp_module

DEFAULT_OUT = "generated"
DEFAULT_DERIVATIONS = "derivations"


def _one_line(args) -> OneLineLoss | None:
    """The loss typed on the command line (``--loss`` ...), or None."""
    if args.loss is None:
        for flag, given in (("--param", args.params), ("--const", args.consts), ("--name", args.name)):
            if given:
                raise SymgradError(f"{flag} goes with --loss TEXT (a loss typed on one line)")
        return None
    return OneLineLoss(args.loss, tuple(args.params or ()), tuple(args.consts or ()), args.name)


def _model_spec(args):
    """The one model a command is given: a name, a file, or a loss typed on one line."""
    one_line = _one_line(args)
    if one_line is not None and (args.model or getattr(args, "all", False)):
        raise SymgradError("give either a model (a name or a file) or --loss TEXT, not both")
    if one_line is None and not args.model:
        raise SymgradError("name a model (or a model file), or type a loss with --loss TEXT "
                           "--param NAME=DIMS")
    return one_line or args.model


def _specs(args) -> list:
    one_line = _one_line(args)
    if one_line is not None:
        if args.models or args.all:
            raise SymgradError("give either models (names or files, or --all) or --loss TEXT, not both")
        return [one_line]
    specs = list(args.models)
    if args.all:
        specs += [n for n in catalogue.names() if n not in specs]
    if not specs:
        raise SymgradError("name at least one model (or a model file), or use --all")
    return specs


def _shown(spec) -> str:
    """A model's name, its file's path, or the arguments of a loss typed on one line, each quoted
    for a POSIX shell, as a regenerating command shows them."""
    import shlex
    if isinstance(spec, OneLineLoss):
        return " ".join(shlex.quote(argument) for argument in spec.arguments())
    return spec if not is_path(spec) else shlex.quote(Path(spec).as_posix())


def _command(spec) -> str:
    return f"symgrad generate {_shown(spec)}"


def _load(spec):
    """The model of a name, a file or a loss typed on one line."""
    if isinstance(spec, OneLineLoss):
        return spec.build()
    looks_typed = not spec.endswith(".py") and any(c in spec for c in "()@*+ ")
    if looks_typed and spec not in catalogue.names() and not Path(spec).is_file():
        raise SymgradError(f"{spec!r} is neither a catalogue model nor a model file; to type a loss, give "
                           "it as --loss TEXT, with --param NAME=DIMS and --const NAME=DIMS for its tensors")
    return load(spec)


def generate_one(spec, out_dir: Path):
    """Derive and render one model: (model, derivation, target path, text, seconds)."""
    start = time.perf_counter()
    model = _load(spec)
    derivation = derive(model)
    text = render_module(plan_for(derivation, _command(spec)))
    return model, derivation, out_dir / f"{model.name}.py", text, time.perf_counter() - start


def generate_backends(spec, out_dir: Path, backends) -> list:
    """Derive one model once and render it for each backend: [(target path, text, seconds)]
    (``backends.BACKENDS``: NumPy's ``NAME.py``, ``NAME_torch.py``, ``NAME_jax.py``)."""
    start = time.perf_counter()
    model = _load(spec)
    derivation = derive(model)
    out, derived = [], time.perf_counter() - start
    for name in backends:
        start = time.perf_counter()
        command = _command(spec) + ("" if name == "numpy" else f" --backend {name}")
        text = render_backend(derivation, command, name)
        out.append((out_dir / f"{model.name}{backend(name).suffix}.py", text,
                    derived + time.perf_counter() - start))
    return out


HVP_SUFFIX = "_hvp"     # symgrad generate NAME --hvp writes NAME_hvp.py


def hvp_outputs(specs, out_dir: Path):
    """(model, derivation, target path, text, seconds) of each ``--hvp`` module."""
    for spec in specs:
        start = time.perf_counter()
        model = _load(spec)
        derivation = derive(model)
        text = render_hvp_module(derivation, _command(spec) + " --hvp")
        yield model, derivation, out_dir / f"{model.name}{HVP_SUFFIX}.py", text, time.perf_counter() - start


def backend_hvp_outputs(specs, out_dir: Path, name: str):
    """(target path, text, seconds) of each torch, JAX or numba ``--hvp`` module (``NAME_hvp_torch.py``,
    ``NAME_hvp_jax.py``, ``NAME_hvp_numba.py``)."""
    require_hvp_backend(name)
    for spec in specs:
        start = time.perf_counter()
        model = _load(spec)
        derivation = derive(model)
        command = _command(spec) + f" --hvp --backend {name}"
        text = render_numba_hvp(derivation, command) if name == "numba" else render_backend_hvp(derivation, command, name)
        yield out_dir / f"{model.name}{HVP_SUFFIX}{backend(name).suffix}.py", text, time.perf_counter() - start


def generate_hvp(args, out_dir: Path, specs) -> int:
    if args.backend not in (None, "numpy"):
        outputs = ((path, text, f" ({seconds:.2f} s)")
                   for path, text, seconds in backend_hvp_outputs(specs, out_dir, args.backend))
        suffix = f" --hvp --backend {args.backend}"
    else:
        outputs = ((path, text, f" ({seconds:.2f} s)")
                   for _, _, path, text, seconds in hvp_outputs(specs, out_dir))
        suffix = " --hvp"
    regenerate = _command(specs[0]) + suffix if isinstance(specs[0], OneLineLoss) else "symgrad generate --all" + suffix
    return write_or_check(outputs, out_dir, args.check, regenerate, args.force)


def verify_hvp(args, out_dir: Path, specs) -> int:
    rows, failed, unresolved = [], False, []
    for model, derivation, path, text, seconds in hvp_outputs(specs, out_dir):
        write_or_check([(path, text, None)], out_dir, False, "", args.force)
        for check in check_hvp_module(derivation, import_generated(path), points=args.points):
            failed |= check.failed or check.unresolved
            for against, count, present in (("differences", check.unresolved_differences, True),
                                            ("autograd", check.unresolved_autograd, check.autograd)):
                if count and present:
                    unresolved.append(f"{model.name} {check.parameter} vs {against}: {count} of {check.points}")
            cells = [f"{e:.2e}" if not math.isnan(e) else "unresolved" if count == check.points and present else "n/a"
                     for e, count, present in ((check.against_differences, check.unresolved_differences, True),
                                               (check.against_autograd, check.unresolved_autograd, check.autograd),
                                               (check.hessian, 0, False))]
            verdict = "FAIL" if check.failed else "unresolved" if check.unresolved else "ok"
            rows.append((model.name, check.parameter, f"{seconds:.3f}", *cells, verdict))
    header = ("model", "parameter", "derive+generate s", "vs differences", "vs autograd", "hessian", "")
    widths = [max(len(str(r[k])) for r in rows + [header]) for k in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
    print(f"\n{counted(len(rows), 'Hessian-vector product')} checked against central differences of the gradient "
          f"and HIPS autograd's hessian_vector_product, and hessian() against hvp() and its transpose "
          f"(n/a: autograd missing, or above HESSIAN_LIMIT); {counted(args.points, 'point')} x 2 dimension sets "
          f"(x depths {', '.join(map(str, HVP_DEPTHS))} for models with layers); tolerance {TOLERANCE:g}")
    if unresolved:
        print(f"points where a product is zero within round-off on both sides, or the two agree to within "
              f"{RESOLUTION_MARGIN}x the reference's round-off (counted, not judged; a product no point "
              f"resolves is unresolved, not a pass): {'; '.join(unresolved)}")
    return 1 if failed else 0


def cmd_list(args) -> int:
    for name in catalogue.names():
        model = catalogue.build(name)
        print(f"{name:24s} {model.description}")
    return 0


def _describe(model, derivation, heading: str) -> None:
    reserved = set(model.tensors) | set(model.dimensions)
    print(f"# {heading}")
    print("\n## definitions")
    for name, definition in model.definitions.items():
        print(formula_text(name, definition.expr, reserved))
    print("\n## adjoints (reverse mode, named)")
    for name in reversed(derivation.order):
        if name != model.loss_name:
            print(formula_text(adjoint_name(name), reuse_forward_values(
                derivation.adjoints[name], model, cheaper=False), reserved))
    print(f"\n## gradients of {model.loss_name}, collapsed")
    for name in derivation.parameters:
        if name in derivation.adjoints:
            print(derivation.collapsed_text(name))
    print()


def cmd_show(args) -> int:
    model = _load(_model_spec(args))
    derivation = derive(model)
    for line in derivation.show_preface:
        print(line)
    for part in derivation.parts:
        _describe(part.derivation.model, part.derivation, part.heading)
    print(f"derived in {derivation.seconds * 1000:.1f} ms")
    return 0


GENERATED_MARK = "GENERATED BY `symgrad "
HEADER_FORMS = (("# ", "`; DO NOT EDIT."), ("% ", "`; DO NOT EDIT."), ("<!-- ", "`; DO NOT EDIT. -->"))


def _ours(path: Path) -> bool:
    """Whether an existing file is one symgrad generated: its first line is exactly symgrad's
    header (a Python, TeX or HTML comment ``GENERATED BY `symgrad ...`; DO NOT EDIT.``)."""
    with open(path, "rb") as stream:
        first = stream.readline(8192)
    try:
        line = first.decode("utf-8").removesuffix("\n")
    except UnicodeDecodeError:
        return False
    return any(line.startswith(start + GENERATED_MARK) and line.endswith(end) and "\r" not in line
               for start, end in HEADER_FORMS)


def _refuse(path: Path, what: str = "was not generated by symgrad") -> SymgradError:
    return SymgradError(f"{path} exists and {what}; not overwriting it (use --force, or another -o)")


def write_or_check(outputs, out_dir: Path, check: bool, regenerate: str, force: bool = False) -> int:
    """Write each (path, text, note) atomically, or with ``check`` only compare: exit 1 listing
    the files that are missing or differ. A file whose first line is not symgrad's header (a
    user's own) is never overwritten without ``force``. All or nothing: every output is made
    and every target checked before the first file is written."""
    outputs = list(outputs)
    if not check:
        for path, _, _ in outputs:
            if path.exists() and not path.is_file():
                raise SymgradError(f"{path} exists and is not a file; not writing there (use another -o)")
            if path.is_file() and not force and not _ours(path):
                raise _refuse(path)
        write_all((path, text.encode("utf-8")) for path, text, _ in outputs)
        for path, _, note in outputs:
            if note is not None:
                print(f"wrote {path}{note}")
        return 0
    stale = []
    for path, text, _ in outputs:
        current = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
        if current != text:
            stale.append(f"{path} ({'missing' if current is None else 'stale'})")
    if stale:
        print(f"out of date; run `{regenerate}`:\n  " + "\n  ".join(stale), file=sys.stderr)
        return 1
    print(f"{out_dir}/ is up to date")
    return 0


def cmd_generate(args) -> int:
    out_dir, specs = Path(args.output), _specs(args)
    if args.hvp:
        return generate_hvp(args, out_dir, specs)
    # --all covers every backend; a model named alone gets NumPy's module unless --backend says
    backends = [args.backend] if args.backend else list(BACKENDS) if args.all else ["numpy"]

    def outputs():
        for spec in specs:
            for path, text, seconds in generate_backends(spec, out_dir, backends):
                yield path, text, f" ({seconds:.2f} s)"
    regenerate = _command(specs[0]) if isinstance(specs[0], OneLineLoss) else "symgrad generate --all"
    return write_or_check(outputs(), out_dir, args.check, regenerate, args.force)


def import_generated(path: Path):
    """Import a generated module from its file."""
    spec = importlib.util.spec_from_file_location(f"symgrad_generated_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cmd_verify(args) -> int:
    out_dir = Path(args.output)
    if args.hvp:
        return verify_hvp(args, out_dir, _specs(args))
    rows, failed, unresolved = [], False, []
    for spec in _specs(args):
        model, derivation, path, text, seconds = generate_one(spec, out_dir)
        write_or_check([(path, text, None)], out_dir, False, "", args.force)
        module = import_generated(path)
        for check in check_module(model, module, points=args.points):
            bad = not check.max_relative_error <= TOLERANCE or not check.shape_ok
            failed |= bad
            if check.unresolved:
                unresolved.append(f"{model.name} {check.parameter}: {check.unresolved} of {check.points}")
            verdict = "unresolved" if check.unresolved == check.points else "FAIL" if bad else "ok"
            rows.append((model.name, check.parameter, f"{derivation.seconds:.3f}", f"{seconds:.3f}",
                         f"{check.max_relative_error:.2e}", verdict))
    header = ("model", "parameter", "derive s", "derive+generate s", "max rel err", "")
    widths = [max(len(str(r[k])) for r in rows + [header]) for k in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
    print(f"\n{counted(len(rows), 'gradient')} checked against central finite differences (float64, "
          f"{counted(args.points, 'point')} x 2 dimension sets, x depths {', '.join(map(str, DEPTHS))} for "
          f"models with layers); tolerance {TOLERANCE:g}")
    if unresolved:
        print(f"points too small for central differences to resolve (the gradient and the differences "
              f"agreed to within {RESOLUTION_MARGIN}x the differences' round-off; counted, not judged): "
              f"{'; '.join(unresolved)}")
    return 1 if failed else 0


def render_derivation(spec, kind: str, hvp: bool = False):
    """(model, text) of a model's derivation document as ``tex`` or ``md`` (``hvp``: with the
    second order after the first)."""
    from symgrad.emit.files import render_document
    from symgrad.documents.derivation import build_document
    from symgrad.documents.second_order import build_hvp_document
    model = _load(spec)
    command = f"symgrad latex {_shown(spec)}" + (" --hvp" if hvp else "")
    build = build_hvp_document if hvp else build_document
    return model, render_document(build(model, derive(model)), command, kind)


PDFLATEX_TIMEOUT = 120.0   # seconds; SYMGRAD_PDFLATEX_TIMEOUT overrides it


def _pdflatex_timeout() -> float:
    text = os.environ.get("SYMGRAD_PDFLATEX_TIMEOUT", "")
    try:
        return float(text) if text and float(text) > 0 else PDFLATEX_TIMEOUT
    except ValueError:
        raise SymgradError(f"SYMGRAD_PDFLATEX_TIMEOUT={text!r}: give a number of seconds") from None


def compile_pdf(tex: str, target: Path) -> None:
    """Run pdflatex on ``tex`` in a scratch folder and write the PDF to ``target``: at most
    ``PDFLATEX_TIMEOUT`` seconds, no shell escape, the first error line on failure."""
    import shutil
    import subprocess
    import tempfile
    if shutil.which("pdflatex") is None:
        raise SymgradError("pdflatex not found: install TeX Live (Debian: apt-get install texlive-latex-base "
                           "texlive-latex-recommended) or use --format tex")
    timeout = _pdflatex_timeout()
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "derivation.tex"
        source.write_text(tex, encoding="utf-8")
        try:
            result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                                     "-no-shell-escape", source.name], cwd=scratch, capture_output=True,
                                    stdin=subprocess.DEVNULL, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SymgradError(f"pdflatex did not finish within {timeout:g} s and was stopped; nothing "
                               "written (set SYMGRAD_PDFLATEX_TIMEOUT to allow longer)") from None
        output = result.stdout.decode("utf-8", errors="replace").splitlines()
        pdf = Path(scratch) / "derivation.pdf"
        if result.returncode != 0 or not pdf.is_file():
            errors = [line for line in output if line.startswith("!")]
            last = next((line for line in reversed(output) if line.strip()), "no output")
            raise SymgradError(f"pdflatex failed (exit code {result.returncode}): "
                               f"{errors[0] if errors else last}")
        write_atomic_bytes(target, pdf.read_bytes())


def _document_target(output: str | None, name: str) -> Path:
    """Where ``latex`` writes one model's document: ``-o FILE``, or ``name`` in ``-o DIR`` (a folder
    that exists, or a path ending in a separator), or ``name`` in the current folder."""
    if output is None:
        return Path(name)
    if Path(output).is_dir() or output.endswith(("/", os.sep)):
        return Path(output) / name
    return Path(output)


def cmd_latex(args) -> int:
    if (args.all or args.check) and args.loss is None:
        if args.hvp:
            raise SymgradError("latex --hvp writes one model's document; name the model")
        out_dir = Path(args.output or DEFAULT_DERIVATIONS)
        outputs = ((out_dir / f"{name}.{kind}", render_derivation(name, kind)[1], "")
                   for name in catalogue.names() for kind in ("tex", "md"))
        return write_or_check(outputs, out_dir, args.check, "symgrad latex --all", args.force)
    if args.check:
        raise SymgradError("--check goes with --all (it compares derivations/ with what latex --all writes)")
    model, tex = render_derivation(_model_spec(args), "md" if args.format == "md" else "tex", args.hvp)
    target = _document_target(args.output, f"{model.name}{HVP_SUFFIX if args.hvp else ''}.{args.format}")
    if args.format == "pdf":
        if target.is_file() and not args.force and not target.read_bytes().startswith(b"%PDF"):
            raise SymgradError(f"{target} exists and is not a PDF; not overwriting it (use --force)")
        compile_pdf(tex, target)
    else:
        if target.is_file() and not args.force and not _ours(target):
            raise _refuse(target)
        write_atomic(target, tex)
    print(f"wrote {target}")
    return 0


def cmd_check(args) -> int:
    from symgrad.formulas.verdict import POINTS, check_formula
    symbols = {}
    for item in args.symbols or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SymgradError(f"--symbols {item!r}: write NAME=EXPRESSION, e.g. 'C^{{(1)}}=C[:, :M]'")
        symbols[name.strip()] = value.strip()
    verdict = check_formula(_load(_model_spec(args)), args.wrt, args.formula, args.syntax, args.indices,
                            args.depth, symbols)
    if args.json:
        print(verdict.as_json())
    else:
        word = "MATCH" if verdict.match else f"MISMATCH ({verdict.kind}" + (
            f", factor {verdict.factor})" if verdict.factor else ")")
        print(f"{word}: {verdict.detail}")
        print(f"  given:      {args.formula}")
        print(f"  correct:    {verdict.correct}")
        print(f"  index form: {verdict.index_form}")
        print(f"  checked at {2 * POINTS} random points (2 sets of dimension values) in {verdict.seconds:.2f} s")
    return 0 if verdict.match else 1


class UsageError(SymgradError):
    """A command line argparse refuses: one line naming the command and the problem (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, whose usage errors are one line (``symgrad: error: verify: ...``) rather than the
    usage text and a line of its own; ``-h`` still prints the usage."""

    def error(self, message):
        command = self.prog.removeprefix("symgrad").strip()
        hint = f"symgrad {command} -h" if command else "symgrad -h"
        raise UsageError(f"{command + ': ' if command else ''}{' '.join(message.split())} (see {hint})")


def positive_int(text: str) -> int:
    """An argument that is a whole number, 1 or more (``--points``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more; got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="symgrad", description="Symbolic gradients as checked NumPy code.")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the catalogue").set_defaults(run=cmd_list)
    show = sub.add_parser("show", help="print a model's derivation")
    show.add_argument("model", nargs="?", metavar="NAME|PATH.py")
    _add_one_line(show)
    show.set_defaults(run=cmd_show)
    latex = sub.add_parser("latex", help="write a derivation as LaTeX, Markdown or PDF")
    latex.add_argument("model", nargs="?", metavar="NAME|PATH.py")
    latex.add_argument("-o", "--output", metavar="FILE|DIR")
    latex.add_argument("--format", choices=("tex", "md", "pdf"), default="tex")
    latex.add_argument("--all", action="store_true", help=f"every catalogue model, .tex and .md, into "
                       f"{DEFAULT_DERIVATIONS}/ (or -o DIR)")
    latex.add_argument("--check", action="store_true", help="with --all: write nothing, exit 1 if stale")
    latex.add_argument("--force", action="store_true", help="overwrite files symgrad did not generate")
    latex.add_argument("--hvp", action="store_true", help="with the second-order derivation (NAME_hvp.tex)")
    _add_one_line(latex)
    latex.set_defaults(run=cmd_latex)
    check = sub.add_parser("check", help="validate a hand-derived gradient formula")
    check.add_argument("model", nargs="?", metavar="NAME|PATH.py")
    check.add_argument("--wrt", required=True, help="the parameter, e.g. A1 or 'W[1]', or a named "
                       "intermediate, e.g. Delta (its adjoint dLoss/dDelta)")
    check.add_argument("--formula", required=True)
    check.add_argument("--syntax", choices=("numpy", "index", "latex"), default="numpy")
    check.add_argument("--indices", help="free indices of index notation, e.g. i,j")
    check.add_argument("--depth", type=int, help="number of layers (1 or more), for models with list "
                       "parameters")
    check.add_argument("--symbols", action="append", metavar="NAME=EXPR",
                       help="extra names, in NumPy syntax: 'C^{(1)}=C[:, :M]'")
    check.add_argument("--json", action="store_true")
    _add_one_line(check)
    check.set_defaults(run=cmd_check)
    for name, run, text in (("generate", cmd_generate, "write generated gradient modules"),
                            ("verify", cmd_verify, "regenerate and check against finite differences")):
        command = sub.add_parser(name, help=text)
        command.add_argument("models", nargs="*", metavar="NAME|PATH.py")
        command.add_argument("--all", action="store_true", help="every catalogue model")
        command.add_argument("-o", "--output", default=DEFAULT_OUT, metavar="DIR")
        command.add_argument("--force", action="store_true", help="overwrite files symgrad did not generate")
        if name == "generate":
            command.add_argument("--check", action="store_true",
                                 help="write nothing; exit 1 listing files that differ")
            command.add_argument("--backend", choices=tuple(BACKENDS),
                                 help="numpy (NAME.py), torch (NAME_torch.py) or jax (NAME_jax.py); "
                                      "default numpy, or all three with --all")
        else:
            command.add_argument("--points", type=positive_int, default=3,
                                 help="random points per dimension set (1 or more)")
        command.add_argument("--hvp", action="store_true", help="second order: NAME_hvp.py, the module with "
                             "hvp() and hessian() too (with --backend torch, jax or numba: NAME_hvp_torch.py, "
                             "NAME_hvp_jax.py, NAME_hvp_numba.py)")
        _add_one_line(command)
        command.set_defaults(run=run)
    return top


def _add_one_line(command: argparse.ArgumentParser) -> None:
    """``--loss TEXT --param NAME=DIMS --const NAME=DIMS --name NAME``: a loss typed on one line."""
    group = command.add_argument_group("a loss typed on one line, in place of NAME|PATH.py")
    group.add_argument("--loss", metavar="TEXT", help="the loss in NumPy syntax, e.g. "
                       "'sum_squares(X @ w - y)' (read by symgrad's own parser; nothing typed is executed)")
    group.add_argument("--param", action="append", dest="params", metavar="NAME=DIMS",
                       help="a parameter and its sizes, e.g. w=d,1 (nothing after = for a scalar)")
    group.add_argument("--const", action="append", dest="consts", metavar="NAME=DIMS",
                       help="a constant (data) and its sizes, e.g. X=n,d")
    group.add_argument("--name", help="the model's name (default: loss; it names the generated module)")


EXIT_INTERRUPTED = 130    # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C
EXIT_BROKEN_PIPE = 141    # 128 + SIGPIPE, as a shell reports a command whose reader went away


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Each warning as one line on stderr: ``symgrad: warning: ...``, no source line."""
    text = " ".join(str(message).split())
    if not issubclass(category, SymgradWarning):
        text = f"{category.__name__}: {text} ({Path(filename).name}:{lineno})"
    print(f"symgrad: warning: {text}", file=sys.stderr)


def _stdout_to_devnull() -> None:
    """After a broken pipe, so that the interpreter's last flush of stdout has nowhere to fail."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):    # stdout is not a file (captured in-process)
        pass


def main(argv=None) -> int:
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        warnings.simplefilter("default", SymgradWarning)
        try:
            args = parser().parse_args(argv)
            code = args.run(args)
            sys.stdout.flush()           # a closed pipe shows here, not at interpreter exit
            return code
        except KeyboardInterrupt:        # Ctrl-C, or a model file raising it
            print("symgrad: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError:          # `symgrad ... | head -1`: stop quietly, as other tools do
            _stdout_to_devnull()
            return EXIT_BROKEN_PIPE
        except (SymgradError, FileNotFoundError, OSError) as error:
            print(f"symgrad: error: {error}", file=sys.stderr)
            return 2
        except Exception as error:   # a bug in symgrad itself: one line, the traceback on request
            if os.environ.get("SYMGRAD_DEBUG"):
                raise
            print(f"symgrad: internal error: {type(error).__name__}: {error} (a bug in symgrad: rerun "
                  "with SYMGRAD_DEBUG=1 for the traceback, and report it)", file=sys.stderr)
            return 3


if __name__ == "__main__":
    sys.exit(main())
