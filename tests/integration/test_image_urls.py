"""An uploaded photo as a frontend shows it: signed WebP URLs per size from `playback`, fetched through the edge."""

from __future__ import annotations

import io

from PIL import Image

from cms.core.settings import Settings
from tests.support import media
from tests.support.api import Api, operation
from tests.support.jobs import drain
from tests.support.uploads import make_episode, upload_direct

ASSET_IMAGES = operation("AssetImages")


async def test_an_image_asset_has_a_signed_url_per_size(api: Api, settings: Settings) -> None:
    episode = await make_episode(api)
    done = await upload_direct(api, episode, media.png_image(1000, 600), filename="photo.png", content_type="image/png")
    await drain(settings)

    asset = (await api.data(ASSET_IMAGES, {"id": done["id"]}, role="editor"))["node"]
    assert (asset["kind"], asset["status"]) == ("IMAGE", "READY"), asset
    images = asset["playback"]["images"]
    assert [(i["width"], i["height"]) for i in images] == [(320, 192), (640, 384), (960, 576), (1000, 600)]
    assert asset["playback"]["srcset"] == ", ".join(f"{i['url']} {i['width']}w" for i in images)
    for image in images:
        response = await api.client.get(image["url"])
        assert response.status_code == 200 and response.headers["content-type"] == "image/webp", response.text[:200]
        with Image.open(io.BytesIO(response.content)) as decoded:
            assert (decoded.format, decoded.size) == ("WEBP", (image["width"], image["height"]))
    # The signature covers the size asked for: another file's name under the same token is refused.
    tampered = images[0]["url"].replace("320w.webp", "../" + "x.webp")
    assert (await api.client.get(tampered)).status_code in (403, 404)


async def test_a_video_has_no_image_sizes(api: Api, settings: Settings) -> None:
    episode = await make_episode(api)
    done = await upload_direct(api, episode, media.mp4_clip(1.0), filename="clip.mp4")
    await drain(settings)
    playback = (await api.data(ASSET_IMAGES, {"id": done["id"]}, role="editor"))["node"]["playback"]
    assert playback["images"] == [] and playback["srcset"] is None
