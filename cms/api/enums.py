"""GraphQL enums; the domain's enums are exposed as they are."""

from __future__ import annotations

from enum import Enum

import strawberry

from cms.content.models import PublishStatus as _PublishStatus
from cms.media.models import AssetKind as _AssetKind
from cms.media.models import AssetStatus as _AssetStatus

# strawberry.enum registers the GraphQL enum on the class itself and returns it unchanged; binding the class
# (not the call's result) keeps these names usable in annotations.
PublishStatus = _PublishStatus
AssetKind = _AssetKind
AssetStatus = _AssetStatus
strawberry.enum(PublishStatus, name="PublishStatus")
strawberry.enum(AssetKind, name="AssetKind")
strawberry.enum(AssetStatus, name="AssetStatus")


@strawberry.enum
class OrderDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"
