"""Which PostgreSQL text search configuration stems an item's text, from its BCP 47 language tag."""

from __future__ import annotations

from search.text import primary_subtag

SIMPLE = "simple"  # lower-cases, no stemming, no stop words: every language matches through it

# ISO 639-1 primary subtag -> PostgreSQL's built-in snowball configuration (`SELECT cfgname FROM pg_ts_config`).
# Languages missing here (Persian, Chinese, Japanese, ...) have no stemmer and are indexed with `simple` only.
CONFIGS = {
    "ar": "arabic",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "ne": "nepali",
    "nl": "dutch",
    "nn": "norwegian",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}


def ts_config(language: str | None, available: frozenset[str] | set[str] | None = None) -> str:
    """The configuration for an item in `language`; `simple` when the language has none, or when the server
    lacks it (`available` = the server's configurations, when known)."""
    config = CONFIGS.get(primary_subtag(language) or "", SIMPLE)
    if available is not None and config not in available:
        return SIMPLE
    return config
