"""The PostgreSQL search backend: its index tables, SQL and query parsing (the default backend)."""
