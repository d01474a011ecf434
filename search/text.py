"""Text handling both backends share (no I/O here): what a database or a bulk body accepts as text, and the
primary subtag of a language tag that language filters and facets use."""

from __future__ import annotations


def safe_text(value: str | None) -> str:
    """What PostgreSQL (and a JSON bulk body) accepts as text: NUL bytes become spaces, lone surrogates go; ""
    for None or a non-string."""
    if not value or not isinstance(value, str):
        return ""
    return value.replace("\x00", " ").encode("utf-8", "ignore").decode("utf-8")


def primary_subtag(language: str | None) -> str | None:
    """"fa-IR" -> "fa", "EN_us" -> "en"; None for a missing or blank tag. What language filters and facets use."""
    if not language:
        return None
    primary = language.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary or None
