"""Ingest from outside sources: sources editors manage, their runs, and the one safe HTTP client every fetch uses."""
