"""A video goes from upload to an HLS ladder with artwork, watched live over a graphql-transport-ws socket."""

from __future__ import annotations

import asyncio
import json

import av
import websockets

from cms.media.storage import Area
from tests.support import media
from tests.support.api import operation
from tests.support.jobs import drain
from tests.support.uploads import area_files, make_episode, upload_direct


async def _renditions(api, asset_id: str) -> dict:
    return (await api.data(operation("AssetRenditions"), {"id": asset_id}, role="editor"))["node"]


async def test_video_gets_a_ladder_poster_and_storyboard(api, settings):
    episode = await make_episode(api, "Ladder")
    asset = await upload_direct(api, episode, media.mp4_clip(seconds=3.0, width=640, height=360))
    await drain(settings)

    found = await _renditions(api, asset["id"])
    assert (found["status"], found["stage"], found["progress"]) == ("READY", None, 100)
    by_kind: dict[str, list[dict]] = {}
    for rendition in found["renditions"]:
        by_kind.setdefault(rendition["kind"], []).append(rendition)
    assert [r["status"] for r in by_kind["HLS_MASTER"]] == ["READY"]
    variants = {r["name"]: r for r in by_kind["HLS_VARIANT"]}
    assert "audio" in variants and all(r["status"] == "READY" for r in variants.values())
    video = [r for name, r in variants.items() if name != "audio"]
    assert video and max(r["height"] for r in video) <= 360  # never upscaled
    assert all(r["bitrate"] and r["codecs"].startswith("avc1.") for r in video)
    assert {r["kind"] for r in found["renditions"]} >= {"POSTER", "THUMBNAILS", "STORYBOARD"}

    previews = area_files(settings.data_dir, Area.PREVIEWS)
    masters = [p for p in previews if p.name == "master.m3u8" and found["sha256"] in p.parts]
    assert len(masters) == 1
    with av.open(str(masters[0]), options={"protocol_whitelist": "file"}) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 3 * 25 - 2


async def test_progress_reaches_a_websocket_subscriber(api, settings, live_server):
    episode = await make_episode(api, "Watched")
    # Long enough that the transcode spans several of the subscription's 0.5 s polls (a 2 s clip could finish
    # between two of them, so that only PROCESSING/queued and READY were seen).
    asset = await upload_direct(api, episode, media.mp4_clip(seconds=12.0, width=640, height=360))
    url = live_server.url.replace("http://", "ws://") + "/graphql"
    received: list[dict] = []
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {api.token('editor')}"}})
        )
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": operation("AssetProgress"), "variables": {"id": asset["id"]}},
                }
            )
        )
        worker = asyncio.create_task(drain(settings))
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 120))
            if message["type"] == "complete":
                break
            assert message["type"] == "next", message
            received.append(message["payload"]["data"]["assetProgress"])
        await worker
    assert received[0]["status"] == "PROCESSING" and received[-1]["status"] == "READY"
    assert any(p["stage"] in ("transcode", "store") for p in received)
    assert received[-1]["percent"] == 100


async def test_bad_token_in_connection_init_closes_the_socket(live_server):
    url = live_server.url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer nonsense"}}))
        try:
            await asyncio.wait_for(socket.recv(), 10)
        except websockets.ConnectionClosed as closed:
            assert closed.rcvd.code == 4403
        else:
            raise AssertionError("the socket stayed open")


def _sound_only_mp4(seconds: float = 1.0) -> bytes:
    """AAC in an MP4 with the generic isom brand (which sniffs as video), as many podcast .mp4 files are."""
    import io
    import math

    import numpy as np

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        stream.layout = "mono"
        t = np.arange(int(44100 * seconds)) / 44100
        frame = av.AudioFrame.from_ndarray(
            (0.3 * np.sin(2 * math.pi * 330 * t)).astype(np.float32).reshape(1, -1), format="fltp", layout="mono"
        )
        frame.sample_rate = 44100
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return out.getvalue()


async def test_sound_in_a_video_container_is_audio(api, settings):
    data = _sound_only_mp4()
    assert data[4:12] == b"ftypisom"
    episode = await make_episode(api, "Podcast mp4")
    asset = await upload_direct(api, episode, data, filename="episode.mp4")
    await drain(settings)
    found = await _renditions(api, asset["id"])
    described = (await api.data(operation("Asset"), {"id": asset["id"]}, role="editor"))["node"]
    assert (found["status"], described["kind"], described["contentType"]) == ("READY", "AUDIO", "audio/mp4"), described
    variants = [r for r in found["renditions"] if r["kind"] == "HLS_VARIANT"]
    assert [r["name"] for r in variants] == ["audio"], variants
