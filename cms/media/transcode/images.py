"""Responsive WebP renditions of an uploaded image, with Pillow.

Pure and synchronous (run in a worker thread). Uploaded images are untrusted: the pixel count is checked from
the header before anything is decoded, only common still formats are parsed, and the outputs are saved fresh
(upright, sRGB, no EXIF/XMP/ICC) so no camera, location or editing metadata leaks to the public.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

MAX_PIXELS = 100_000_000  # 100 MP: above any real camera, far below what would exhaust a worker's memory
DEFAULT_WIDTHS = (320, 640, 960, 1280, 1920, 2560)
# Parsers we accept: the formats people actually upload; the rarer plugins stay out of reach of input.
_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
# What Pillow's parsers raise on hostile or broken bytes (struct/index errors surface from malformed EXIF too).
_DECODE_ERRORS = (OSError, ValueError, EOFError, SyntaxError, struct.error, IndexError, KeyError, TypeError)
_SRGB = ImageCms.createProfile("sRGB")


class ImageRejected(Exception):
    """The upload cannot be used as an image; `reason` is shown to people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ImageVariant:
    width: int
    height: int
    filename: str  # inside out_dir, e.g. "640w.webp" (the srcset descriptor)
    size_bytes: int


@dataclass(frozen=True)
class ImageResult:
    variants: list[ImageVariant]  # narrowest first
    original_width: int  # upright (after EXIF orientation)
    original_height: int


def responsive_images(
    src: str | Path,
    out_dir: str | Path,
    *,
    widths: tuple[int, ...] = DEFAULT_WIDTHS,
    quality: int = 80,
) -> ImageResult:
    """WebP at each width up to the original's (never upscaled; the original width itself when it is below
    the widest asked for), aspect preserved. Raises ImageRejected for bombs, animations and broken files."""
    if not widths or min(widths) < 1:
        raise ValueError("widths must be positive")
    return write_variants(_decode(Path(src)), out_dir, widths=widths, quality=quality)


def write_variants(
    image: Image.Image, out_dir: str | Path, *, widths: tuple[int, ...] = DEFAULT_WIDTHS, quality: int = 80
) -> ImageResult:
    """The WebP sizes of an image already decoded and checked (an upright RGB/RGBA picture with no metadata): the
    second half of `responsive_images`, shared with pictures made here (a PDF's first page)."""
    width, height = image.size
    targets = sorted({w for w in widths if w < width} | ({width} if width <= max(widths) else set()))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    variants: list[ImageVariant] = []
    # Widest first, each from the previous one: cheaper than resampling the original every time.
    source = image
    for target in reversed(targets):
        size = (target, max(1, round(height * target / width)))
        if size != source.size:
            source = source.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        name = f"{target}w.webp"
        source.save(out / name, "WEBP", quality=quality, method=4)
        variants.append(ImageVariant(size[0], size[1], name, (out / name).stat().st_size))
    return ImageResult(list(reversed(variants)), width, height)


def too_large(width: int, height: int) -> str | None:
    """Why an image of this size is refused, with the limit in the message; None when it is fine."""
    if width * height > MAX_PIXELS:
        return f"the image is too large ({width}x{height}; at most {MAX_PIXELS // 10**6} MP)"
    return None


def refuse_oversized(path: Path) -> None:
    """ImageRejected when the header says the image is over MAX_PIXELS; nothing is decoded. Bytes Pillow cannot
    read are left to the caller's own checks."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=_FORMATS) as opened:
                size = opened.size
    except Image.DecompressionBombError as exc:  # past twice Pillow's own limit: refused inside open()
        raise ImageRejected(f"the image is too large (at most {MAX_PIXELS // 10**6} MP)") from exc
    except (UnidentifiedImageError, *_DECODE_ERRORS):
        return
    if reason := too_large(*size):
        raise ImageRejected(reason)


def _decode(path: Path) -> Image.Image:
    """Open, check, fully decode and normalise: an upright RGB/RGBA image with no metadata attached."""
    try:
        with warnings.catch_warnings():
            # Pillow checks the header inside open(): it raises above twice its own limit (~179 MP) and warns
            # above it (~89 MP). Our limit is MAX_PIXELS, checked explicitly below (catch_warnings is process-wide
            # state in Python 3.11, so that check is the guard that holds under threads).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=_FORMATS) as opened:
                width, height = opened.size  # from the header: nothing decoded yet
                if reason := too_large(width, height):
                    raise ImageRejected(reason)
                if getattr(opened, "is_animated", False):  # looks at the second frame only, never counts them all
                    raise ImageRejected("animated or multi-page images are not supported; upload a still image")
                opened.load()  # a truncated file fails here, not half-way through the renditions
                upright = ImageOps.exif_transpose(opened)
                return _plain(upright)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"the image is too large (at most {MAX_PIXELS // 10**6} MP)") from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected("the file is not an image in a supported format (JPEG, PNG, WebP, GIF, BMP, TIFF)") from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected(f"the image could not be decoded: {str(exc)[:200] or type(exc).__name__}") from exc


def _plain(image: Image.Image) -> Image.Image:
    """sRGB RGB (or RGBA when it has transparency), with every piece of metadata dropped."""
    alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "RGBA", "CMYK", "L"):
        image = _to_srgb(image, icc, "RGBA" if image.mode == "RGBA" else "RGB")
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if alpha else "RGB")
    image.info = {}  # EXIF, XMP, ICC, comments: saved outputs carry none of it (this object is our own copy)
    return image


def _to_srgb(image: Image.Image, icc: bytes, mode: str) -> Image.Image:
    """Wide-gamut (Display P3, Adobe RGB) and CMYK photos keep their colours once the profile is dropped."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode) or image
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # a broken or mismatched profile: the pixels as they are beat a refusal
