"""The import-linter contract that keeps adapters out of the entrypoints names every entrypoint
module but the container: a new module cannot slip past it unnamed."""

from __future__ import annotations

import pkgutil
import tomllib

import churnguard.entrypoints
from tests.conftest import ROOT


def test_the_thin_entrypoints_contract_covers_every_module_but_the_container():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    (thin,) = [c for c in contracts if c["name"].startswith("Entrypoints stay thin")]
    modules = {f"churnguard.entrypoints.{m.name}" for m in pkgutil.iter_modules(churnguard.entrypoints.__path__)}
    assert set(thin["source_modules"]) == modules - {"churnguard.entrypoints.container"}
    assert "churnguard.adapters" in thin["forbidden_modules"]
