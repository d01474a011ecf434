"""Pure media side of transcoding: plan an HLS ladder and encode it with PyAV (no database, no storage)."""

from cms.media.transcode.errors import TranscodeFailed, TranscodeTimeout
from cms.media.transcode.ladder import (
    DEFAULT_LADDER,
    DEFAULT_SETTINGS,
    EncoderSettings,
    Rung,
    RungPlan,
    ladder_fingerprint,
    plan_ladder,
)
from cms.media.transcode.pipeline import transcode_audio, transcode_video
from cms.media.transcode.results import AudioRendition, AudioResult, RenditionResult, VideoResult

__all__ = [
    "DEFAULT_LADDER",
    "DEFAULT_SETTINGS",
    "AudioRendition",
    "AudioResult",
    "EncoderSettings",
    "RenditionResult",
    "Rung",
    "RungPlan",
    "TranscodeFailed",
    "TranscodeTimeout",
    "VideoResult",
    "ladder_fingerprint",
    "plan_ladder",
    "transcode_audio",
    "transcode_video",
]
