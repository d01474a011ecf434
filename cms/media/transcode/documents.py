"""PDFs with pypdfium2 (PDFium): what the probe records, the first page as a preview and responsive WebP
thumbnails, and the text of every page for search.

Pure and synchronous, and only ever run inside the isolated child (cms.media.transcode.child), never in a worker:
an uploaded PDF is untrusted, and PDFium is C++ that parses it. A decompression bomb, a page tree too deep or a
damaged cross-reference table hits the child's address-space or time limit (or crashes it), and the asset fails
with a reason while the worker carries on. What can be refused from the document's structure is refused here first,
with a plain reason: a password, too many pages, pages of absurd size. Rendering sizes are chosen from the page
size, never from the file, so no page can ask for a bitmap larger than MAX_PIXELS.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from cms.media.transcode.images import DEFAULT_WIDTHS, MAX_PIXELS, ImageResult, write_variants

# ISO 32000-1, Annex C: the largest page a conforming reader must handle is 14,400 units (200 inches) a side.
# Real documents (A0 posters, engineering drawings) stay far below it; anything larger is a trick, not a page.
MAX_PAGE_POINTS = 14_400.0
MIN_PAGE_POINTS = 1.0
RENDER_WIDTH = max(DEFAULT_WIDTHS)  # the first page is drawn once, as wide as the widest thumbnail
MAX_RENDER_SIDE = 16_383  # WebP cannot hold a picture taller or wider than this
PREVIEW_FILE = "preview.webp"
THUMBNAILS_DIR = "images"
PREVIEW_QUALITY = 85  # above the thumbnails' 80: the preview is what people read the page by
MAX_METADATA_CHARS = 300
PAGE_SEPARATOR = "\n\n"
RENDER_SHARE = 0.1  # of the progress bar; reading the text of every page takes the rest

# Controls (tabs and newlines aside), lone surrogates and non-characters: PostgreSQL text cannot hold NUL, JSON
# and OpenSearch refuse lone surrogates, and PDFium marks soft hyphens and generated text with the rest.
_JUNK = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_OPEN_ERRORS = {
    pdfium_c.FPDF_ERR_PASSWORD: "the PDF is password-protected: upload a copy without a password",
    pdfium_c.FPDF_ERR_SECURITY: "the PDF is encrypted in a way that cannot be read: upload an unencrypted copy",
}


class DocumentRejected(Exception):
    """The PDF cannot be used; `reason` is shown to people (it ends up on the asset)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DocumentResult:
    """What `render_document` made; file names are relative to its output folder."""

    preview: str  # the first page, as wide as RENDER_WIDTH allows
    preview_width: int
    preview_height: int
    preview_size_bytes: int
    thumbnails: ImageResult  # names relative to THUMBNAILS_DIR
    pages_read: int  # pages whose text was read (all of them unless the text cap was reached first)
    text_bytes: int  # UTF-8 bytes written to the text file
    text_truncated: bool  # the text cap cut the text short


def _open(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        reason = _OPEN_ERRORS.get(getattr(exc, "err_code", None))
        raise DocumentRejected(reason or "the file is not a readable PDF (damaged or truncated)") from exc


def _check_pages(pdf: pdfium.PdfDocument, max_pages: int) -> int:
    """The page count, once every page is known to be of a sane size (read from the page tree: nothing is drawn)."""
    count = len(pdf)
    if count < 1:
        raise DocumentRejected("the PDF has no pages")
    if count > max_pages:
        raise DocumentRejected(f"the PDF has {count:,} pages; at most {max_pages:,} are accepted")
    for index in range(count):
        try:
            width, height = pdf.get_page_size(index)
        except pdfium.PdfiumError as exc:
            raise DocumentRejected(f"page {index + 1} of the PDF cannot be read") from exc
        if not (MIN_PAGE_POINTS <= width <= MAX_PAGE_POINTS and MIN_PAGE_POINTS <= height <= MAX_PAGE_POINTS):
            raise DocumentRejected(
                f"page {index + 1} of the PDF has an impossible size ({width:,.0f} x {height:,.0f} pt; at most "
                f"{MAX_PAGE_POINTS:,.0f} pt, 200 inches, a side)"
            )
    return count


def _metadata(pdf: pdfium.PdfDocument) -> dict[str, str]:
    """Title and author when the document names them (the Info dictionary; cheap, nothing else is parsed)."""
    found: dict[str, str] = {}
    try:
        info = pdf.get_metadata_dict(skip_empty=True)
    except (pdfium.PdfiumError, UnicodeDecodeError, ValueError):
        return found
    for key, name in (("Title", "title"), ("Author", "author")):
        value = " ".join(clean_text(str(info.get(key) or "")).split())[:MAX_METADATA_CHARS]
        if value:
            found[name] = value
    return found


def probe_pdf(src: str | Path, *, max_pages: int) -> dict[str, Any]:
    """The asset's probe for a PDF: page count, first page size (points), PDF version, title and author when set.
    Raises DocumentRejected for password-protected, empty, oversized or unreadable documents."""
    pdf = _open(Path(src))
    try:
        pages = _check_pages(pdf, max_pages)
        width, height = pdf.get_page_size(0)
        info: dict[str, Any] = {
            "format": "pdf",
            "pages": pages,
            "page_width_pt": round(width, 2),
            "page_height_pt": round(height, 2),
        }
        if version := pdf.get_version():
            info["pdf_version"] = f"{version // 10}.{version % 10}"
        # Encrypted with an empty user password (permissions only, "no copying" and the like): every reader opens
        # it without asking, and so do we; the probe says so. One that needs a password was refused by _open.
        if pdfium_c.FPDF_GetSecurityHandlerRevision(pdf.raw) != -1:
            info["encrypted"] = True
        info.update(_metadata(pdf))
        return info
    finally:
        pdf.close()


def render_scale(width_pt: float, height_pt: float) -> float:
    """Pixels per point for the first page: RENDER_WIDTH wide, unless that would pass MAX_RENDER_SIDE on either
    side or MAX_PIXELS in all (a very tall page is drawn narrower instead)."""
    return min(
        RENDER_WIDTH / width_pt,
        MAX_RENDER_SIDE / max(width_pt, height_pt),
        math.sqrt(MAX_PIXELS / (width_pt * height_pt)),
    )


def _render_first_page(pdf: pdfium.PdfDocument) -> Image.Image:
    page = pdf[0]
    try:
        width, height = page.get_size()  # as displayed (/Rotate applied), which is how render() draws it
        bitmap = page.render(scale=render_scale(width, height), may_draw_forms=False)
        try:
            image: Image.Image = bitmap.to_pil()
        finally:
            bitmap.close()
    finally:
        page.close()
    return image if image.mode == "RGB" else image.convert("RGB")


def clean_text(text: str) -> str:
    """Text as PDFium extracts it, made safe to store and index: Unix line ends, no controls or lone surrogates."""
    return _JUNK.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _page_text(pdf: pdfium.PdfDocument, index: int) -> str:
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            return clean_text(textpage.get_text_bounded())  # full Unicode (get_text_range is UCS-2 only)
        finally:
            textpage.close()
    finally:
        page.close()


def _write_text(
    pdf: pdfium.PdfDocument,
    pages: int,
    text_path: Path,
    *,
    max_bytes: int,
    deadline: float,
    progress: Callable[[float], None],
) -> tuple[int, int, bool]:
    """Every page's text into `text_path` (UTF-8, pages apart by a blank line), up to `max_bytes`: returns (pages
    read, bytes written, whether the cap cut it short). Pages are read one at a time and closed, so memory stays
    that of one page however long the document."""
    written = 0
    with text_path.open("w", encoding="utf-8") as sink:
        for index in range(pages):
            if time.monotonic() > deadline:
                raise DocumentRejected(f"reading the PDF's text took too long (stopped at page {index + 1})")
            text = _page_text(pdf, index).strip()
            if text:
                chunk = (PAGE_SEPARATOR if written else "") + text
                data = chunk.encode("utf-8")
                if written + len(data) > max_bytes:
                    # Cut on a character boundary: a split UTF-8 sequence is dropped rather than stored broken.
                    kept = data[: max_bytes - written].decode("utf-8", errors="ignore")
                    sink.write(kept)
                    return index + 1, written + len(kept.encode("utf-8")), True
                sink.write(chunk)
                written += len(data)
            progress((index + 1) / pages)
    return pages, written, False


def render_document(
    src: str | Path,
    out_dir: str | Path,
    text_path: str | Path,
    *,
    max_pages: int,
    max_text_bytes: int,
    deadline: float,
    progress: Callable[[float], None] = lambda _: None,
) -> DocumentResult:
    """The first page as `preview.webp` and WebP thumbnails at the image sizes (`images/<w>w.webp`) in `out_dir`;
    the text of every page into `text_path` (kept apart from `out_dir`, whose files are published as renditions).
    The same checks as `probe_pdf` run again: a master is processed again later, under limits that may have changed."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pdf = _open(Path(src))
    try:
        pages = _check_pages(pdf, max_pages)
        image = _render_first_page(pdf)
        image.save(out / PREVIEW_FILE, "WEBP", quality=PREVIEW_QUALITY, method=4)
        thumbnails = write_variants(image, out / THUMBNAILS_DIR)
        progress(RENDER_SHARE)
        read, written, truncated = _write_text(
            pdf,
            pages,
            Path(text_path),
            max_bytes=max_text_bytes,
            deadline=deadline,
            progress=lambda fraction: progress(RENDER_SHARE + (1 - RENDER_SHARE) * fraction),
        )
    finally:
        pdf.close()
    return DocumentResult(
        preview=PREVIEW_FILE,
        preview_width=image.width,
        preview_height=image.height,
        preview_size_bytes=(out / PREVIEW_FILE).stat().st_size,
        thumbnails=thumbnails,
        pages_read=read,
        text_bytes=written,
        text_truncated=truncated,
    )
