"""Ingest sources in the API: sources editors manage, their runs, and running one now."""
