"""Core: settings, the database, Redis, domain errors, pagination and the outbox; every other layer builds on it."""
