"""The package's shape: one folder per stage, no import cycle, no private name used across modules."""
import ast
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "symgrad"
STAGES = ("index", "model", "differentiate", "lower", "emit", "documents", "formulas")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(path: Path):
    """(imported module, names taken from it) for every import of a symgrad module in ``path``,
    at module level or inside a function."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "symgrad":
                    yield alias.name, ()
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "symgrad":
            names = tuple(a.name for a in node.names)
            submodules = [f"{node.module}.{n}" for n in names if f"{node.module}.{n}" in MODULES]
            yield node.module, tuple(n for n in names if f"{node.module}.{n}" not in MODULES)
            for sub in submodules:
                yield sub, ()


def graph() -> dict[str, set[str]]:
    return {name: {target for target, _ in imports(path) if target in MODULES and target != name}
            for name, path in MODULES.items()}


def test_each_stage_has_its_folder():
    for stage in STAGES:
        assert (PACKAGE / stage / "__init__.py").is_file(), stage
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert top == ["__init__", "__main__", "api", "cli", "errors", "gradcheck", "hvpcheck"]


def test_no_module_imports_another_modules_private_names():
    offences = [f"{name} takes {taken} from {target}" for name, path in MODULES.items()
                for target, names in imports(path) for taken in names
                if taken.startswith("_") and target != name]
    assert not offences


def test_no_import_cycle():
    edges = graph()
    edges["symgrad"] = set()        # the package's own __init__ only re-exports: every module may import it
    state: dict[str, str] = {}
    cycles = []

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert not cycles


def test_package_modules_do_not_import_the_package_itself():
    # importing ``symgrad`` from inside it would make every module depend on all the others
    # (the catalogue's model files are written as a user's model file is: `from symgrad import Model`)
    offenders = [name for name, path in MODULES.items()
                 if name != "symgrad" and not name.startswith("symgrad.model.catalogue.")
                 for target, _ in imports(path) if target == "symgrad"]
    assert not offenders


# Where a model with layers differs from one without: only these modules ask which kind they have
# (symgrad/differentiate/model_derivation.py is the interface everything else uses).
# emit/layer_hvp_plan.py is second order's layer_plan.py: the per-layer tangent functions of a stack,
# and the one place that picks them or a flat model's (apart from layer_plan.py, which stays one job:
# first order, which every backend renders).
LAYER_MODULES = {"symgrad.model.layers", "symgrad.differentiate.layers", "symgrad.emit.layer_plan",
                 "symgrad.emit.layer_hvp_plan"}
KIND_NAMES = {"StackDerivation", "StackPlan", "Stack", "Layer", "WholeModel", "Derivation", "ModulePlan"}


def _names_in(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
        {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


def kind_questions(source: str) -> list[str]:
    """Each place in ``source`` that reads a model's stack (``model.stack``), names the layered
    derivation or plan, or tests an object against a derivation, layer or plan class."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "stack" and isinstance(node.ctx, ast.Load):
            found.append(f"line {node.lineno}: .stack")
        elif isinstance(node, ast.Name) and node.id in ("StackDerivation", "StackPlan"):
            found.append(f"line {node.lineno}: {node.id}")
        elif isinstance(node, ast.alias) and node.name in ("StackDerivation", "StackPlan"):
            found.append(f"an import of {node.name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("isinstance", "issubclass") and len(node.args) == 2 \
                and _names_in(node.args[-1]) & KIND_NAMES:
            found.append(f"line {node.lineno}: {node.func.id}(... {sorted(_names_in(node.args[-1]) & KIND_NAMES)})")
    return found


def test_only_the_layer_modules_ask_whether_a_model_has_layers():
    offences = [f"{name} {where}" for name, path in sorted(MODULES.items()) if name not in LAYER_MODULES
                for where in kind_questions(path.read_text())]
    assert not offences, offences


def test_the_kind_question_check_finds_each_kind_of_question():
    source = ("from symgrad.differentiate.layers import StackDerivation\n"
              "a = model.stack.hidden\n"
              "b = isinstance(derivation, Derivation)\n"
              "c = isinstance(plan, (ModulePlan, int))\n"
              "model.stack = None\n")
    assert sorted(kind_questions(source)) == ["an import of StackDerivation", "line 2: .stack",
                                              "line 3: isinstance(... ['Derivation'])",
                                              "line 4: isinstance(... ['ModulePlan'])"]
