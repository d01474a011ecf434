"""A real Keycloak for the OIDC tests: the Quarkus distribution from Maven Central, run in dev mode on loopback.

`distribution()` fetches `org.keycloak:keycloak-quarkus-dist` with Maven once, unpacks it and runs Quarkus'
build step for dev mode (the slow part of a first start) before renaming it into the cache (`CMS_TEST_CACHE`,
default ~/.cache/cms-tests): an interrupted download never leaves a half cache. Each `Keycloak` then runs from a
home of its own in a temporary directory (the cached jars linked in, the realm file in `data/import`, an in-memory
database), so no state leaks from one run to the next and the cache is never written after it is made.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import ROOT, cache_dir, free_port

VERSION = "26.7.3"
REALM_FILE = ROOT / "tests" / "keycloak" / "cms-realm.json"
REALM = "cms"
TEST_CLIENT = "cms-tests"  # public, direct access grants, tokens carry aud "cms" (see the realm file)
# A 2-core / 24 GiB machine also runs PostgreSQL, Redis, OpenSearch and the suite itself.
HEAP = "-Xms64m -Xmx512m"
# The client JIT only: a test server answers a few hundred requests, and on two busy cores C2 compiling in the
# background roughly doubles the start (measured: about 50 s instead of 80-100 s).
JVM_OPTIONS = "-XX:TieredStopAtLevel=1"
# Build-time options are baked into the cached distribution by its first start and must be repeated on every start,
# or Keycloak rebuilds itself (half a minute or more). dev-mem: the database lives and dies with the process.
BUILD_OPTIONS = ("--db=dev-mem",)
MIN_JAVA = 21  # what Keycloak 26 supports
START_TIMEOUT = 600.0  # generous: a busy 2-core machine, and the dev-mode build step once per cache
_DEV_MODE_BANNER = "Running the server in development mode"
# A developer's shell may carry settings that would change the build or the server under test.
_SCRUB = ("KC_", "KEYCLOAK_", "QUARKUS_", "JAVA_OPTS", "JAVA_ADD_OPENS", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS")


def java_home() -> Path | None:
    """A JDK Keycloak supports: KEYCLOAK_JAVA_HOME, else JAVA_HOME or one under /usr/lib/jvm with Java 21+.
    None means `java` on PATH (Keycloak may still run on it, unsupported)."""
    if chosen := os.environ.get("KEYCLOAK_JAVA_HOME"):
        return Path(chosen)
    candidates = [Path(os.environ["JAVA_HOME"])] if os.environ.get("JAVA_HOME") else []
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        candidates += sorted((p for p in jvm.iterdir() if not p.is_symlink()), key=_java_major, reverse=True)
    return next(
        (home for home in candidates if _java_major(home) >= MIN_JAVA and (home / "bin" / "java").exists()), None
    )


def _java_major(home: Path) -> int:
    """The major version in a JDK's `release` file (JAVA_VERSION="25.0.1"); 0 when unknown."""
    try:
        for line in (home / "release").read_text().splitlines():
            if line.startswith("JAVA_VERSION="):
                return int(line.split("=", 1)[1].strip('"').split(".")[0])
    except (OSError, ValueError):
        pass
    return 0


def _server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUB)}
    if (home := java_home()) is not None:
        env["JAVA_HOME"] = str(home)
    return {**env, "JAVA_OPTS_KC_HEAP": HEAP, "JAVA_OPTS_APPEND": JVM_OPTIONS, **extra}


def distribution(version: str = VERSION) -> Path:
    """The unpacked Keycloak distribution, already built for dev mode; fetched and prepared on first use."""
    dist = cache_dir() / f"keycloak-{version}"
    if dist.is_dir():
        return dist
    dist.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".keycloak-{version}-", dir=dist.parent))
    try:
        unpacked = _unpack(_fetch(version, partial), partial / "dist")
        _build_for_dev_mode(unpacked)
        try:
            unpacked.rename(dist)
        except OSError:
            if not dist.is_dir():  # not another run finishing first
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return dist


def _fetch(version: str, into: Path) -> Path:
    artifact = f"org.keycloak:keycloak-quarkus-dist:{version}:zip"
    try:
        subprocess.run(
            ["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={into}"],
            check=True,
            cwd=into,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    except FileNotFoundError as error:
        raise RuntimeError("Keycloak for the OIDC tests is fetched with Maven: install `mvn` (and a JDK)") from error
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"Maven could not fetch {artifact}:\n{error.stdout.decode(errors='replace')}") from error
    return into / f"keycloak-quarkus-dist-{version}.zip"


def _unpack(archive: Path, into: Path) -> Path:
    """Extract the zip keeping file modes (zipfile drops them); returns its single top-level directory."""
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            path = Path(zf.extract(info, into))
            if mode := (info.external_attr >> 16) & 0o777:
                path.chmod(mode)
    archive.unlink()
    (top,) = into.iterdir()
    return top


def _build_for_dev_mode(dist: Path) -> None:
    """Run `start-dev` once so Quarkus' build step writes lib/quarkus for dev mode, then stop it.

    `kc.sh build` only builds for production mode, and dev mode refuses to use that build.
    """
    log = dist.parent / "build.log"
    env = _server_env(KC_BOOTSTRAP_ADMIN_USERNAME="admin", KC_BOOTSTRAP_ADMIN_PASSWORD=secrets.token_urlsafe(16))
    argv = [
        "sh",
        str(dist / "bin" / "kc.sh"),
        "start-dev",
        *BUILD_OPTIONS,
        f"--http-port={free_port()}",
        "--http-host=127.0.0.1",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        # The banner comes from the server started after the build step has finished and exited.
        while _DEV_MODE_BANNER not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Keycloak's build step for dev mode failed:\n{_tail(log)}")
            time.sleep(0.5)
    finally:
        _stop_group(process)
    shutil.rmtree(dist / "data", ignore_errors=True)


def _session_home(dist: Path, realm_file: Path) -> Path:
    """A Keycloak home of its own: the cached jars linked, what Keycloak writes (lib/quarkus, data/) private."""
    home = Path(tempfile.mkdtemp(prefix="keycloak-"))
    for entry in dist.iterdir():
        if entry.name in ("bin", "conf"):
            shutil.copytree(entry, home / entry.name)
        elif entry.name == "lib":
            (home / "lib").mkdir()
            for part in entry.iterdir():
                if part.name == "quarkus":
                    shutil.copytree(part, home / "lib" / part.name)  # rewritten should a rebuild ever happen
                elif part.name == "quarkus-run.jar":
                    shutil.copy2(part, home / "lib" / part.name)  # found beside lib/quarkus by its own path
                else:
                    (home / "lib" / part.name).symlink_to(part)
        elif entry.name != "data":
            (home / entry.name).symlink_to(entry)
    (home / "data" / "import").mkdir(parents=True)
    shutil.copy2(realm_file, home / "data" / "import" / realm_file.name)
    return home


class Keycloak:
    """Use as a context manager, or call start()/stop(). `url` is the server, `issuer` the cms realm's issuer."""

    __test__ = False  # a helper, not a pytest test class

    def __init__(self, realm_file: Path = REALM_FILE) -> None:
        self.realm_file = realm_file
        self.realm = json.loads(realm_file.read_text())
        self.admin_user = "admin"
        self.admin_password = secrets.token_urlsafe(16)
        self.url = ""
        self.home: Path | None = None
        self.log: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._http = httpx.Client(timeout=30)

    @property
    def issuer(self) -> str:
        return self.issuer_of(REALM)

    def issuer_of(self, realm: str) -> str:
        return f"{self.url}/realms/{realm}"

    # -- serving -------------------------------------------------------------------

    def start(self) -> Keycloak:
        try:
            self._launch()
            self._wait_ready(f"{self.issuer}/.well-known/openid-configuration")
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self) -> None:
        self.home = _session_home(distribution(), self.realm_file)
        self.log = self.home / "keycloak.log"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = _server_env(KC_BOOTSTRAP_ADMIN_USERNAME=self.admin_user, KC_BOOTSTRAP_ADMIN_PASSWORD=self.admin_password)
        argv = [
            "sh",
            str(self.home / "bin" / "kc.sh"),
            "start-dev",
            *BUILD_OPTIONS,
            f"--http-port={port}",
            "--http-host=127.0.0.1",
            "--import-realm",
        ]
        with self.log.open("wb") as out:
            self._process = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def _wait_ready(self, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self._process is not None and self.log is not None
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"Keycloak exited during startup (rc {self._process.returncode}):\n{_tail(self.log)}"
                )
            try:
                if self._http.get(url, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Keycloak did not answer {url} within {START_TIMEOUT:.0f} s:\n{_tail(self.log)}")
            time.sleep(0.5)

    def stop(self) -> None:
        if self._process is not None:
            _stop_group(self._process)
            self._process = None
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None
        self._http.close()

    def __enter__(self) -> Keycloak:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def tail(self, lines: int = 60) -> str:
        return _tail(self.log, lines) if self.log else ""

    # -- tokens ----------------------------------------------------------------------

    def password(self, username: str) -> str:
        """The test user's password, as the realm file sets it."""
        user = next(u for u in self.realm["users"] if u["username"] == username)
        return next(c["value"] for c in user["credentials"] if c["type"] == "password")

    def token(self, username: str, *, client_id: str = TEST_CLIENT, realm: str = REALM) -> str:
        """An access token for a test user, by the password grant."""
        response = self._http.post(
            f"{self.issuer_of(realm)}/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": client_id,
                "username": username,
                "password": self.password(username),
            },
        )
        if response.status_code != 200:
            raise RuntimeError(f"no token for {username} from {client_id}: {response.status_code} {response.text}")
        return str(response.json()["access_token"])

    # -- admin REST API --------------------------------------------------------------

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Call the admin REST API (`path` under /admin/realms); raises for an error status."""
        # Master-realm admin tokens live a minute: one per call is simpler than tracking expiry.
        response = self._http.request(
            method,
            f"{self.url}/admin/realms{path}",
            headers={"authorization": f"Bearer {self._admin_token()}"},
            **kwargs,
        )
        response.raise_for_status()
        return response

    def _admin_token(self) -> str:
        response = self._http.post(
            f"{self.issuer_of('master')}/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": self.admin_user,
                "password": self.admin_password,
            },
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def create_realm(self, name: str) -> str:
        """A copy of the realm file under another name (a test's private realm); returns its issuer."""
        self.admin("POST", "", json={**self.realm, "id": name, "realm": name})
        return self.issuer_of(name)

    def signing_keys(self, realm: str = REALM) -> list[dict[str, Any]]:
        """The realm's keys as the admin API lists them: kid, algorithm, use, status, providerId, providerPriority."""
        return list(self.admin("GET", f"/{realm}/keys").json()["keys"])

    def add_rsa_key(self, realm: str = REALM, *, priority: int, name: str = "rsa-rotated") -> str:
        """A new generated RS256 key provider (a component); the highest priority signs new tokens. Returns its id."""
        component = {
            "name": name,
            "providerId": "rsa-generated",
            "providerType": "org.keycloak.keys.KeyProvider",
            "parentId": self.admin("GET", f"/{realm}").json()["id"],
            "config": {"priority": [str(priority)], "keySize": ["2048"], "algorithm": ["RS256"]},
        }
        location = self.admin("POST", f"/{realm}/components", json=component).headers["location"]
        return location.rstrip("/").rsplit("/", 1)[1]

    def delete_component(self, component_id: str, realm: str = REALM) -> None:
        self.admin("DELETE", f"/{realm}/components/{component_id}")


def _stop_group(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM the process group, SIGKILL if it lingers. kc.sh waits for its JVM (or execs it), so the group
    leader's exit means the JVM has exited too."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            continue


def _tail(log: Path, lines: int = 60) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return f"--- {log} ---\n" + "\n".join(text.splitlines()[-lines:])


ACCESS_TOKEN_SECONDS = 75  # for the admin's browser client: oidc-client-ts renews 60 s before expiry


def allow_browser_client(keycloak: Keycloak, origin: str, *, client_id: str = "cms-admin", realm: str = REALM) -> None:
    """Let the admin app's browser client sign in from `origin` (a test server's random port): its redirect URIs,
    web origins (CORS on the token endpoint) and post-logout redirects, as an operator registers their host."""
    found = keycloak.admin("GET", f"/{realm}/clients", params={"clientId": client_id}).json()
    client = found[0]
    client["redirectUris"] = sorted({*client.get("redirectUris", []), f"{origin}/admin/*"})
    client["webOrigins"] = sorted({*client.get("webOrigins", []), origin})
    attributes = client.setdefault("attributes", {})
    attributes["post.logout.redirect.uris"] = "+"  # "+": the same as the redirect URIs
    # Short-lived access tokens: the app renews them (refresh token) a minute before expiry, so within seconds here.
    attributes["access.token.lifespan"] = str(ACCESS_TOKEN_SECONDS)
    keycloak.admin("PUT", f"/{realm}/clients/{client['id']}", json=client)
