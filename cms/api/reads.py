"""Marks anonymous query operations as safe to read from the read replica (cms/core/replica.py).

Only the reads of a query with no signed-in caller are marked: signed-in users read their own writes, mutations
and subscriptions read what they are about to change or watch, and those all stay on the primary."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from cms.core import replica


class AnonymousReads(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        with replica.anonymous_reads(self._anonymous_query()):
            yield

    def _anonymous_query(self) -> bool:
        context = self.execution_context
        if getattr(context.context, "principal", True) is not None:
            return False
        try:
            return context.operation_type is OperationType.QUERY
        except RuntimeError:  # no such operation: graphql-core reports it, reading nothing
            return False
