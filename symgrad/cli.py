"""The ``symgrad`` command line.

    symgrad list                                   the catalogue
    symgrad show NAME|PATH.py                      definitions, adjoints, collapsed gradients
    symgrad generate NAME|PATH.py ... [-o DIR]     write generated/<model>.py
    symgrad generate --all [--check]               every catalogue model; --check only compares
    symgrad verify [NAME|PATH.py ...|--all]        regenerate and check against finite differences
    symgrad check NAME|PATH.py --wrt P --formula F  validate a hand-derived gradient formula
    symgrad latex NAME|PATH.py [--format tex|md|pdf]  the derivation, step by step
    symgrad latex --all [--check]                  every catalogue model into derivations/

Errors are one line on stderr and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

from . import catalogue
from .check import DEPTHS, check_module
from .derive import derive
from .display import formula_text
from .emit import render_module, write_atomic, write_atomic_bytes
from .errors import SymgradError
from .reuse import reuse_forward_values
from .sources import is_path, load
from .stack_codegen import plan_for

DEFAULT_OUT = "generated"
DEFAULT_DERIVATIONS = "derivations"
TOLERANCE = 1e-6


def _specs(args) -> list[str]:
    specs = list(args.models)
    if args.all:
        specs += [n for n in catalogue.names() if n not in specs]
    if not specs:
        raise SymgradError("name at least one model (or a model file), or use --all")
    return specs


def _command(spec: str) -> str:
    return f"symgrad generate {spec}" if not is_path(spec) else f"symgrad generate {Path(spec).as_posix()}"


def generate_one(spec: str, out_dir: Path):
    """Derive and render one model: (model, derivation, target path, text, seconds)."""
    start = time.perf_counter()
    model = load(spec)
    derivation = derive(model)
    text = render_module(plan_for(derivation, _command(spec)))
    return model, derivation, out_dir / f"{model.name}.py", text, time.perf_counter() - start


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
            print(formula_text(f"grad_{name}", reuse_forward_values(
                derivation.adjoints[name], model, cheaper=False), reserved))
    print(f"\n## gradients of {model.loss_name}, collapsed")
    for name in derivation.parameters:
        if name in derivation.adjoints:
            print(formula_text(f"d{model.loss_name}/d{name}", reuse_forward_values(
                derivation.expanded(name), model, cheaper=False), reserved))
    print()


def cmd_show(args) -> int:
    model = load(args.model)
    derivation = derive(model)
    if model.stack is None:
        _describe(model, derivation, f"{model.name}: {model.description}")
    else:
        print(f"{model.name}: {model.description}\n")
        _describe(model.stack.hidden, derivation.hidden,
                  "hidden layer l (its loss is the recursion seed sum(grad_out * output) + its own terms)")
        _describe(model.stack.output, derivation.output, "output layer L")
    print(f"derived in {derivation.seconds * 1000:.1f} ms")
    return 0


def write_or_check(outputs, out_dir: Path, check: bool, regenerate: str) -> int:
    """Write each (path, text, note) atomically, or with ``check`` only compare: exit 1 listing
    the files that are missing or differ."""
    stale = []
    for path, text, note in outputs:
        if check:
            current = path.read_text(encoding="utf-8") if path.is_file() else None
            if current != text:
                stale.append(f"{path} ({'missing' if current is None else 'stale'})")
            continue
        write_atomic(path, text)
        print(f"wrote {path}{note}")
    if stale:
        print(f"out of date; run `{regenerate}`:\n  " + "\n  ".join(stale), file=sys.stderr)
        return 1
    if check:
        print(f"{out_dir}/ is up to date")
    return 0


def cmd_generate(args) -> int:
    out_dir = Path(args.output)

    def outputs():
        for spec in _specs(args):
            _, _, path, text, seconds = generate_one(spec, out_dir)
            yield path, text, f" ({seconds:.2f} s)"
    return write_or_check(outputs(), out_dir, args.check, "symgrad generate --all")


def import_generated(path: Path):
    """Import a generated module from its file."""
    spec = importlib.util.spec_from_file_location(f"symgrad_generated_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cmd_verify(args) -> int:
    out_dir = Path(args.output)
    rows, failed = [], False
    for spec in _specs(args):
        model, derivation, path, text, seconds = generate_one(spec, out_dir)
        write_atomic(path, text)
        module = import_generated(path)
        for check in check_module(model, module, points=args.points):
            bad = check.max_relative_error > TOLERANCE or not check.shape_ok
            failed |= bad
            rows.append((model.name, check.parameter, f"{derivation.seconds:.3f}", f"{seconds:.3f}",
                         f"{check.max_relative_error:.2e}", "FAIL" if bad else "ok"))
    header = ("model", "parameter", "derive s", "derive+generate s", "max rel err", "")
    widths = [max(len(str(r[k])) for r in rows + [header]) for k in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip())
    print(f"\n{len(rows)} gradients checked against central finite differences (float64, "
          f"{args.points} points x 2 dimension sets, x depths {', '.join(map(str, DEPTHS))} for "
          f"models with layers); tolerance {TOLERANCE:g}")
    return 1 if failed else 0


def render_derivation(spec: str, kind: str):
    """(model, text) of a model's derivation document as ``tex`` or ``md``."""
    from .emit import render_document
    from .latex import build_document
    model = load(spec)
    command = f"symgrad latex {spec if not is_path(spec) else Path(spec).as_posix()}"
    return model, render_document(build_document(model, derive(model)), command, kind)


def compile_pdf(tex: str, target: Path) -> None:
    """Run pdflatex on ``tex`` in a scratch folder and write the PDF to ``target``."""
    import shutil
    import subprocess
    import tempfile
    if shutil.which("pdflatex") is None:
        raise SymgradError("pdflatex not found: install TeX Live (Debian: apt-get install texlive-latex-base "
                           "texlive-latex-recommended) or use --format tex")
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "derivation.tex"
        source.write_text(tex, encoding="utf-8")
        result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", source.name],
                                cwd=scratch, capture_output=True, text=True)
        if result.returncode != 0:
            errors = [line for line in result.stdout.splitlines() if line.startswith("!")]
            raise SymgradError(f"pdflatex failed: {errors[0] if errors else result.stdout[-300:]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic_bytes(target, (Path(scratch) / "derivation.pdf").read_bytes())


def cmd_latex(args) -> int:
    if args.all or args.check:
        out_dir = Path(args.output or DEFAULT_DERIVATIONS)
        outputs = ((out_dir / f"{name}.{kind}", render_derivation(name, kind)[1], "")
                   for name in catalogue.names() for kind in ("tex", "md"))
        return write_or_check(outputs, out_dir, args.check, "symgrad latex --all")
    if not args.model:
        raise SymgradError("name a model (or a model file), or use --all")
    model, tex = render_derivation(args.model, "md" if args.format == "md" else "tex")
    target = Path(args.output or f"{model.name}.{args.format}")
    if args.format == "pdf":
        compile_pdf(tex, target)
    else:
        write_atomic(target, tex)
    print(f"wrote {target}")
    return 0


def cmd_check(args) -> int:
    from .validate import check_formula
    symbols = {}
    for item in args.symbols or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SymgradError(f"--symbols {item!r}: write NAME=EXPRESSION, e.g. 'C^{{(1)}}=C[:, :M]'")
        symbols[name.strip()] = value.strip()
    verdict = check_formula(load(args.model), args.wrt, args.formula, args.syntax, args.indices,
                            args.depth, symbols)
    if args.json:
        print(verdict.as_json())
    else:
        word = "MATCH" if verdict.match else f"MISMATCH ({verdict.kind}" + (
            f", factor {verdict.factor})" if verdict.factor else ")")
        print(f"{word}: {verdict.detail}")
        print(f"  given:   {args.formula}")
        print(f"  correct: {verdict.correct}")
        print(f"  checked at 6 random points (2 sets of dimension values) in {verdict.seconds:.2f} s")
    return 0 if verdict.match else 1


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="symgrad", description="Symbolic gradients as checked NumPy code.")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the catalogue").set_defaults(run=cmd_list)
    show = sub.add_parser("show", help="print a model's derivation")
    show.add_argument("model", metavar="NAME|PATH.py")
    show.set_defaults(run=cmd_show)
    latex = sub.add_parser("latex", help="write a derivation as LaTeX, Markdown or PDF")
    latex.add_argument("model", nargs="?", metavar="NAME|PATH.py")
    latex.add_argument("-o", "--output", metavar="FILE|DIR")
    latex.add_argument("--format", choices=("tex", "md", "pdf"), default="tex")
    latex.add_argument("--all", action="store_true", help=f"every catalogue model, .tex and .md, into "
                       f"{DEFAULT_DERIVATIONS}/ (or -o DIR)")
    latex.add_argument("--check", action="store_true", help="with --all: write nothing, exit 1 if stale")
    latex.set_defaults(run=cmd_latex)
    check = sub.add_parser("check", help="validate a hand-derived gradient formula")
    check.add_argument("model", metavar="NAME|PATH.py")
    check.add_argument("--wrt", required=True, help="the parameter, e.g. A1 or 'W[1]'")
    check.add_argument("--formula", required=True)
    check.add_argument("--syntax", choices=("numpy", "index", "latex"), default="numpy")
    check.add_argument("--indices", help="free indices of index notation, e.g. i,j")
    check.add_argument("--depth", type=int, help="number of layers, for list parameters")
    check.add_argument("--symbols", action="append", metavar="NAME=EXPR",
                       help="extra names, in NumPy syntax: 'C^{(1)}=C[:, :M]'")
    check.add_argument("--json", action="store_true")
    check.set_defaults(run=cmd_check)
    for name, run, text in (("generate", cmd_generate, "write generated gradient modules"),
                            ("verify", cmd_verify, "regenerate and check against finite differences")):
        command = sub.add_parser(name, help=text)
        command.add_argument("models", nargs="*", metavar="NAME|PATH.py")
        command.add_argument("--all", action="store_true", help="every catalogue model")
        command.add_argument("-o", "--output", default=DEFAULT_OUT, metavar="DIR")
        if name == "generate":
            command.add_argument("--check", action="store_true",
                                 help="write nothing; exit 1 listing files that differ")
        else:
            command.add_argument("--points", type=int, default=3, help="random points per dimension set")
        command.set_defaults(run=run)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except (SymgradError, FileNotFoundError, OSError) as error:
        print(f"symgrad: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
