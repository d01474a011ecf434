"""A throwaway PostgreSQL cluster of its own, so a test may stop, crash and restart the database under load, or
feed a streaming replica from it.

`with PrivatePostgres(log_dir) as pg:` runs initdb in a temporary directory and starts the server on a free
loopback port (trust auth, fsync off); the block's end kills the server (and its replicas) and removes the
directory, copying the server's log to `log_dir` first. PostgreSQL refuses to run as root: as root, the Debian
package's `postgres` user owns the cluster and runs its binaries through `runuser`, as `.ci/services` does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from cms.core.db import PgTarget
from tests.support.processes import child_env, free_port

STOP_MODES = ("smart", "fast", "immediate")


def pg_bindir() -> Path:
    """The newest installed server's bin directory (as `.ci/services` picks it)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: [int(x) if x.isdigit() else x for x in p.parent.name.split(".")],
    )
    if not found:
        raise RuntimeError("no PostgreSQL server under /usr/lib/postgresql (run .ci/services)")
    return found[-1]


def _as_postgres() -> list[str]:
    if os.geteuid() != 0:
        return []
    with contextlib.suppress(KeyError):
        import pwd

        pwd.getpwnam("postgres")
        return ["runuser", "-u", "postgres", "--"]
    subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
    return ["runuser", "-u", "postgres", "--"]


class PrivatePostgres:
    """One PostgreSQL cluster on 127.0.0.1:`port`; `url`/`target` reach its `postgres` database as `postgres`.

    With `replication=True` the cluster can feed streaming standbys (`start_replica`)."""

    def __init__(self, log_dir: Path, *, replication: bool = False, _primary: PrivatePostgres | None = None) -> None:
        self.log_dir = log_dir
        self.replication = replication or _primary is not None
        self.port = free_port()
        self.bindir = pg_bindir()
        self.dir = Path(tempfile.mkdtemp(prefix=f"cms-pg-{self.port}-"))
        self.data = self.dir / "data"
        self.server_log = self.dir / "postgres.log"  # inside the cluster's dir: the postgres user may write there
        self._runas = _as_postgres()
        self._primary = _primary
        self._replicas: list[PrivatePostgres] = []
        self._initialised = False
        self._closed = False
        if self._runas:
            shutil.chown(self.dir, "postgres")

    # -- addresses ---------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def target(self) -> PgTarget:
        return PgTarget.from_url(self.url)

    # -- life cycle ---------------------------------------------------------------------------------------------

    def _run(self, tool: str, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        argv = [*self._runas, str(self.bindir / tool), *args]
        result = subprocess.run(
            argv, cwd=self.dir, env=child_env({}), capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def _init(self) -> None:
        if self._primary is not None:
            # A standby: a base backup of the primary, -R writes primary_conninfo and standby.signal.
            self._run(
                "pg_basebackup",
                *("-h", "127.0.0.1", "-p", str(self._primary.port), "-U", "postgres"),
                *("-D", str(self.data), "-R", "-X", "stream", "--checkpoint=fast"),
            )
        else:
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"
            )
            if self.replication:
                with (self.data / "pg_hba.conf").open("a") as hba:
                    hba.write("host replication all 127.0.0.1/32 trust\n")
        self._initialised = True

    def _options(self) -> str:
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {self.port}",
            f"-k {self.dir}",
            "-c max_connections=200",
            # fsync off: only the OS crashing could lose data, never a test killing the server. synchronous_commit
            # stays on, so a commit that returned survives `stop("immediate")` (a crash of PostgreSQL itself).
            "-c fsync=off",
            "-c full_page_writes=off",
            "-c shared_buffers=64MB",
        ]
        if self.replication:
            options += [
                "-c wal_level=replica",
                "-c max_wal_senders=10",
                "-c max_replication_slots=10",
                "-c hot_standby=on",
                "-c wal_keep_size=256MB",
                "-c hot_standby_feedback=on",
            ]
        return " ".join(options)

    def start(self) -> PrivatePostgres:
        """Start the server (initialising the cluster the first time); returns once it accepts connections."""
        if self._closed:
            raise RuntimeError("this cluster was closed")
        if not self._initialised:
            self._init()
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.server_log),
            "-w",
            "-t",
            "120",
            "start",
            "-o",
            self._options(),
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` (roll back sessions, clean shutdown) or `immediate` (as a crash would; recovery
        runs at the next start). The cluster stays, ready for `start`."""
        if mode not in STOP_MODES:
            raise ValueError(f"mode must be one of {STOP_MODES}, got {mode!r}")
        if self.running():
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "120", "stop", check=False)
        if self.running():  # a stop that did not finish: the postmaster dies, by id
            self._kill()

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        pid = self._postmaster_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def _kill(self) -> None:
        pid = self._postmaster_pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # the backends notice the postmaster is gone and exit
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        with contextlib.suppress(OSError):
            (self.data / "postmaster.pid").unlink()

    def close(self) -> None:
        """Kill the server and its replicas, keep the log in `log_dir`, remove the cluster."""
        if self._closed:
            return
        for replica in self._replicas:
            replica.close()
        self.stop("immediate")
        with contextlib.suppress(OSError):
            if self.server_log.exists():
                shutil.copy(self.server_log, self.log_dir / f"postgres-{self.port}.log")
        shutil.rmtree(self.dir, ignore_errors=True)
        self._closed = True

    def __enter__(self) -> PrivatePostgres:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tail(self, lines: int = 40) -> str:
        text = self.server_log.read_text(errors="replace") if self.server_log.exists() else ""
        return f"--- postgres :{self.port} ---\n" + "\n".join(text.splitlines()[-lines:])

    # -- SQL (through psql, so sync tests and fixtures may use it too) --------------------------------------

    def sql(self, query: str, *, database: str = "postgres") -> str:
        """Run one statement; returns psql's unaligned, tuples-only output."""
        result = self._run(
            "psql",
            *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database),
            *("-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", query),
        )
        return result.stdout.strip()

    # -- replication -------------------------------------------------------------------------------------------

    def start_replica(self, log_dir: Path | None = None) -> PrivatePostgres:
        """A streaming standby of this (replication=True) cluster on its own port, started; closed with it."""
        if not self.replication or self._primary is not None:
            raise RuntimeError("start_replica needs a primary made with replication=True")
        replica = PrivatePostgres(log_dir or self.log_dir, _primary=self)
        self._replicas.append(replica)
        try:
            replica.start()
        except BaseException:
            replica.close()
            raise
        return replica

    def pause_replay(self) -> None:
        """Stop applying WAL on this standby (it keeps receiving it): the replica lags until `resume_replay`."""
        self.sql("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.sql("SELECT pg_wal_replay_resume()")

    def replay_lsn(self) -> str:
        return self.sql("SELECT pg_last_wal_replay_lsn()")

    def current_lsn(self) -> str:
        """The primary's WAL position including everything inserted so far (commits are asynchronous here, so the
        write position may lag behind a commit that already returned)."""
        return self.sql("SELECT pg_current_wal_insert_lsn()")

    def caught_up(self, primary_lsn: str) -> bool:
        """True once this standby has replayed the primary's WAL up to `primary_lsn`."""
        return self.sql(f"SELECT pg_last_wal_replay_lsn() >= '{primary_lsn}'::pg_lsn") == "t"
