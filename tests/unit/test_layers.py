"""The structure the next capabilities stand on: import-linter's layer contracts (pyproject.toml),
no module in an import cycle, and one writer for a case's state and a contact point's status."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "channels", "scheduler")


def test_the_import_contracts_are_kept() -> None:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    run = subprocess.run(
        [command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def _cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_no_module_is_in_an_import_cycle() -> None:
    graph = grimp.build_graph(*PACKAGES)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.z", imported="a.x")
    assert _cycles(graph) == [{"a.x", "a.y"}]


def _writes(path: Path, table: str, column: str) -> list[int]:
    """Lines of `path` that set `column` in a function updating `table` (however imported)."""
    tree = ast.parse(path.read_text(), str(path))
    aliases = {table}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "gateway.store.tables":
            aliases |= {a.asname or a.name for a in node.names if a.name == table}

    def calls(scope: ast.AST, name: str) -> list[ast.Call]:
        return [
            n
            for n in ast.walk(scope)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == name
        ]

    lines = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        updates = [
            c
            for c in calls(function, "update")
            if c.args and isinstance(c.args[0], ast.Name) and c.args[0].id in aliases
        ]
        if updates:
            lines += [
                c.lineno for c in calls(function, "values") if column in {k.arg for k in c.keywords}
            ]
    return sorted(set(lines))


def _writers(table: str, column: str) -> set[str]:
    return {
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if _writes(path, table, column)
    }


def test_one_store_function_writes_a_contact_points_status() -> None:
    assert _writers("contact_points", "status") == {"gateway/store/cases.py"}


def test_one_store_function_writes_a_cases_state() -> None:
    assert _writers("cases", "state") == {"gateway/store/cases.py"}


def test_the_writer_finder_sees_a_write(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "import sqlalchemy as sa\n"
        "from gateway.store.tables import contact_points as CP\n"
        "async def f():\n"
        "    q = sa.update(CP).where(CP.c.id == 1).values(status='opted_out')\n"
    )
    assert _writes(module, "contact_points", "status") == [4]
    assert _writes(module, "cases", "state") == []


def _imports_of(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    return {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == module
        for alias in node.names
    }


def test_dispatch_and_evaluate_ask_the_one_policy_pipeline() -> None:
    """The rule order (holds … personal restrictions, then the caps) is assembled once, in
    scheduler.policy.pipeline: neither the dispatcher nor evaluate strings the rules together."""
    for name in ("dispatch", "policy_eval"):
        path = ROOT / "gateway" / "services" / f"{name}.py"
        assert "pipeline" in _imports_of(path, "scheduler.policy"), name
        assert not {"decide"} & _imports_of(path, "scheduler.policy"), name
        assert not _imports_of(path, "scheduler.caps"), name
