"""One Settings object, read once from the environment and passed down explicitly."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    env: Literal["development", "production"] = Field("development", alias="CMS_ENV")
    data_dir: Path = Field(Path("./var"), alias="CMS_DATA_DIR")
    database_url: str | None = Field(None, alias="DATABASE_URL")
    redis_url: str | None = Field(None, alias="REDIS_URL")

    oidc_issuer: str | None = Field(None, alias="OIDC_ISSUER")
    oidc_audience: str = Field("cms", alias="OIDC_AUDIENCE")
    oidc_roles_claim: str | None = Field(None, alias="OIDC_ROLES_CLAIM")
    oidc_role_map: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict, alias="OIDC_ROLE_MAP")
    oidc_leeway_seconds: int = Field(30, alias="OIDC_LEEWAY_SECONDS")

    s3_endpoint_url: str | None = Field(None, alias="S3_ENDPOINT_URL")
    s3_public_endpoint_url: str | None = Field(None, alias="S3_PUBLIC_ENDPOINT_URL")
    s3_bucket_staging: str = Field("cms-staging", alias="S3_BUCKET_STAGING")
    s3_bucket_masters: str = Field("cms-masters", alias="S3_BUCKET_MASTERS")
    s3_bucket_previews: str = Field("cms-previews", alias="S3_BUCKET_PREVIEWS")
    aws_access_key_id: str | None = Field(None, alias="AWS_ACCESS_KEY_ID")
    aws_secret_access_key: str | None = Field(None, alias="AWS_SECRET_ACCESS_KEY")
    aws_region: str = Field("us-east-1", alias="AWS_DEFAULT_REGION")

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
    inline_worker: bool = Field(True, alias="CMS_INLINE_WORKER")

    transcode_timeout_seconds: float = Field(2 * 3600, alias="CMS_TRANSCODE_TIMEOUT_SECONDS")
    transcode_memory_bytes: int = Field(8 * 1024**3, alias="CMS_TRANSCODE_MEMORY_BYTES")
    try_gpu: bool = Field(True, alias="CMS_TRY_GPU")

    public_cache_seconds: float = Field(5.0, alias="CMS_PUBLIC_CACHE_SECONDS")
    public_cache_entries: int = Field(2000, alias="CMS_PUBLIC_CACHE_ENTRIES")

    opensearch_url: str | None = Field(None, alias="OPENSEARCH_URL")
    # Names the OpenSearch alias (and the prefix of its versioned indexes); one cluster can host several CMSes.
    search_index: str = Field("cms-search", alias="CMS_SEARCH_INDEX")

    edge_keys: str | None = Field(None, alias="EDGE_KEYS")
    edge_active_kid: str | None = Field(None, alias="EDGE_ACTIVE_KID")
    edge_url_seconds: int = Field(6 * 3600, alias="CMS_EDGE_URL_SECONDS")

    public_base_url: str | None = Field(None, alias="PUBLIC_BASE_URL")
    graphiql: bool | None = Field(None, alias="CMS_GRAPHIQL")
    db_pool_max: int = Field(20, alias="CMS_DB_POOL_MAX")
    plugins_disabled: Annotated[frozenset[str], NoDecode] = Field(frozenset(), alias="CMS_PLUGINS_DISABLED")

    @field_validator("plugins_disabled", mode="before")
    @classmethod
    def _plugin_names(cls, raw: object) -> object:
        if isinstance(raw, str):
            return frozenset(name.strip() for name in raw.split(",") if name.strip())
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

    @field_validator("oidc_issuer", "public_base_url", "s3_endpoint_url", mode="before")
    @classmethod
    def _strip_slash(cls, raw: object) -> object:
        if isinstance(raw, str):
            return raw.rstrip("/") or None
        return raw

    @model_validator(mode="after")
    def _production_needs_issuer(self) -> "Settings":
        if self.env == "production" and not self.oidc_issuer:
            raise ValueError("CMS_ENV=production requires OIDC_ISSUER: the development issuer is refused")
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def uses_dev_issuer(self) -> bool:
        return self.oidc_issuer is None

    @property
    def dev_issuer_url(self) -> str:
        """The development issuer's id; the app serves its discovery document and JWKS under this path."""
        return f"{self.public_base_url or 'http://localhost:8000'}{DEV_ISSUER_PATH}"
