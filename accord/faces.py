"""Public faces that load on first use.

Each context's `__init__` names what other code may use. Importing a face must stay cheap: every
`accord` command imports the CLI's faces before it knows which one it will run, and `accord --help`
should not pay for Ibis, DuckDB, Splink or Alembic. So a face maps each public name to the module
that defines it, and that module is imported the first time the name is used (PEP 562, as Ibis and
SciPy load their backends and submodules). Type checkers read the same names from the
`TYPE_CHECKING` imports each face keeps beside its map.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any


class LazyFace(ModuleType):
    """A context package whose public names are imported from their modules on first use."""

    _where: dict[str, str]
    _aliases: dict[str, str]

    def __getattr__(self, name: str) -> Any:
        module = self._where.get(name)
        if module is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        qualified = module if module.startswith("accord.") else f"{self.__name__}.{module}"
        value = getattr(importlib.import_module(qualified), self._aliases.get(name, name))
        self.__dict__[name] = value
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        # Loading a submodule sets it as an attribute of its package; where a public name is also a
        # module's name (`profile.merge`, `identity.namespaces`), the public name keeps its meaning
        if isinstance(value, ModuleType) and name in self._where:
            return
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted(set(self.__dict__) | set(self._where))


def lazy_face(package: str, exports: dict[str, list[str]], aliases: dict[str, str] | None = None) -> list[str]:
    """Make `package` a face whose names load on first use; returns its `__all__`.

    `exports` maps a submodule (relative to `package`, or absolute: `accord.errors`) to the names
    it provides; `aliases` maps a public name to its name in that module where they differ."""
    face = sys.modules[package]
    face.__class__ = LazyFace
    where = {name: module for module, names in exports.items() for name in names}
    object.__setattr__(face, "_where", where)
    object.__setattr__(face, "_aliases", aliases or {})
    return sorted(where)
