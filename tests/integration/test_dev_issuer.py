"""One command on a laptop: the development issuer, `cms dev-token`, embedded PostgreSQL, `cms migrate`.

The servers here are subprocesses (`cms serve`): only one app can hold Tortoise's global
context in this process, and the session's live app already does.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from cms.core.db import PgTarget
from cms.core.settings import Settings
from tests.support import database

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 180
CREATE_PROGRAM = "mutation($t: String!) { createProgram(input: {title: $t}) { __typename ... on Program { id slug } ... on Error { message } } }"


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The test process's environment without any CMS configuration, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CMS_", "OIDC_", "DATABASE_", "PUBLIC_BASE_URL", "REDIS_"))
    }
    return {**env, "CMS_DATA_DIR": str(data_dir), **extra}


def _cms(*args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cms.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def _url(target: PgTarget) -> str:
    auth = quote(target.user, safe="") + (f":{quote(target.password, safe='')}" if target.password else "")
    # host in the query so a Unix socket directory works as well as a TCP host.
    return f"postgresql://{auth}@localhost:{target.port}/{quote(target.database, safe='')}?host={quote(target.host, safe='')}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop_embedded_postgres(data_dir: Path) -> None:
    """Stop a PostgreSQL left behind under data_dir (only when `cms serve` had to be killed)."""
    pid_file = data_dir / "postgres" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)


@asynccontextmanager
async def cms_server(data_dir: Path, **env: str) -> AsyncIterator[str]:
    """`cms serve` on a free port until /ready answers 200; always stopped (SIGTERM, then SIGKILL)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = data_dir.parent / f"serve-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cms.cli", "serve", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT,
            env=_env(data_dir, PUBLIC_BASE_URL=base, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    killed = False
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                if process.poll() is not None:
                    pytest.fail(f"cms serve exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
                try:
                    if (await client.get("/ready")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"cms serve not ready after {STARTUP_SECONDS}s:\n{log_path.read_text()[-4000:]}")
                await asyncio.sleep(0.25)
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 60)
            except subprocess.TimeoutExpired:
                process.kill()
                killed = True
                await asyncio.to_thread(process.wait, 30)
        if killed:
            _stop_embedded_postgres(data_dir)


@contextmanager
def no_cms_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("CMS_", "OIDC_")):
            monkeypatch.delenv(name)
    yield


def dev_token(data_dir: Path, role: str = "editor", **env: str) -> str:
    minted = _cms("dev-token", "--role", role, env=_env(data_dir, **env))
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    assert token.count(".") == 2, minted.stdout
    return token


async def graphql(base: str, query: str, variables: dict | None = None, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        return await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


@pytest.fixture
async def fresh_database(pg_server: PgTarget) -> AsyncIterator[PgTarget]:
    target = await database.create_database(pg_server, prefix="cms_devissuer")
    yield target
    await database.drop_database(target)


# -- the development issuer --------------------------------------------------------


def test_dev_token_says_which_key_signed_it(tmp_path):
    """Run from another directory, a relative CMS_DATA_DIR names another key: the command says which one it used."""
    data_dir = tmp_path / "elsewhere"
    first = _cms("dev-token", "--role", "viewer", env=_env(data_dir))
    key = (data_dir / "dev-issuer" / "key.json").resolve()
    assert first.returncode == 0 and f"created a new development key in {key}" in first.stderr, first.stderr
    assert f"CMS_DATA_DIR={data_dir.resolve()}" in first.stderr
    again = _cms("dev-token", "--role", "viewer", env=_env(data_dir))
    assert again.returncode == 0 and f"signed with the development key in {key}" in again.stderr, again.stderr
    assert again.stdout.strip().count(".") == 2  # stdout is the token alone, for `$(cms dev-token)`


async def test_dev_token_is_accepted_by_the_app(tmp_path, fresh_database):
    data_dir = tmp_path / "data"
    async with cms_server(data_dir, DATABASE_URL=_url(fresh_database)) as base:
        token = dev_token(data_dir, "editor", PUBLIC_BASE_URL=base)

        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            discovery = (await client.get("/auth/dev/.well-known/openid-configuration")).json()
            assert discovery["issuer"] == f"{base}/auth/dev"
            assert discovery["jwks_uri"] == f"{base}/auth/dev/jwks"
            jwks = await client.get("/auth/dev/jwks")
            assert jwks.status_code == 200
            keys = jwks.json()["keys"]
            assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["kid"]
            # The public half only: no private RSA parameters are ever served.
            assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])

        created = await graphql(base, CREATE_PROGRAM, {"t": "Dev Program"}, token)
        assert created.status_code == 200, created.text
        assert created.json()["data"]["createProgram"]["__typename"] == "Program"
        viewer = (await graphql(base, "{ viewer { displayName } }", token=token)).json()
        assert viewer["data"]["viewer"]["displayName"] == "dev-editor"

        # Roles come from the token: a dev viewer may not create programs.
        viewer_token = dev_token(data_dir, "viewer", PUBLIC_BASE_URL=base)
        refused = (await graphql(base, CREATE_PROGRAM, {"t": "Nope"}, viewer_token)).json()
        assert refused["data"]["createProgram"]["__typename"] == "ForbiddenError"

        # A token signed by another data dir's key is refused.
        stranger = dev_token(tmp_path / "other-data", "admin", PUBLIC_BASE_URL=base)
        response = await graphql(base, CREATE_PROGRAM, {"t": "Stranger"}, stranger)
        assert response.status_code == 401 and "data" not in response.json()


def test_dev_issuer_key_is_private_to_its_owner(tmp_path):
    data_dir = tmp_path / "data"
    dev_token(data_dir)
    key_file = data_dir / "dev-issuer" / "key.json"
    assert key_file.stat().st_mode & 0o077 == 0
    # The same key signs every token: a second token verifies against the same kid.
    first, second = dev_token(data_dir), dev_token(data_dir, "admin")
    assert first.split(".")[0] == second.split(".")[0]


@pytest.mark.parametrize(
    "env",
    [
        {"CMS_ENV": "production"},
        {"CMS_ENV": "production", "OIDC_ISSUER": "https://id.example.org/realms/cms"},
        {"OIDC_ISSUER": "https://id.example.org/realms/cms"},
    ],
    ids=["production", "production-with-issuer", "real-issuer"],
)
def test_dev_token_is_refused_without_the_dev_issuer(tmp_path, env):
    result = _cms("dev-token", "--role", "admin", env=_env(tmp_path / "data", **env))
    assert result.returncode != 0
    assert result.stdout.strip() == ""
    assert not (tmp_path / "data" / "dev-issuer" / "key.json").exists()


def test_production_settings_require_an_issuer(monkeypatch, tmp_path):
    with no_cms_environment(monkeypatch):
        with pytest.raises(ValueError, match="OIDC_ISSUER"):
            Settings(CMS_ENV="production")
        assert Settings(CMS_ENV="production", OIDC_ISSUER="https://id.example.org/").uses_dev_issuer is False
        assert Settings().uses_dev_issuer is True


def test_serve_refuses_production_without_an_issuer(tmp_path):
    result = _cms("serve", "--port", str(_free_port()), env=_env(tmp_path / "data", CMS_ENV="production"), timeout=60)
    assert result.returncode != 0
    assert "OIDC_ISSUER" in result.stderr


# -- migrations ----------------------------------------------------------------------


def test_migrate_is_idempotent(tmp_path, fresh_database):
    env = _env(tmp_path / "data", DATABASE_URL=_url(fresh_database))
    first = _cms("migrate", env=env)
    assert first.returncode == 0, first.stderr
    assert "applied 0 migration" not in first.stdout and "applied" in first.stdout
    second = _cms("migrate", env=env)
    assert second.returncode == 0, second.stderr
    assert "applied 0 migration(s)" in second.stdout


# -- embedded PostgreSQL ---------------------------------------------------------------


async def test_embedded_postgres_keeps_data_across_restarts(tmp_path):
    data_dir = tmp_path / "data"
    postmaster_pid = data_dir / "postgres" / "postmaster.pid"
    try:
        async with cms_server(data_dir) as base:  # no DATABASE_URL: embedded PostgreSQL under the data dir
            assert postmaster_pid.exists()
            token = dev_token(data_dir, "editor", PUBLIC_BASE_URL=base)
            created = (await graphql(base, CREATE_PROGRAM, {"t": "Survives Restarts"}, token)).json()
            assert created["data"]["createProgram"]["slug"] == "survives-restarts", created
        # SIGTERM stops the app and, with it, the embedded PostgreSQL (no orphan left holding the data dir).
        assert not postmaster_pid.exists()

        async with cms_server(data_dir) as base:
            token = dev_token(data_dir, "editor", PUBLIC_BASE_URL=base)
            found = (await graphql(base, '{ program(slug: "survives-restarts") { title } }', token=token)).json()
            assert found["data"]["program"] == {"title": "Survives Restarts"}, found
        assert not postmaster_pid.exists()

        # The schema is already current: migrating again applies nothing, twice.
        for _ in range(2):
            result = _cms("migrate", env=_env(data_dir))
            assert result.returncode == 0, result.stderr
            assert "applied 0 migration(s)" in result.stdout
        assert not postmaster_pid.exists()
    finally:
        _stop_embedded_postgres(data_dir)
