"""GraphQL enums; the domain's enums are exposed as they are."""

from __future__ import annotations

from enum import Enum

import strawberry

from cms.content.models import PublishStatus as _PublishStatus
from cms.media.models import AssetKind as _AssetKind
from cms.media.models import AssetStatus as _AssetStatus

PublishStatus = strawberry.enum(_PublishStatus, name="PublishStatus")
AssetKind = strawberry.enum(_AssetKind, name="AssetKind")
AssetStatus = strawberry.enum(_AssetStatus, name="AssetStatus")


@strawberry.enum
class OrderDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"
