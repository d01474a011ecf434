"""The GraphQL schema: root types assembled from the domains, hardened with Strawberry's own extensions."""

from __future__ import annotations

import strawberry
from strawberry.schema.config import StrawberryConfig
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.extensions.max_aliases import create_validator as max_aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as max_depth_rule

from cms.api.audit.types import AuditQuery
from cms.api.content.mutations import ContentMutation
from cms.api.content.queries import ContentQuery
from cms.api.errors_masking import CorrelatedMaskErrors
from cms.api.media.jobs import JobMutation, JobQuery
from cms.api.media.renditions import ProgressSubscription
from cms.api.media.uploads import UploadMutation
from cms.api.queries import NodeQuery
from cms.api.scalars import SCALAR_MAP

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 2_000
# Built once: ValidationCache keys on the rule classes, so fresh classes per request would never hit it.
_LIMIT_RULES = [max_depth_rule(MAX_DEPTH, None, None), max_aliases_rule(MAX_ALIASES)]


@strawberry.type
class Query(NodeQuery, ContentQuery, AuditQuery, JobQuery):
    pass


@strawberry.type
class Mutation(ContentMutation, UploadMutation, JobMutation):
    pass


@strawberry.type
class Subscription(ProgressSubscription):
    pass


class _Schema(strawberry.Schema):
    def process_errors(self, errors, execution_context=None) -> None:
        """Logging happens in CorrelatedMaskErrors, with the correlation id and only for unexpected errors."""


def build_schema() -> strawberry.Schema:
    return _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALAR_MAP),
        # Factories: each request gets fresh extension instances (they hold per-request state).
        extensions=[
            lambda: AddValidationRules(_LIMIT_RULES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            CorrelatedMaskErrors,
        ],
    )
