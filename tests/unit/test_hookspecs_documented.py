"""Every hook in cms/plugins/hookspecs.py has a docstring and a `### <hook>` section in docs/plugins.md."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pluggy
import pytest

from cms.plugins import hookspecs

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def _hookspecs() -> list[str]:
    """The hooks pluggy itself finds in cms.plugins.hookspecs (so a spec can't hide from this test)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return sorted(name for name, caller in vars(pm.hook).items() if caller.has_spec())


def test_hookspecs_found() -> None:
    assert "cms_routes" in _hookspecs() and len(_hookspecs()) >= 13


@pytest.mark.parametrize("name", _hookspecs())
def test_hookspec_has_docstring(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name)) or ""
    assert doc.strip().splitlines(), f"{name} in cms/plugins/hookspecs.py has no docstring"


@pytest.mark.parametrize("name", _hookspecs())
def test_hookspec_has_docs_section(name: str) -> None:
    headings = set(re.findall(r"^### (\S+)\s*$", DOCS.read_text(), flags=re.MULTILINE))
    assert name in headings, f"docs/plugins.md has no '### {name}' section"
