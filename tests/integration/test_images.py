"""Responsive WebP renditions: upright, metadata-free, never upscaled; bombs and broken files refused."""

from __future__ import annotations

import io
import resource
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from cms.media.transcode.images import ImageRejected, responsive_images
from tests.support.media import png_header_only

ORIENTATION = 0x0112


def _jpeg(path: Path, size: tuple[int, int], *, orientation: int | None = None) -> Path:
    """Left half red, right half blue, so a rotation shows; optional EXIF orientation, an ICC profile and XMP."""
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[0x010F] = "ACME Camera"  # Make: the kind of thing that must not leak
    if orientation:
        exif[ORIENTATION] = orientation
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    image.save(path, "JPEG", quality=95, exif=exif.tobytes(), icc_profile=icc, xmp=b"<x:xmpmeta secret='1'/>")
    return path


def test_exif_orientation_applied_and_metadata_stripped(tmp_path: Path) -> None:
    src = _jpeg(tmp_path / "photo.jpg", (1200, 600), orientation=6)
    result = responsive_images(src, tmp_path / "out")
    assert (result.original_width, result.original_height) == (600, 1200)  # orientation 6: turned upright
    assert [v.width for v in result.variants] == [320, 600]
    for variant in result.variants:
        path = tmp_path / "out" / variant.filename
        assert variant.size_bytes == path.stat().st_size > 0
        with Image.open(path) as image:
            assert image.format == "WEBP"
            assert image.size == (variant.width, variant.height)
            assert variant.height == variant.width * 2
            assert not image.getexif()
            assert not {"exif", "icc_profile", "xmp"} & set(image.info)
            rgb = image.convert("RGB")
            # Orientation 6 means "turn 90 degrees clockwise": the stored left half (red) ends up on top.
            assert rgb.getpixel((image.width // 2, image.height // 4))[0] > 200
            assert rgb.getpixel((image.width // 2, image.height * 3 // 4))[2] > 200
        assert b"ACME" not in path.read_bytes() and b"xmpmeta" not in path.read_bytes()


def test_never_upscales_and_keeps_the_original_width(tmp_path: Path) -> None:
    src = tmp_path / "small.png"
    Image.new("RGBA", (500, 250), (10, 200, 30, 128)).save(src)
    result = responsive_images(src, tmp_path / "out")
    assert [(v.width, v.height) for v in result.variants] == [(320, 160), (500, 250)]
    with Image.open(tmp_path / "out" / result.variants[-1].filename) as image:
        assert image.mode == "RGBA"  # transparency kept


def test_large_original_gets_every_width_but_not_itself(tmp_path: Path) -> None:
    src = tmp_path / "big.jpg"
    Image.new("RGB", (3000, 2000), (90, 90, 90)).save(src, quality=70)
    result = responsive_images(src, tmp_path / "out", widths=(640, 1920, 2560))
    assert [(v.width, v.height) for v in result.variants] == [(640, 427), (1920, 1280), (2560, 1707)]


@pytest.mark.parametrize("size", [(50_000, 50_000), (12_000, 9_000)])  # past Pillow's error; past our 100 MP
def test_pixel_bomb_is_refused_without_decoding(tmp_path: Path, size: tuple[int, int]) -> None:
    src = tmp_path / "bomb.png"
    src.write_bytes(png_header_only(*size))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    with pytest.raises(ImageRejected, match="too large .*at most 100 MP"):
        responsive_images(src, tmp_path / "out")
    # Decoding would touch gigabytes (50000^2 x 3 bytes); the refusal comes from the header alone.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024
    assert not (tmp_path / "out").exists()


def test_an_image_under_our_limit_but_over_pillows_warning_is_not_refused_for_its_size(tmp_path: Path) -> None:
    src = tmp_path / "95mp.png"
    src.write_bytes(png_header_only(10_000, 9_500))  # 95 MP: Pillow warns past 89 MP, our limit is 100 MP
    with pytest.raises(ImageRejected) as refused:
        responsive_images(src, tmp_path / "out")
    assert "too large" not in refused.value.reason  # refused for its token pixel data, not for its size


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    whole = _jpeg(tmp_path / "whole.jpg", (800, 600)).read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImageRejected, match="decoded"):
        responsive_images(cut, tmp_path / "out")


def test_garbage_and_animation_are_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image, only named like one\n" * 100)
    with pytest.raises(ImageRejected, match="not an image"):
        responsive_images(junk, tmp_path / "out")

    frames = [Image.new("RGB", (64, 64), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    animated = tmp_path / "anim.gif"
    animated.write_bytes(buffer.getvalue())
    with pytest.raises(ImageRejected, match="animated"):
        responsive_images(animated, tmp_path / "out")
