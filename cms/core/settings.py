"""One Settings object, read once from the environment and passed down explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from limits import parse as parse_rate
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CMS_ROLES = ("admin", "editor", "viewer")
DEV_ISSUER_PATH = "/auth/dev"


def _parse_pairs(raw: str, what: str) -> dict[str, str]:
    """Parse `a:b,c:d` into a dict; an empty string gives {}."""
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, value = item.partition(":")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{what}: expected 'key:value' pairs separated by commas, got {item!r}")
        pairs[key.strip()] = value.strip()
    return pairs


def _origin(raw: str) -> str:
    """One CORS origin, as browsers send it: lower-case scheme and host, no default port, no path."""
    text = raw.strip().rstrip("/")
    if text == "*":
        raise ValueError(
            "CMS_CORS_ORIGINS: '*' is refused; list the exact origins (https://app.example.com,...) of your frontends"
        )
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or port == -1
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
        or parts.password is not None
    ):
        raise ValueError(f"CMS_CORS_ORIGINS: {raw.strip()!r} is not an origin like https://app.example.com[:port]")
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    env: Literal["development", "production"] = Field("development", alias="CMS_ENV")
    data_dir: Path = Field(Path("./var"), alias="CMS_DATA_DIR")
    database_url: str | None = Field(None, alias="DATABASE_URL")
    # Scale-out (docs/deploy.md, "Database: read replicas and PgBouncer"). A streaming standby for anonymous GraphQL
    # queries (cms/core/replica.py), used only while it is at most CMS_READ_REPLICA_MAX_LAG_SECONDS behind and has
    # replayed every change this API was notified of; else those reads go to the primary too.
    database_read_url: str | None = Field(None, alias="DATABASE_READ_URL")
    read_replica_max_lag_seconds: float = Field(2.0, alias="CMS_READ_REPLICA_MAX_LAG_SECONDS", gt=0)
    # DATABASE_URL (and DATABASE_READ_URL) reach PgBouncer in transaction mode: no prepared statement cache.
    # LISTEN/NOTIFY (the change feed) and migrations need a session of their own: DATABASE_DIRECT_URL, the server
    # itself (or PgBouncer in session mode); unset, DATABASE_URL.
    database_pgbouncer: bool = Field(False, alias="DATABASE_PGBOUNCER")
    database_direct_url: str | None = Field(None, alias="DATABASE_DIRECT_URL")
    redis_url: str | None = Field(None, alias="REDIS_URL")

    oidc_issuer: str | None = Field(None, alias="OIDC_ISSUER")
    oidc_audience: str = Field("cms", alias="OIDC_AUDIENCE")
    oidc_roles_claim: str | None = Field(None, alias="OIDC_ROLES_CLAIM")
    oidc_role_map: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict, alias="OIDC_ROLE_MAP")
    oidc_leeway_seconds: int = Field(30, alias="OIDC_LEEWAY_SECONDS")
    # The public OIDC client (authorization code + PKCE, no secret) the admin SPA signs in as, at Keycloak or at the
    # development issuer, which signs in this client only.
    admin_client_id: str = Field("cms-admin", alias="CMS_ADMIN_CLIENT_ID", min_length=1)

    s3_endpoint_url: str | None = Field(None, alias="S3_ENDPOINT_URL")
    s3_public_endpoint_url: str | None = Field(None, alias="S3_PUBLIC_ENDPOINT_URL")
    s3_bucket_staging: str = Field("cms-staging", alias="S3_BUCKET_STAGING")
    s3_bucket_masters: str = Field("cms-masters", alias="S3_BUCKET_MASTERS")
    s3_bucket_previews: str = Field("cms-previews", alias="S3_BUCKET_PREVIEWS")
    aws_access_key_id: str | None = Field(None, alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: str | None = Field(None, alias="AWS_SECRET_ACCESS_KEY")
    aws_region: str = Field("us-east-1", alias="AWS_DEFAULT_REGION")
    # How long an S3 call waits for the server's answer (between bytes) before it counts as not answering; with one
    # retry, an S3 that accepts connections and stays silent fails a request (a 503) in about twice this.
    s3_read_timeout_seconds: float = Field(15.0, alias="CMS_S3_READ_TIMEOUT_SECONDS", gt=0)

    upload_max_bytes: int = Field(20 * 1024**3, alias="CMS_UPLOAD_MAX_BYTES")
    upload_allowed_kinds: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["VIDEO", "AUDIO", "IMAGE", "DOCUMENT"], alias="CMS_UPLOAD_KINDS"
    )
    upload_expiry_seconds: int = Field(24 * 3600, alias="CMS_UPLOAD_EXPIRY_SECONDS")
    multipart_threshold_bytes: int = Field(100 * 1024**2, alias="CMS_MULTIPART_THRESHOLD_BYTES")
    multipart_part_bytes: int = Field(64 * 1024**2, alias="CMS_MULTIPART_PART_BYTES")

    job_lease_seconds: int = Field(60, alias="CMS_JOB_LEASE_SECONDS")
    job_requeue_seconds: int = Field(120, alias="CMS_JOB_REQUEUE_SECONDS")
    job_max_attempts: int = Field(5, alias="CMS_JOB_MAX_ATTEMPTS")
    job_poll_seconds: float = Field(1.0, alias="CMS_JOB_POLL_SECONDS")
    queue_name: str = Field("cms:jobs", alias="CMS_QUEUE_NAME")
    # Separate CPU and GPU worker pools: the dispatcher hands media jobs (transcoding, process_asset) to the media
    # queue and every other job to CMS_QUEUE_NAME; `cms worker` consumes CMS_WORKER_QUEUE. Unset: one queue for all.
    media_queue_name: str | None = Field(None, alias="CMS_MEDIA_QUEUE_NAME")
    worker_queue_name: str | None = Field(None, alias="CMS_WORKER_QUEUE")
    # How often a worker records that it is alive (`cms worker-health` fails once it is this late, plus a second).
    worker_health_seconds: float = Field(15.0, alias="CMS_WORKER_HEALTH_SECONDS", gt=0)
    inline_worker: bool = Field(True, alias="CMS_INLINE_WORKER")
    # False where a deploy step runs `cms migrate` first (docs/deploy.md): many pods starting at once never race
    # to apply the same migration.
    migrate_on_start: bool = Field(True, alias="CMS_MIGRATE_ON_START")

    transcode_timeout_seconds: float = Field(2 * 3600, alias="CMS_TRANSCODE_TIMEOUT_SECONDS")
    transcode_memory_bytes: int = Field(8 * 1024**3, alias="CMS_TRANSCODE_MEMORY_BYTES")
    try_gpu: bool = Field(True, alias="CMS_TRY_GPU")
    # PDFs (cms/media/documents.py): refused above this many pages; text kept for search up to this many bytes
    # (UTF-8). Reading one runs in the same kind of isolated child as a transcode, with limits of its own: a PDF
    # reader needs far less than a video encoder, so a decompression bomb runs into the wall long before 8 GiB.
    document_max_pages: int = Field(2000, alias="CMS_DOCUMENT_MAX_PAGES", gt=0)
    document_max_text_bytes: int = Field(1024 * 1024, alias="CMS_DOCUMENT_MAX_TEXT_BYTES", gt=0)
    document_timeout_seconds: float = Field(300.0, alias="CMS_DOCUMENT_TIMEOUT_SECONDS", gt=0)
    document_memory_bytes: int = Field(2 * 1024**3, alias="CMS_DOCUMENT_MEMORY_BYTES", gt=0)

    public_cache_seconds: float = Field(5.0, alias="CMS_PUBLIC_CACHE_SECONDS")
    # Query operations run from a plan made once per document (cms/api/compiled/); false: Strawberry's executor
    # for everything (the two answer identically: tests/integration/test_executor_differential.py).
    graphql_compiled: bool = Field(True, alias="CMS_GRAPHQL_COMPILED")
    public_cache_entries: int = Field(2000, alias="CMS_PUBLIC_CACHE_ENTRIES")
    # Persisted operations (cms/http/persisted.py): Apollo's automatic persisted queries (registration of new
    # documents by hash; off: only the trusted documents of graphql/operations/ are known by hash), and, for locked-down
    # public APIs, accepting only those trusted documents (by hash or text; anything else is refused unexecuted).
    persisted_queries: bool = Field(True, alias="CMS_PERSISTED_QUERIES")
    trusted_documents_only: bool = Field(False, alias="CMS_TRUSTED_DOCUMENTS_ONLY")
    # The largest GraphQL request body; uploads have their own limit (CMS_UPLOAD_MAX_BYTES).
    max_body_bytes: int = Field(1024 * 1024, alias="CMS_MAX_BODY_BYTES", gt=0)

    opensearch_url: str | None = Field(None, alias="OPENSEARCH_URL")
    # Names the OpenSearch alias (and the prefix of its versioned indexes); one cluster can host several CMSes.
    search_index: str = Field("cms-search", alias="CMS_SEARCH_INDEX")

    edge_keys: str | None = Field(None, alias="EDGE_KEYS")
    edge_active_kid: str | None = Field(None, alias="EDGE_ACTIVE_KID")
    edge_url_seconds: int = Field(6 * 3600, alias="CMS_EDGE_URL_SECONDS")

    public_base_url: str | None = Field(None, alias="PUBLIC_BASE_URL")

    # Rate limits (cms/http/ratelimit.py), in the `limits` library's syntax ("600/minute", "5/2 second"), per
    # signed-in user (token subject) or, for anonymous callers, per client IP; failed authentications per IP.
    # Reads are counted in query cost points (cms/api/cost.py), mutations per root field, uploads per
    # createUpload field and per PUT /uploads/{id}.
    rate_limit_enabled: bool = Field(True, alias="CMS_RATE_LIMIT_ENABLED")
    rate_reads: str = Field("100000/minute", alias="CMS_RATE_READS")
    rate_mutations: str = Field("300/minute", alias="CMS_RATE_MUTATIONS")
    rate_uploads: str = Field("120/minute", alias="CMS_RATE_UPLOADS")
    rate_auth_failures: str = Field("30/minute", alias="CMS_RATE_AUTH_FAILURES")
    rate_limit_prefix: str = Field("cms:ratelimit", alias="CMS_RATE_LIMIT_PREFIX")  # Redis key prefix
    query_cost_limit: int = Field(10_000, alias="CMS_QUERY_COST_LIMIT", gt=0)
    # Browser origins (scheme://host[:port]) allowed to call /graphql and /uploads; exact origins only, `*` refused.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field((), alias="CMS_CORS_ORIGINS")
    # `cms serve` against slow and idle clients (cms/http/protocol.py) and overload (cms/http/concurrency.py).
    http_header_timeout: float = Field(10.0, alias="CMS_HTTP_HEADER_TIMEOUT", gt=0)
    http_body_timeout: float = Field(30.0, alias="CMS_HTTP_BODY_TIMEOUT", gt=0)
    http_timeout_keep_alive: int = Field(5, alias="CMS_HTTP_TIMEOUT_KEEP_ALIVE", gt=0)
    http_max_header_bytes: int = Field(64 * 1024, alias="CMS_HTTP_MAX_HEADER_BYTES", ge=1024)
    http_limit_concurrency: int = Field(1000, alias="CMS_HTTP_LIMIT_CONCURRENCY", ge=0)
    http_max_connections: int = Field(10_000, alias="CMS_HTTP_MAX_CONNECTIONS", gt=0)
    graphiql: bool | None = Field(None, alias="CMS_GRAPHIQL")
    db_pool_max: int = Field(20, alias="CMS_DB_POOL_MAX")
    # The server-side bound on any one statement of the API and the workers (PostgreSQL's statement_timeout; not
    # migrations): a statement that runs longer is cancelled, an error of the request or job, not an outage.
    db_statement_timeout_seconds: float = Field(60.0, alias="CMS_DB_STATEMENT_TIMEOUT_SECONDS", gt=0)
    # /readyz (cms/http/health.py): how long each part (database, storage, Redis) may take to answer its check.
    ready_timeout_seconds: float = Field(1.0, alias="CMS_READY_TIMEOUT_SECONDS", gt=0)
    # Observability (docs/operations.md). Logs: JSON lines in production, a console format in development; the
    # format variable overrides either way. Metrics: GET /metrics on the API, or, with a port, only on that port
    # (bound to CMS_METRICS_HOST) so the public listener never shows them. Traces: OpenTelemetry, exported over
    # OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set (the SDK reads its other OTEL_* variables itself).
    log_format: Literal["console", "json"] | None = Field(None, alias="CMS_LOG_FORMAT")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="CMS_LOG_LEVEL")
    access_log: bool = Field(True, alias="CMS_ACCESS_LOG")  # one structured line per HTTP request
    metrics_enabled: bool = Field(True, alias="CMS_METRICS_ENABLED")
    metrics_port: int | None = Field(None, alias="CMS_METRICS_PORT", ge=0, le=65535)
    metrics_host: str = Field("127.0.0.1", alias="CMS_METRICS_HOST")
    otlp_endpoint: str | None = Field(None, alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    otel_service_name: str | None = Field(None, alias="OTEL_SERVICE_NAME")
    plugins_disabled: Annotated[frozenset[str], NoDecode] = Field(frozenset(), alias="CMS_PLUGINS_DISABLED")
    # Outbound fetches of ingest sources (cms/ingest/http.py): hosts allowed although they resolve to loopback or
    # private addresses (on-premise feeds; "host" or "host:port"), and the caps on every fetch.
    ingest_allow_hosts: Annotated[frozenset[str], NoDecode] = Field(frozenset(), alias="CMS_INGEST_ALLOW_HOSTS")
    ingest_max_bytes: int = Field(4 * 1024**3, alias="CMS_INGEST_MAX_BYTES", gt=0)  # one media file
    ingest_max_document_bytes: int = Field(20 * 1024**2, alias="CMS_INGEST_MAX_DOCUMENT_BYTES", gt=0)  # feeds, API
    ingest_timeout_seconds: float = Field(30.0, alias="CMS_INGEST_TIMEOUT_SECONDS", gt=0)  # connect, and between reads
    ingest_host_requests_per_second: float = Field(5.0, alias="CMS_INGEST_HOST_RPS", gt=0)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, raw: object) -> object:
        return raw.strip().upper() if isinstance(raw, str) else raw

    @field_validator("log_format", "otlp_endpoint", "otel_service_name", mode="before")
    @classmethod
    def _blank_is_unset(cls, raw: object) -> object:
        return (raw.strip() or None) if isinstance(raw, str) else raw

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, raw: object) -> object:
        return raw.lower() if isinstance(raw, str) else raw

    @property
    def media_queue(self) -> str:
        """The queue of media jobs (CMS_MEDIA_QUEUE_NAME, else the one queue)."""
        return self.media_queue_name or self.queue_name

    @property
    def worker_queue(self) -> str:
        """The queue `cms worker` consumes (CMS_WORKER_QUEUE, else CMS_QUEUE_NAME)."""
        return self.worker_queue_name or self.queue_name

    @property
    def log_json(self) -> bool:
        """JSON log lines: CMS_LOG_FORMAT when set, else in production."""
        return self.log_format == "json" if self.log_format is not None else self.is_production

    @field_validator("plugins_disabled", mode="before")
    @classmethod
    def _plugin_names(cls, raw: object) -> object:
        if isinstance(raw, str):
            return frozenset(name.strip() for name in raw.split(",") if name.strip())
        return raw

    @field_validator("ingest_allow_hosts", mode="before")
    @classmethod
    def _hosts(cls, raw: object) -> object:
        if isinstance(raw, str):
            return frozenset(name.strip().lower() for name in raw.split(",") if name.strip())
        return raw

    @field_validator("rate_reads", "rate_mutations", "rate_uploads", "rate_auth_failures")
    @classmethod
    def _rate(cls, raw: str) -> str:
        try:
            parse_rate(raw)  # the syntax is the library's: checked once, at start-up
        except ValueError:
            raise ValueError(f"expected a rate such as '600/minute' or '5/2 second', got {raw!r}") from None
        return raw

    @field_validator("oidc_role_map", mode="before")
    @classmethod
    def _role_map(cls, raw: object) -> object:
        if isinstance(raw, str):
            mapping = _parse_pairs(raw, "OIDC_ROLE_MAP")
            unknown = sorted(set(mapping.values()) - set(CMS_ROLES))
            if unknown:
                raise ValueError(f"OIDC_ROLE_MAP maps to unknown CMS roles {unknown}; use {CMS_ROLES}")
            return mapping
        return raw

    @field_validator("upload_allowed_kinds", mode="before")
    @classmethod
    def _kinds(cls, raw: object) -> object:
        if isinstance(raw, str):
            kinds = [k.strip().upper() for k in raw.split(",") if k.strip()]
            unknown = sorted(set(kinds) - {"VIDEO", "AUDIO", "IMAGE", "DOCUMENT"})
            if unknown:
                raise ValueError(f"CMS_UPLOAD_KINDS has unknown kinds {unknown}")
            return kinds
        return raw

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, raw: object) -> object:
        if isinstance(raw, str):
            raw = [part for part in raw.split(",") if part.strip()]
        if isinstance(raw, (list, tuple)):
            return tuple(dict.fromkeys(_origin(str(item)) for item in raw))
        return raw

    @field_validator("database_url", "database_read_url", "database_direct_url", mode="before")
    @classmethod
    def _postgres_url(cls, raw: object) -> object:
        if isinstance(raw, str):
            raw = raw.strip() or None
            if raw is not None and urlsplit(raw).scheme not in ("postgres", "postgresql"):
                raise ValueError(f"expected a postgres:// or postgresql:// URL, got {urlsplit(raw).scheme!r} scheme")
        return raw

    @field_validator("oidc_issuer", "public_base_url", "s3_endpoint_url", mode="before")
    @classmethod
    def _strip_slash(cls, raw: object) -> object:
        if isinstance(raw, str):
            return raw.rstrip("/") or None
        return raw

    @model_validator(mode="after")
    def _replica_needs_a_primary(self) -> Settings:
        for name, value in (
            ("DATABASE_READ_URL", self.database_read_url),
            ("DATABASE_DIRECT_URL", self.database_direct_url),
        ):
            if value and not self.database_url:
                raise ValueError(f"{name} needs DATABASE_URL: the embedded PostgreSQL has no replica or pooler")
        if self.database_pgbouncer and not self.database_direct_url:
            raise ValueError(
                "DATABASE_PGBOUNCER needs DATABASE_DIRECT_URL: the change feed's LISTEN and migrations need a session "
                "of their own, which PgBouncer in transaction mode does not give (the server itself, or session mode)"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_issuer(self) -> Settings:
        if self.env == "production" and not self.oidc_issuer:
            raise ValueError("CMS_ENV=production requires OIDC_ISSUER: the development issuer is refused")
        return self

    @model_validator(mode="after")
    def _cost_fits_the_read_budget(self) -> Settings:
        reads = parse_rate(self.rate_reads).amount
        if self.rate_limit_enabled and self.query_cost_limit > reads:
            raise ValueError(
                f"CMS_QUERY_COST_LIMIT ({self.query_cost_limit}) is more than the whole read budget CMS_RATE_READS "
                f"({self.rate_reads}): a query costing in between could never run"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def https(self) -> bool:
        """Served over TLS: the public URL is https (HSTS is sent)."""
        return (self.public_base_url or "").lower().startswith("https://")

    @property
    def uses_dev_issuer(self) -> bool:
        return self.oidc_issuer is None

    @property
    def dev_issuer_url(self) -> str:
        """The development issuer's id; the app serves its discovery document and JWKS under this path."""
        return f"{self.public_base_url or 'http://localhost:8000'}{DEV_ISSUER_PATH}"
