"""The API contract: the committed SDL, the shared operations, and where GraphiQL is served."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cms.api.schema import build_schema
from cms.app import create_app
from cms.core.settings import Settings
from cms.services import Services
from graphql import OperationDefinitionNode, parse, validate
from graphql import build_schema as build_sdl_schema

ROOT = Path(__file__).resolve().parents[2]
GRAPHQL_DIR = ROOT / "graphql"
SCHEMA_FILE = GRAPHQL_DIR / "schema.graphql"
OPERATION_FILES = sorted((GRAPHQL_DIR / "operations").glob("*.graphql"))


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CMS_", "OIDC_", "DATABASE_", "PUBLIC_BASE_URL"))}
    return {**env, **extra}


def test_committed_schema_matches_the_code():
    exported = build_schema().as_str() + "\n"
    assert SCHEMA_FILE.read_text() == exported, "graphql/schema.graphql is stale: run `cms export-schema`"


def test_export_schema_check_passes(tmp_path):
    check = subprocess.run(
        [sys.executable, "-m", "cms.cli", "export-schema", "--check"],
        cwd=ROOT,
        env=_clean_env(CMS_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    # And --check does notice a stale file.
    stale = tmp_path / "stale.graphql"
    stale.write_text("type Query { old: Int }\n")
    check = subprocess.run(
        [sys.executable, "-m", "cms.cli", "export-schema", "--check", "--output", str(stale)],
        cwd=ROOT,
        env=_clean_env(CMS_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 1 and "stale" in check.stderr


def test_graphql_folder_holds_no_python():
    assert not list(GRAPHQL_DIR.rglob("*.py")), "a package named graphql would shadow graphql-core"
    assert not list(GRAPHQL_DIR.rglob("*.pyc"))


def test_there_are_operations_to_check():
    assert {"EpisodeFeed", "CreateProgram", "Programs"} <= {path.stem for path in OPERATION_FILES}


@pytest.mark.parametrize("path", OPERATION_FILES, ids=[p.stem for p in OPERATION_FILES])
def test_operation_validates_against_the_schema(path):
    document = parse(path.read_text())
    # Against the live schema and against the committed SDL (what clients generate code from).
    for schema in (build_schema()._schema, build_sdl_schema(SCHEMA_FILE.read_text())):
        errors = validate(schema, document)
        assert not errors, [e.message for e in errors]
    names = [d.name.value for d in document.definitions if isinstance(d, OperationDefinitionNode) and d.name]
    assert path.stem in names, f"{path.name} should define the operation {path.stem}"


async def test_graphiql_is_served_in_development(api):
    response = await api.client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def _get_html(app) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cms.test") as client:
        return await client.get("/graphql", headers={"accept": "text/html"})


async def test_graphiql_is_not_served_in_production(issuer, tmp_path):
    app = create_app(Services(Settings(CMS_ENV="production", OIDC_ISSUER=issuer.url, CMS_DATA_DIR=tmp_path)))
    response = await _get_html(app)
    assert not response.headers.get("content-type", "").startswith("text/html"), response.text[:200]
    assert "graphiql" not in response.text.lower()
    assert response.status_code in (400, 404)


async def test_graphiql_setting_overrides_the_default(issuer, tmp_path):
    off = create_app(
        Services(Settings(CMS_ENV="development", CMS_GRAPHIQL=False, OIDC_ISSUER=issuer.url, CMS_DATA_DIR=tmp_path))
    )
    assert "graphiql" not in (await _get_html(off)).text.lower()
    on = create_app(
        Services(Settings(CMS_ENV="production", CMS_GRAPHIQL=True, OIDC_ISSUER=issuer.url, CMS_DATA_DIR=tmp_path))
    )
    assert "graphiql" in (await _get_html(on)).text.lower()
