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

    public_base_url: str | None = Field(None, alias="PUBLIC_BASE_URL")
    graphiql: bool | None = Field(None, alias="CMS_GRAPHIQL")
    db_pool_max: int = Field(20, alias="CMS_DB_POOL_MAX")

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

    @field_validator("oidc_issuer", "public_base_url", mode="before")
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
