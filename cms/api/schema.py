"""The GraphQL schema: root types assembled from the domains, hardened with Strawberry's own extensions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import strawberry
from graphql.validation import ASTValidationRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from cms.api.audit.types import AuditQuery
from cms.api.compiled.operations import CompiledOperations
from cms.api.content.mutations import ContentMutation
from cms.api.content.queries import ContentQuery
from cms.api.cost import Charge, QueryCost
from cms.api.errors_masking import CorrelatedMaskErrors
from cms.api.ingest.operations import SourceMutation, SourceQuery
from cms.api.instrumentation import OperationMetrics
from cms.api.media.jobs import JobMutation, JobQuery
from cms.api.media.renditions import ProgressSubscription
from cms.api.media.uploads import UploadMutation
from cms.api.queries import NodeQuery
from cms.api.reads import AnonymousReads
from cms.api.scalars import SCALAR_MAP
from cms.api.search.queries import SearchQuery
from graphql import GraphQLError

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 2_000
MAX_COST = 10_000  # CMS_QUERY_COST_LIMIT's default: see cms/api/cost.py for what a query costs
# Built once: ValidationCache keys on the rule classes, so fresh classes per request would never hit it.
_LIMIT_RULES: list[type[ASTValidationRule]] = [max_depth_rule(MAX_DEPTH, None, None), max_aliases_rule(MAX_ALIASES)]


@strawberry.type
class Query(NodeQuery, ContentQuery, SearchQuery, AuditQuery, JobQuery, SourceQuery):
    pass


@strawberry.type
class Mutation(ContentMutation, UploadMutation, JobMutation, SourceMutation):
    pass


@strawberry.type
class Subscription(ProgressSubscription):
    pass


def _merged(root: type, extra: Sequence[type]) -> type:
    """The root type itself, or a subclass also inheriting the plugins' types (core fields win on a clash)."""
    return strawberry.type(type(root.__name__, (root, *extra), {})) if extra else root


class _ValidationCache(ValidationCache):
    def on_validate(self) -> Iterator[None]:
        if self.execution_context.pre_execution_errors:  # refused before validation (QueryCost)
            yield
        else:
            yield from super().on_validate()


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Logging happens in CorrelatedMaskErrors, with the correlation id and only for unexpected errors."""


def build_schema(
    *,
    query_types: Sequence[type] = (),
    mutation_types: Sequence[type] = (),
    cost_limit: int = MAX_COST,
    charge: Charge | None = None,
) -> strawberry.Schema:
    """`query_types` / `mutation_types`: plugin Strawberry types whose fields are merged into the root types.
    `cost_limit`: the most an operation may cost (cms/api/cost.py); `charge`: told each operation's cost before
    it runs (the rate limiter), may refuse it."""
    return _Schema(
        query=_merged(Query, query_types),
        mutation=_merged(Mutation, mutation_types),
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        # Factories: each request gets fresh extension instances (they hold per-request state).
        extensions=[
            OperationMetrics,  # first: wraps the others, reads the result after masking
            lambda: AddValidationRules(_LIMIT_RULES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: ParserCache(maxsize=256),
            lambda: QueryCost(limit=cost_limit, charge=charge),  # before validation: refuses what costs too much
            lambda: _ValidationCache(maxsize=256),
            CorrelatedMaskErrors,
            AnonymousReads,  # anonymous queries may read from the replica (DATABASE_READ_URL)
        ],
    )


def compiled_operations(
    schema: strawberry.Schema, *, cost_limit: int = MAX_COST, charge: Charge | None = None
) -> CompiledOperations:
    """The compiled path for `schema`'s query operations, with the limits build_schema gives the standard one."""
    return CompiledOperations(
        schema,
        max_tokens=MAX_TOKENS,
        validation_rules=tuple(_LIMIT_RULES),
        cost_limit=cost_limit,
        charge=charge,
    )
