"""A transcoded clip plays through the signed edge route: every variant of the signed master decodes over HTTP."""

from __future__ import annotations

import asyncio
from urllib.parse import urljoin

import av

from tests.support import media
from tests.support.api import operation
from tests.support.jobs import drain
from tests.support.uploads import make_episode, upload_direct


def _decoded_frames(url: str) -> int:
    with av.open(url, options={"protocol_whitelist": "http,tcp", "rw_timeout": "20000000"}) as container:
        return sum(1 for _ in container.decode(video=0))


async def _published_episode_with_clip(api, settings) -> str:
    episode = await make_episode(api, "Playable")
    await upload_direct(api, episode, media.mp4_clip(seconds=3.0, width=640, height=360))
    await drain(settings)
    node = await api.data(operation("Episode"), {"id": episode}, role="editor")
    program = node["episode"]["program"]["id"]
    await api.data(operation("PublishProgram"), {"id": program}, role="editor")
    await api.data(operation("PublishEpisode"), {"id": episode}, role="editor")
    return episode


async def test_signed_master_playlist_plays_every_variant_over_http(api, settings):
    episode = await _published_episode_with_clip(api, settings)
    found = await api.data(operation("EpisodePlayback"), {"id": episode})  # anonymous: the episode is public
    playback = found["episode"]["mediaAsset"]["playback"]
    assert playback["hlsUrl"] and playback["posterUrl"] and playback["storyboardUrl"] and playback["expiresAt"]

    master = await api.client.get(playback["hlsUrl"])
    assert master.status_code == 200 and master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    variants = [line for line in master.text.splitlines() if line and not line.startswith("#")]
    assert variants
    for uri in variants:
        # PyAV blocks: run it in a thread so the app (served on this event loop) can answer it.
        frames = await asyncio.to_thread(_decoded_frames, urljoin(playback["hlsUrl"], uri))
        assert frames >= 3 * 25 - 2
    poster = await api.client.get(playback["posterUrl"])
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/jpeg"
    vtt = await api.client.get(playback["storyboardUrl"])
    assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")


async def test_a_tampered_token_is_refused(api, settings):
    episode = await _published_episode_with_clip(api, settings)
    url = (await api.data(operation("EpisodePlayback"), {"id": episode}))["episode"]["mediaAsset"]["playback"]["hlsUrl"]
    parts = url.split("/")
    signature_at = parts.index("edge") + 4
    parts[signature_at] = ("A" if parts[signature_at][0] != "A" else "B") + parts[signature_at][1:]
    response = await api.client.get("/".join(parts))
    assert response.status_code == 403


async def test_drafts_have_no_public_playback(api, settings):
    episode = await make_episode(api, "Draft")
    await upload_direct(api, episode, media.mp4_clip(seconds=2.0))
    await drain(settings)
    assert (await api.data(operation("EpisodePlayback"), {"id": episode}))["episode"] is None
    editor = await api.data(operation("EpisodePlayback"), {"id": episode}, role="editor")
    assert editor["episode"]["mediaAsset"]["playback"]["hlsUrl"]
