"""What a player needs: signed URLs for an asset's renditions, minted per request by a playback plugin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Playback:
    hls_url: str | None
    poster_url: str | None
    storyboard_url: str | None
    expires_at: datetime
