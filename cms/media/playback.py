"""What a player needs: signed URLs for an asset's renditions, minted per request by a playback plugin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ImageUrl:
    """One size of an image asset (a WebP rendition): enough for an `<img srcset>` entry."""

    width: int
    height: int
    url: str


@dataclass(frozen=True)
class Playback:
    hls_url: str | None
    poster_url: str | None
    storyboard_url: str | None
    expires_at: datetime
    images: tuple[ImageUrl, ...] = ()  # an image asset's sizes, narrowest first
