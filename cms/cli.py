"""`cms`: serve, worker, worker-health, migrate, reindex, import, dev-token, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cms.core.settings import CMS_ROLES, Settings

if TYPE_CHECKING:
    from rich.progress import Progress

    from cms.ingest.folder import Report

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "graphql" / "schema.graphql"


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from cms.app import create_app
    from cms.core.tracing import configure_tracing
    from cms.services import Services
    from cms.worker import inline_worker

    configure_tracing(settings, "cms-api")
    # --log-level is the server's: uvicorn's loggers (set by uvicorn) and the access line that replaces uvicorn's own.
    logging.getLogger("cms.access").setLevel(getattr(logging, args.log_level.upper(), logging.DEBUG))
    inline = settings.inline_worker and not args.no_worker
    app = create_app(Services(settings), background=[inline_worker] if inline else [], freeze_gc=True)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it; with the default action the process would
    # die by the signal and skip atexit, leaving the embedded PostgreSQL and Redis running. Exit normally instead.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        proxy_headers=True,
        server_header=False,
        http=_http_protocol(settings),
        timeout_keep_alive=settings.http_timeout_keep_alive,
        # Logging is configured (cms/core/logs.py): uvicorn's records go through the same formatter, and its access
        # line is replaced by the app's structured one (CMS_ACCESS_LOG).
        log_config=None,
        access_log=False,
    )
    return 0


def _http_protocol(settings: Settings) -> type:
    """uvicorn's httptools protocol with header/body timeouts, a header size limit and a connection cap, the open
    files limit raised so the cap fits under it (cms/http/protocol.py)."""
    from cms.http.protocol import ConnectionLimits, connection_cap, protocol_class, raise_open_files_limit

    open_files = raise_open_files_limit()
    limits = ConnectionLimits(
        header_timeout=settings.http_header_timeout,
        body_timeout=settings.http_body_timeout,
        max_header_bytes=settings.http_max_header_bytes,
        max_connections=connection_cap(settings.http_max_connections, open_files),
    )
    logging.getLogger("cms.http").info(
        "HTTP limits: headers %.0f s / %d bytes, body idle %.0f s, keep-alive %d s, %d connections (open files %d), "
        "%d requests in flight",
        limits.header_timeout,
        limits.max_header_bytes,
        limits.body_timeout,
        settings.http_timeout_keep_alive,
        limits.max_connections,
        open_files,
        settings.http_limit_concurrency,
    )
    return protocol_class(limits)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from cms.core.tracing import configure_tracing, shutdown_tracing
    from cms.services import Services
    from cms.worker import run_worker, serve_metrics

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):  # a graceful stop: running jobs are cut short, leases resume them
            loop.add_signal_handler(sig, stop.set)
        await run_worker(Services(settings), stop=stop, burst=args.burst)

    configure_tracing(settings, "cms-worker")
    serve_metrics(settings)  # its own port (CMS_METRICS_PORT, default 9464): a worker has no HTTP listener
    try:
        asyncio.run(run())
    finally:
        shutdown_tracing()  # export the spans still batched
    return 0


def _worker_health(settings: Settings, args: argparse.Namespace) -> int:
    """For orchestrators' probes. Without --any (liveness, inside the worker's pod or machine): exit 0 when a worker
    of CMS_WORKER_QUEUE under this CMS_DATA_DIR wrote its heartbeat file within twice CMS_WORKER_HEALTH_SECONDS
    (Redis being down does not fail it: the worker rides that out), 1 when none did. With --any: exit 0 when a
    worker of the queue on any host recorded itself alive in Redis, 1 when none did, 2 when Redis cannot be asked."""
    from cms.worker import check_health, check_heartbeat

    queue = settings.worker_queue
    if not args.any:
        record = check_heartbeat(settings)
        if record is None:
            window = 2 * settings.worker_health_seconds
            print(
                f"unhealthy: no worker of queue {queue!r} on this host wrote its heartbeat in the last {window:g} s",
                file=sys.stderr,
            )
            return 1
        print(f"healthy: worker of queue {queue!r} on this host: {record}")
        return 0
    if not settings.redis_url:
        print(
            "worker-health --any needs REDIS_URL: an embedded Redis lives inside the process that runs it",
            file=sys.stderr,
        )
        return 2
    try:
        found = asyncio.run(check_health(settings))
    except (OSError, ConnectionError) as exc:
        print(f"unhealthy: cannot reach Redis to check the workers: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - redis-py's own errors: a probe answers with a reason, not a traceback
        print(f"unhealthy: cannot check the workers: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if found is None:
        print(
            f"unhealthy: no worker of queue {queue!r} on any host reported in the last"
            f" {settings.worker_health_seconds + 1:g} s",
            file=sys.stderr,
        )
        return 1
    print(f"healthy: worker of queue {queue!r}: {found}")
    return 0


def _migrate(settings: Settings, args: argparse.Namespace) -> int:
    from cms.core import db

    async def run() -> None:
        target = db.direct_target(settings, db.resolve_target(settings))  # DDL over a session of its own
        await db.ensure_database(target)
        applied = await db.migrate(db.tortoise_config(target, statement_timeout=None))
        print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))

    asyncio.run(run())
    return 0


def _reindex(settings: Settings, args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from cms.services import Services
    from search.reindex import reindex

    async def run() -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        async with Services(settings).running() as services:
            backend = services.search
            with Progress(*columns, disable=args.quiet) as progress:
                task = progress.add_task(f"indexing into {backend.name}", total=None)
                result = await reindex(
                    backend,
                    on_total=lambda n: progress.update(task, total=n),
                    on_progress=lambda n: progress.advance(task, n),
                )
        print(
            f"indexed {result.documents} documents in {result.seconds:.1f} s ({result.per_second:,.0f} docs/s);"
            f" {result.caught_up} changed meanwhile and were written again"
        )

    asyncio.run(run())
    return 0


def _import(settings: Settings, args: argparse.Namespace) -> int:
    """Register a folder's media files (or, with `s3://bucket/prefix`, a bucket's media objects in place: see
    `_import_s3`) as draft episodes of a program (cms/ingest/folder.py). Exit 0 when every file went in (or was a
    duplicate, already there, or not media), 1 when some failed, 2 on bad arguments, 130 when interrupted (run it
    again to continue)."""
    from cms.ingest import folder
    from cms.services import Services

    if args.path.startswith("s3://"):
        return _import_s3(settings, args)
    root = Path(args.path)
    if not root.is_dir():
        print(f"{root}: no such folder", file=sys.stderr)
        return 2
    walk = folder.walk_folder(root)
    report = folder.Report(dry_run=args.dry_run)

    async def run() -> int:
        async with Services(settings).running() as services:
            program = await folder.find_program(args.program)
            if program is None:
                print(f"no program with the slug {args.program!r}", file=sys.stderr)
                return 2
            with _import_bar(args) as bar:
                task = bar.add_task("scanning", total=walk.total_bytes, files=len(walk.files), completed_files=0)
                done = 0

                def file_done(file: folder.FolderFile, outcome: folder.Outcome) -> None:
                    nonlocal done
                    done += 1
                    bar.update(task, completed_files=done)

                await folder.import_folder(
                    settings=settings,
                    storage=services.storage,
                    program=program,
                    root=root,
                    walk=walk,
                    report=report,
                    publish=args.publish,
                    dry_run=args.dry_run,
                    progress=folder.Progress(
                        file_started=lambda f, phase: bar.update(task, description=f"{phase} {_short(f.relative)}"),
                        bytes_done=lambda n: bar.advance(task, n),
                        file_done=file_done,
                    ),
                )
        return 0

    return _run_import(run, report)


def _import_s3(settings: Settings, args: argparse.Namespace) -> int:
    """`cms import s3://bucket/prefix`: register the objects in place (cms/ingest/s3_import.py): each is copied
    server-side into staging, never through this process. Needs the CMS to store media on S3 (S3_ENDPOINT_URL);
    the source bucket is read with the same endpoint and credentials. Exit codes as for a folder."""
    from cms.ingest import folder, s3_import
    from cms.media.storage.s3 import S3Storage, SourceObject
    from cms.services import Services

    if settings.s3_endpoint_url is None:
        print(
            "importing from s3:// needs the CMS to store its media on S3 (set S3_ENDPOINT_URL and the S3_BUCKET_*"
            " variables): the objects are copied inside S3, so they can only go to S3 storage",
            file=sys.stderr,
        )
        return 2
    try:
        bucket, prefix = s3_import.parse_s3_url(args.path)
    except s3_import.BadS3Url as exc:
        print(exc, file=sys.stderr)
        return 2
    report = folder.Report(dry_run=args.dry_run)

    async def run() -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        async with Services(settings).running() as services:
            storage = services.storage
            if not isinstance(storage, S3Storage):  # a plugin or test replaced the storage
                print("importing from s3:// needs the S3 storage backend", file=sys.stderr)
                return 2
            program = await folder.find_program(args.program)
            if program is None:
                print(f"no program with the slug {args.program!r}", file=sys.stderr)
                return 2
            try:
                listing = await s3_import.list_objects(storage, bucket, prefix)
            except (ClientError, BotoCoreError) as exc:
                print(f"cannot list s3://{bucket}/{prefix}: {exc}", file=sys.stderr)
                return 2
            with _import_bar(args) as bar:
                count = len(listing.objects)
                task = bar.add_task("listing", total=listing.total_bytes, files=count, completed_files=0)
                done = 0

                def started(item: SourceObject, phase: str) -> None:
                    bar.update(task, description=f"{phase} {_short(listing.relative(item))}")

                def object_done(item: SourceObject, outcome: folder.Outcome) -> None:
                    nonlocal done
                    done += 1  # copies happen inside S3: the bar moves by each object's size when it is done
                    bar.update(task, completed_files=done, advance=item.size)

                await s3_import.import_objects(
                    settings=settings,
                    storage=storage,
                    program=program,
                    listing=listing,
                    report=report,
                    publish=args.publish,
                    dry_run=args.dry_run,
                    progress=s3_import.Progress(object_started=started, object_done=object_done),
                )
        return 0

    return _run_import(run, report)


def _import_bar(args: argparse.Namespace) -> Progress:
    """The import's progress bar (bytes, speed, files, time left): only for people watching, so scripts and logs
    get the summary alone."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("{task.description}", style="dim"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[completed_files]}/{task.fields[files]} files"),
        TimeRemainingColumn(),
    )
    return Progress(*columns, disable=args.quiet or not sys.stdout.isatty())


def _run_import(run: Callable[[], Coroutine[Any, Any, int]], report: Report) -> int:
    """Run an import to its exit code, printing the summary (also when interrupted)."""
    try:
        code = asyncio.run(run())
    except KeyboardInterrupt:
        _print_import_summary(report)
        print("interrupted: run the same command again to continue where it stopped", file=sys.stderr)
        return 130
    if code:
        return code
    _print_import_summary(report)
    return 0 if report.ok else 1


def _short(name: str, width: int = 40) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def _print_import_summary(report: Report) -> None:
    """A table of counts, then the files worth a look as plain lines (never wrapped, so they can be grepped):
    every failure with its reason, and the first duplicates, non-media and skipped files."""
    from rich.console import Console
    from rich.table import Table

    from cms.ingest.folder import Outcome

    listed = {Outcome.FAILED: None, Outcome.DUPLICATE: 20, Outcome.NOT_MEDIA: 20, Outcome.SKIPPED: 20}
    table = Table(title="dry run: nothing was changed" if report.dry_run else None)
    table.add_column("result")
    table.add_column("files", justify="right")
    for outcome in Outcome:
        label = "would import" if report.dry_run and outcome is Outcome.IMPORTED else outcome.value
        table.add_row(label, str(report.count(outcome)))
    Console().print(table)
    for outcome, limit in listed.items():
        entries = report.entries[outcome]
        for path, detail in entries if limit is None else entries[:limit]:
            print(f"{outcome.value}: {path}: {detail}")
        if limit is not None and len(entries) > limit:
            print(f"{outcome.value}: … and {len(entries) - limit} more")
    # One plain line for scripts and logs.
    print(", ".join(f"{report.count(o)} {o.value}" for o in Outcome))


def _dev_token(settings: Settings, args: argparse.Namespace) -> int:
    from cms.auth import DevIssuer

    if not settings.uses_dev_issuer:
        print(
            "dev-token needs the development issuer: unset OIDC_ISSUER (and CMS_ENV must not be production)",
            file=sys.stderr,
        )
        return 2
    existed = DevIssuer.key_file(settings.data_dir).exists()
    issuer = DevIssuer(settings.data_dir, settings.dev_issuer_url)
    # A server only accepts tokens signed by the key under its own data dir: say which one this is.
    where = issuer.key_path.resolve()
    if existed:
        print(f"signed with the development key in {where}", file=sys.stderr)
    else:
        print(
            f"created a new development key in {where}: only a server with CMS_DATA_DIR={settings.data_dir.resolve()}"
            " accepts this token (set CMS_DATA_DIR to the server's data directory)",
            file=sys.stderr,
        )
    subject = args.subject or f"dev-{args.role}"
    print(
        issuer.mint(
            subject,
            [args.role],
            audience=settings.oidc_audience,
            ttl=args.ttl,
            name=args.name or subject,
            email=args.email,
        )
    )
    return 0


def _export_schema(settings: Settings, args: argparse.Namespace) -> int:
    from cms.api.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != sdl:
            print(f"{args.output} is stale: run `cms export-schema`", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(sdl)
    print(f"wrote {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cms", description="Headless media CMS")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API (embedded PostgreSQL when DATABASE_URL is unset)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.add_argument("--no-worker", action="store_true", help="do not run a job worker inside the API process")
    serve.set_defaults(run=_serve)

    worker = sub.add_parser("worker", help="run a job worker (arq) with the outbox relay and sweeper")
    worker.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    worker.set_defaults(run=_worker)

    health = sub.add_parser(
        "worker-health", help="exit 0 when a worker of CMS_WORKER_QUEUE on this host is alive (--any: on any host)"
    )
    health.add_argument("--any", action="store_true", help="a worker of the queue on any host will do")
    health.set_defaults(run=_worker_health)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(run=_migrate)

    reindex = sub.add_parser("reindex", help="rebuild the search index from PostgreSQL (no downtime)")
    reindex.add_argument("--quiet", action="store_true", help="no progress bar")
    reindex.set_defaults(run=_reindex)

    imports = sub.add_parser("import", help="register a folder's (or S3 prefix's) media as draft episodes of a program")
    imports.add_argument(
        "path", help="the folder to import (every media file under it), or s3://bucket/prefix (copied inside S3)"
    )
    imports.add_argument("--program", required=True, metavar="SLUG", help="the program the episodes belong to")
    imports.add_argument("--dry-run", action="store_true", help="report what would happen, change nothing")
    imports.add_argument("--publish", action="store_true", help="publish each episode once its media is ready")
    imports.add_argument("--quiet", action="store_true", help="no progress bar")
    imports.set_defaults(run=_import)

    token = sub.add_parser("dev-token", help="print a token from the development issuer")
    token.add_argument("--role", choices=CMS_ROLES, default="editor")
    token.add_argument("--subject")
    token.add_argument("--name")
    token.add_argument("--email")
    token.add_argument("--ttl", type=int, default=12 * 3600, help="seconds the token stays valid")
    token.set_defaults(run=_dev_token)

    export = sub.add_parser("export-schema", help="write the GraphQL SDL to graphql/schema.graphql")
    export.add_argument("--output", type=Path, default=SCHEMA_PATH)
    export.add_argument("--check", action="store_true", help="exit 1 when the file differs")
    export.set_defaults(run=_export_schema)
    return parser


def main(argv: list[str] | None = None) -> int:
    from cms.core.logs import configure_logging

    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)  # JSON lines in production (CMS_LOG_FORMAT), with request/trace/job context
    code: int = args.run(settings, args)
    return code


if __name__ == "__main__":
    sys.exit(main())
