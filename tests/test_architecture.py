"""The house rules, read from the source with ``ast`` (docs/architecture.md draws the same map).

* One door: clients of core (pages, ui, the Streamlit script, benchmarks, notebooks, the API) import only ``core``
  (its exported names), ``core.errors`` and ``core.testing``; the CLI only ``.tutor``, ``.errors`` and ``core``.
* Core has no Streamlit and knows nothing of the front end.
* Core's packages depend one way: platform ← content ← explaining ← school ← the facade.
* The pages use the facade's documented interface, not the parts it is built from.
"""
from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import pytest

import core
from core import interfaces
from core.school.chat import Chats
from core.school.credits import Credits
from core.school.curation import Curation
from core.school.frames import Frames
from core.school.history import History
from core.tutor import Tutor

ROOT = Path(__file__).resolve().parent.parent
CLIENT_DIRS = ("app_pages", "ui", "benchmarks", "api")
ALLOWED_CLIENT_MODULES = ("core", "core.errors", "core.testing")
# What each package of core may import from core (besides itself); ``errors`` is everyone's.
PACKAGE_DEPENDENCIES = {
    "platform": {"errors"},
    "content": {"errors", "platform"},
    "explaining": {"errors", "platform", "content"},
    "school": {"errors", "platform", "content", "explaining"},
    "testing": {"errors", "platform", "content", "explaining"},  # probes.py lists what measurement reads
    "errors": {"platform"},  # the messages of the errors live in platform/i18n.py
}
FRONT_END = ("streamlit", "ui", "app_pages", "altair")


def _client_files() -> list[Path]:
    files = [ROOT / "streamlit_app.py"]
    for folder in CLIENT_DIRS:
        files += sorted((ROOT / folder).rglob("*.py")) if (ROOT / folder).is_dir() else []
    return files


def _notebook_cells() -> list[tuple[str, str]]:
    cells = []
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for number, cell in enumerate(json.loads(notebook.read_text())["cells"]):
            if cell["cell_type"] == "code":
                source = "".join(cell["source"])
                # IPython magics and shell escapes are not Python
                source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                                   for line in source.splitlines())
                cells.append((f"{notebook.name} cell {number}", source))
    return cells


def _sources() -> list[tuple[str, str]]:
    return [(str(p.relative_to(ROOT)), p.read_text()) for p in _client_files()] + _notebook_cells()


def _imports(tree: ast.AST, module: str = "") -> list[tuple[str, list[str]]]:
    """Every import as (absolute module, imported names); relative ones resolved against ``module``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level:
                package = module.split(".")[:-node.level] if module else []
                name = ".".join(package + ([node.module] if node.module else []))
            found.append((name, [alias.name for alias in node.names]))
    return found


def _core_module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_core(name: str) -> bool:
    return name == "core" or name.startswith("core.")


# --- one door -----------------------------------------------------------------------------------------------------

SOURCES = _sources()


def test_the_rule_reads_the_clients():
    names = [name for name, _ in SOURCES]
    assert "streamlit_app.py" in names and "app_pages/ask.py" in names and "ui/app.py" in names
    assert any(n.startswith("benchmarks/") for n in names) and any(".ipynb" in n for n in names)


@pytest.mark.parametrize("name, source", SOURCES, ids=[name for name, _ in SOURCES])
def test_clients_import_only_the_door(name, source):
    for module, names in _imports(ast.parse(source)):
        if not _is_core(module):
            continue
        assert module in ALLOWED_CLIENT_MODULES or module.startswith("core.testing."), f"{name}: {module}"
        if module == "core":
            assert set(names) <= set(core.__all__) | {"errors", "testing"}, f"{name}: from core import {names}"


def test_the_cli_uses_the_facade():
    path = ROOT / "core" / "cli.py"
    for module, names in _imports(ast.parse(path.read_text()), "core.cli"):
        if _is_core(module):
            assert module in ("core", "core.tutor", "core.errors"), module


def test_a_deep_import_is_caught():
    assert not all(m in ALLOWED_CLIENT_MODULES for m, _ in _imports(ast.parse("from core.school import frames")))
    assert [m for m, _ in _imports(ast.parse("from ..platform import db"), "core.school.frames")] == \
        ["core.platform"]


# --- core stands alone, its packages one way ----------------------------------------------------------------------

def _core_files() -> list[Path]:
    return sorted((ROOT / "core").rglob("*.py"))


def test_core_knows_nothing_of_the_front_end():
    for path in _core_files():
        for module, _ in _imports(ast.parse(path.read_text()), _core_module(path)):
            assert module.split(".")[0] not in FRONT_END, f"{path.relative_to(ROOT)} imports {module}"


def test_core_packages_depend_one_way():
    seen = set()
    for path in _core_files():
        module = _core_module(path)
        parts = module.split(".")
        if len(parts) < 2 or parts[1] not in PACKAGE_DEPENDENCIES:
            continue  # the facade, the CLI, the interfaces and core/__init__ sit on top
        package = parts[1]
        allowed = PACKAGE_DEPENDENCIES[package] | {package}
        for target, _ in _imports(ast.parse(path.read_text()), module):
            if target.startswith("core."):
                seen.add((package, target.split(".")[1]))
                assert target.split(".")[1] in allowed, f"{module} imports {target}"
    assert ("school", "explaining") in seen and ("explaining", "content") in seen  # the test reads real imports


def test_each_package_states_its_direction():
    for package in PACKAGE_DEPENDENCIES:
        init = ROOT / "core" / package / "__init__.py"
        if init.exists():
            assert "Imports" in ast.get_docstring(ast.parse(init.read_text())), package


# --- the facade's interface ---------------------------------------------------------------------------------------

SUB_OBJECTS = {"chats": (interfaces.ChatsAPI, Chats), "history": (interfaces.HistoryAPI, History),
               "frames": (interfaces.FramesAPI, Frames), "curation": (interfaces.CurationAPI, Curation),
               "credits": (interfaces.CreditsAPI, Credits)}


def _members(protocol) -> set[str]:
    names = {n for n, v in vars(protocol).items() if not n.startswith("_") and callable(v)}
    return names | set(getattr(protocol, "__annotations__", {}))


def _public_facade() -> set[str]:
    names = {n for n, v in vars(Tutor).items() if not n.startswith("_")}
    return names | set(Tutor.__annotations__)


def test_each_part_implements_its_interface():
    for attribute, (protocol, implementation) in SUB_OBJECTS.items():
        assert Tutor.__annotations__[attribute] == protocol.__name__
        for name in _members(protocol):
            assert hasattr(implementation, name), f"{implementation.__name__}.{name}"
            if callable(getattr(protocol, name, None)):
                expected = inspect.signature(getattr(protocol, name))
                actual = inspect.signature(getattr(implementation, name))
                if isinstance(inspect.getattr_static(implementation, name), staticmethod):
                    expected = expected.replace(parameters=list(expected.parameters.values())[1:])
                assert list(actual.parameters) == list(expected.parameters), f"{implementation.__name__}.{name}"


def _tutor_uses(tree: ast.AST) -> list[tuple[str, str | None]]:
    """``tutor.X`` and ``tutor.X.Y`` (also ``me.tutor.X``, ``who.tutor.X``) as (X, Y or None)."""
    uses = []

    def is_tutor(node) -> bool:
        return (isinstance(node, ast.Name) and node.id == "tutor") or (
            isinstance(node, ast.Attribute) and node.attr == "tutor")

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_tutor(node.value):
            uses.append((node.attr, None))
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and is_tutor(node.value.value):
            uses.append((node.value.attr, node.attr))
    return uses


def test_pages_and_the_cli_use_only_the_documented_interface():
    public = _public_facade()
    pages = [p for p in _client_files() if p.parts[-2] in ("app_pages", "ui") or p.name == "streamlit_app.py"]
    pages.append(ROOT / "core" / "cli.py")
    checked = 0
    for path in pages:
        for attribute, member in _tutor_uses(ast.parse(path.read_text())):
            checked += 1
            assert attribute in public, f"{path.relative_to(ROOT)}: tutor.{attribute}"
            if member is not None and attribute in SUB_OBJECTS:
                assert member in _members(SUB_OBJECTS[attribute][0]), \
                    f"{path.relative_to(ROOT)}: tutor.{attribute}.{member}"
    assert checked > 20


def test_the_parts_are_not_the_interface():
    for part in ("settings", "engine", "store", "accounts", "model", "cache", "explanations", "generations"):
        assert part not in _public_facade()
    assert _tutor_uses(ast.parse("x = me.tutor.model")) == [("model", None)]


# --- the map in docs/architecture.md is the code's --------------------------------------------------------------

def test_the_documented_map_names_every_module():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    the_map = doc.split("## The map", 1)[1].split("```")[1]
    named = set(the_map.replace(",", " ").split())
    for folder in ("core", "ui", "app_pages"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "__init__.py" and path.parent.name != "core" or "lessons" in path.parts:
                continue
            if path.parent.name == "store" or folder == "app_pages":
                assert path.parent.name + "/" in named, path  # a folder named as a whole
            else:
                assert path.name in named, f"{path.relative_to(ROOT)} is not in docs/architecture.md's map"
    for package in PACKAGE_DEPENDENCIES:
        if (ROOT / "core" / package).is_dir():
            assert f"{package}/" in named, package
