"""The package as installed: cheap imports, an acyclic layout, shipped models inside."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlpot"
HEAVY = ("torch", "e3nn")


def _imported_after(statement: str):
    code = f"import sys; {statement}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "statement",
    [
        "import mlpot",
        "import mlpot.data",
        "import mlpot.geometry.scan",
        "import mlpot; mlpot.list_models()",
        "import mlpot.cli.data",
    ],
)
def test_light_imports_do_not_import_torch(statement):
    modules = _imported_after(statement)
    assert not modules & set(HEAVY), f"`{statement}` imports {modules & set(HEAVY)}"


def test_public_names_resolve_lazily():
    modules = _imported_after(
        "import mlpot; assert 'torch' not in sys.modules; mlpot.EquivCalculator"
    )
    assert "torch" in modules and "mlpot.calculator" in modules


def test_public_functions_are_not_shadowed_by_submodules():
    _imported_after(
        "import mlpot.pretrained_models, mlpot.calculator, mlpot.model.io; "
        "import mlpot; assert callable(mlpot.pretrained); "
        "assert callable(mlpot.load_model) and callable(mlpot.list_models)"
    )


def _subpackage(module: str) -> str:
    return ".".join(module.split(".")[:2])


def package_import_graph():
    """Subpackage → subpackages it imports (module-level and deferred imports)."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        source = _subpackage(".".join(p for p in parts if p != "__init__"))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
                if node.module == "mlpot":
                    names = [f"mlpot.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name.startswith("mlpot.") and _subpackage(name) != source:
                    graph.setdefault(source, set()).add(_subpackage(name))
    return graph


def test_package_import_graph_has_no_cycle():
    graph = package_import_graph()
    assert graph.get("mlpot", set()) <= {"mlpot._version", "mlpot.threads"}
    done, path = set(), []

    def visit(node):
        if node in path:
            cycle = path[path.index(node) :] + [node]
            pytest.fail("import cycle: " + " → ".join(cycle))
        if node in done:
            return
        path.append(node)
        for target in sorted(graph.get(node, ())):
            visit(target)
        path.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


def test_data_and_geometry_sit_below_models_and_analysis():
    graph = package_import_graph()
    for low in ("mlpot.data", "mlpot.geometry"):
        above = graph.get(low, set()) & {
            "mlpot.model",
            "mlpot.calculator",
            "mlpot.analysis",
            "mlpot.train",
            "mlpot.nn",
        }
        assert not above, f"{low} imports {above}"


def test_non_editable_install_finds_shipped_models(tmp_path):
    """``pip install .`` (not -e) carries the shipped checkpoints as package data."""
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(PACKAGE.parent),
        ],
        check=True,
    )
    code = (
        "import mlpot; print(mlpot.__file__); "
        "from ase.build import molecule; atoms = molecule('CH3CH2OH'); "
        "atoms.calc = mlpot.pretrained('ethanol-equivariant'); "
        "print(atoms.get_forces().shape)"
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    env.pop("MLPOT_MODELS_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert Path(out[0]).is_relative_to(target)
    assert out[1] == "(9, 3)"
