"""Input rules shared by programs and episodes: titles, slugs, tags, language codes."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from typing import Any, overload

TITLE_MAX = 300
SLUG_MAX = 120
DESCRIPTION_MAX = 20_000
TAGS_MAX = 50
TAG_MAX = 50
METADATA_MAX_BYTES = 64 * 1024
METADATA_MAX_DEPTH = 32
COMMENT_MAX = 5_000

_SLUG_RE = re.compile(r"^[^\W_]+(?:-[^\W_]+)*$")
_LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


@overload
def clean_text(problems: dict[str, str], field: str, value: str, *, required: bool, limit: int) -> str: ...
@overload
def clean_text(
    problems: dict[str, str], field: str, value: str | None, *, required: bool, limit: int
) -> str | None: ...
def clean_text(problems: dict[str, str], field: str, value: str | None, *, required: bool, limit: int) -> str | None:
    if value is None:
        if required:
            problems[field] = "is required"
        return None
    value = value.strip()
    if required and not value:
        problems[field] = "must not be empty"
    elif len(value) > limit:
        problems[field] = f"must be at most {limit} characters"
    elif "\x00" in value:
        problems[field] = "must not contain NUL characters"
    elif not _storable(value):
        problems[field] = "must be valid Unicode text"
    return value


def _storable(text: str) -> bool:
    """PostgreSQL text holds no NUL and no lone surrogates (JSON input can carry both)."""
    return "\x00" not in text and not any("\ud800" <= ch <= "\udfff" for ch in text)


def _json_problem(value: Any) -> str | None:
    """Why PostgreSQL (or json.dumps) could not take this JSON value, or None."""
    pending = [(value, 1)]  # a loop, not recursion: nesting depth is the client's choice
    while pending:
        item, depth = pending.pop()
        if depth > METADATA_MAX_DEPTH:
            return f"must be nested at most {METADATA_MAX_DEPTH} levels deep"
        if isinstance(item, str) and not _storable(item):
            return "must not contain NUL characters or invalid Unicode"
        if isinstance(item, float) and not math.isfinite(item):
            return "must not contain NaN or Infinity"
        if isinstance(item, dict):
            pending.extend((k, depth) for k in item)
            pending.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            pending.extend((v, depth + 1) for v in item)
    return None


def slugify(text: str) -> str:
    """Lower-case words joined by dashes; letters of any script survive (Persian titles keep their slug)."""
    normalized = unicodedata.normalize("NFKC", text).lower()
    words = re.findall(r"[^\W_]+", normalized)
    return "-".join(words)[:SLUG_MAX].strip("-")


def clean_slug(problems: dict[str, str], value: str) -> str:
    value = unicodedata.normalize("NFKC", value.strip()).lower()
    if not value:
        problems["slug"] = "must not be empty"
    elif len(value) > SLUG_MAX:
        problems["slug"] = f"must be at most {SLUG_MAX} characters"
    elif not _SLUG_RE.match(value):
        problems["slug"] = "may hold only letters and digits separated by single dashes"
    return value


def clean_language(problems: dict[str, str], value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > 35 or not _LANGUAGE_RE.match(value):
        problems["language"] = "must be a language tag such as 'en' or 'fa-IR'"
    return value


def clean_tags(problems: dict[str, str], tags: list[str] | None) -> list[str]:
    if not tags:
        return []
    cleaned = list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))
    if len(cleaned) > TAGS_MAX:
        problems["tags"] = f"at most {TAGS_MAX} tags"
    elif any(len(t) > TAG_MAX or not _storable(t) for t in cleaned):
        problems["tags"] = f"each tag must be at most {TAG_MAX} characters"
    return cleaned


def clean_count(problems: dict[str, str], field: str, value: int | None) -> int | None:
    if value is not None and not 0 <= value <= 1_000_000:
        problems[field] = "must be between 0 and 1000000"
    return value


def clean_metadata(problems: dict[str, str], value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems["metadata"] = "must be a JSON object"
        return {}
    problem = _json_problem(value)
    if problem:
        problems["metadata"] = problem
        return {}
    if len(json.dumps(value, ensure_ascii=False).encode()) > METADATA_MAX_BYTES:
        problems["metadata"] = f"must be at most {METADATA_MAX_BYTES} bytes as JSON"
    return value


def clean_timecode(problems: dict[str, str], value: float | None) -> float | None:
    if value is not None and (not math.isfinite(value) or value < 0 or value > 10_000_000):
        problems["timecode"] = "must be a number of seconds between 0 and 10000000"
    return value
