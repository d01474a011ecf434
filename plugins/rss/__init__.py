"""RSS, Atom and podcast feeds as an ingest source (built-in plugin)."""
