"""Count the SQL statements Tortoise sends, for tests and benchmarks that assert or print query counts."""

from __future__ import annotations

import logging


class QueryCounter(logging.Handler):
    """Tortoise logs each statement at DEBUG on `tortoise.db_client`; this collects them while entered."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.statements.append(record.getMessage())

    def __enter__(self) -> QueryCounter:
        logger = logging.getLogger("tortoise.db_client")
        self._level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("tortoise.db_client")
        logger.removeHandler(self)
        logger.setLevel(self._level)
