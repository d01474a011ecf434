"""People known to the CMS: created from their OIDC identity the first time they act."""

from __future__ import annotations

from tortoise import fields
from tortoise.contrib.postgres.fields import ArrayField
from tortoise.models import Model


class User(Model):
    id = fields.BigIntField(primary_key=True)
    subject = fields.CharField(max_length=255, unique=True)
    display_name = fields.CharField(max_length=200, null=True)
    email = fields.CharField(max_length=320, null=True)
    roles = ArrayField("text", default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "cms_user"
