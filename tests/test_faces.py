"""Every context's public face names what it loads, and each name is the object its module defines."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import accord
from accord.faces import LazyFace

CONTEXTS = sorted(m.name for m in pkgutil.iter_modules(accord.__path__) if m.ispkg)


def _type_checking_imports(package: str) -> dict[str, tuple[str, str]]:
    """public name -> (module, name in module), from the face's `if TYPE_CHECKING:` block."""
    tree = ast.parse(Path(importlib.import_module(package).__file__ or "").read_text())
    names: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                assert isinstance(statement, ast.ImportFrom)
                for alias in statement.names:
                    names[alias.asname or alias.name] = (statement.module or "", alias.name)
    return names


@pytest.mark.parametrize("context", CONTEXTS)
def test_a_lazy_face_loads_exactly_what_its_type_checking_imports_name(context: str) -> None:
    package = importlib.import_module(f"accord.{context}")
    if not isinstance(package, LazyFace):
        return  # an eager face (adapters, the engine) is checked by the interpreter itself
    declared = _type_checking_imports(package.__name__)
    assert sorted(declared) == sorted(package.__all__)
    for public, (module, name) in declared.items():
        assert getattr(package, public) is getattr(importlib.import_module(module), name), public


def test_the_contexts_faces_are_lazy() -> None:
    lazy = [c for c in CONTEXTS if isinstance(importlib.import_module(f"accord.{c}"), LazyFace)]
    assert {"catalog", "access", "lake", "schema", "ingest", "identity", "profile", "segment", "sources"} <= set(lazy)


def test_a_submodule_named_like_a_public_function_does_not_replace_it() -> None:
    from accord import identity, profile

    importlib.import_module("accord.identity.namespaces")
    importlib.import_module("accord.profile.merge")

    assert callable(profile.merge) and callable(identity.namespaces)


def test_an_unknown_name_is_an_attribute_error() -> None:
    from accord import lake

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = lake.nothing_here
