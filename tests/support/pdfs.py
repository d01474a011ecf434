"""PDFs written by hand for the tests, a few hundred bytes each: text pages in a standard font, an Info dictionary,
the standard security handler (RC4, revision 2: what a password-protected PDF of any age can use), an absurd page
size, and a deflate bomb. Written out object by object so that each test says exactly what its file holds."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Sequence

# The standard security handler's padding string (ISO 32000-1, 7.6.3.3, Algorithm 2).
_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
_FILE_ID = hashlib.md5(b"cms test pdf").digest()  # noqa: S324 - the format's own hash, not security
_PERMISSIONS = -4  # every permission granted (bits 1 and 2 are reserved and must be 0)
LETTER = (612.0, 792.0)


def _rc4(key: bytes, data: bytes) -> bytes:
    state = list(range(256))
    j = 0
    for i in range(256):
        j = (j + state[i] + key[i % len(key)]) % 256
        state[i], state[j] = state[j], state[i]
    i = j = 0
    out = bytearray()
    for byte in data:
        i = (i + 1) % 256
        j = (j + state[i]) % 256
        state[i], state[j] = state[j], state[i]
        out.append(byte ^ state[(state[i] + state[j]) % 256])
    return bytes(out)


def _padded(password: str) -> bytes:
    return (password.encode("latin-1") + _PAD)[:32]


class _Encryption:
    """RC4 40-bit, revision 2: the file key from the user password, the O and U entries, and per-object keys."""

    def __init__(self, user_password: str, owner_password: str) -> None:
        owner_key = hashlib.md5(_padded(owner_password or user_password)).digest()[:5]  # noqa: S324
        self.owner = _rc4(owner_key, _padded(user_password))
        seed = _padded(user_password) + self.owner + struct.pack("<i", _PERMISSIONS) + _FILE_ID
        self.key = hashlib.md5(seed).digest()[:5]  # noqa: S324
        self.user = _rc4(self.key, _PAD)

    def encrypt(self, number: int, data: bytes) -> bytes:
        salt = number.to_bytes(3, "little") + (0).to_bytes(2, "little")
        return _rc4(hashlib.md5(self.key + salt).digest()[:10], data)  # noqa: S324

    def dictionary(self) -> bytes:
        return b"<< /Filter /Standard /V 1 /R 2 /Length 40 /O <%s> /U <%s> /P %d >>" % (
            self.owner.hex().encode(),
            self.user.hex().encode(),
            _PERMISSIONS,
        )


def _literal(text: str) -> bytes:
    data = text.encode("cp1252")
    return b"(" + data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _page_content(text: str, height: float) -> bytes:
    lines = [b"BT /F1 12 Tf 72 %d Td 16 TL" % int(height - 72)]
    lines += [_literal(line) + b" '" for line in text.split("\n")]  # ' : next line, then show the text
    return b"\n".join([*lines, b"ET"])


def _assemble(objects: list[bytes], trailer: bytes) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return bytes(out)


def text_pdf(
    pages: Sequence[str],
    *,
    title: str | None = None,
    author: str | None = None,
    size: tuple[float, float] = LETTER,
    user_password: str | None = None,
    owner_password: str = "owner",
    content: bytes | None = None,
    content_filter: bytes = b"",
) -> bytes:
    """One page per text (lines apart by newlines) in Helvetica. `user_password`: encrypted with the standard
    security handler ("" = no password needed to open, permissions only). `content`/`content_filter`: the first
    page's content stream as given (already encoded for its filter), instead of its text."""
    width, height = size
    encryption = _Encryption(user_password, owner_password) if user_password is not None else None
    first_page = 5  # 1 catalog, 2 page tree, 3 font, 4 info; then each page and its content stream
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(len(pages)))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]

    def string(number: int, text: str) -> bytes:
        if encryption is None:
            return _literal(text)
        return b"<" + encryption.encrypt(number, text.encode("cp1252")).hex().encode() + b">"

    info = []
    if title is not None:
        info.append(b"/Title " + string(4, title))
    if author is not None:
        info.append(b"/Author " + string(4, author))
    objects.append(b"<< " + b" ".join(info) + b" >>")
    for index, text in enumerate(pages):
        number = first_page + 2 * index
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Contents %d 0 R /Resources << /Font << /F1 3 0 R >> >> >>"
            % (_number(width), _number(height), number + 1)
        )
        data, extra = (
            (content, content_filter) if index == 0 and content is not None else (_page_content(text, height), b"")
        )
        if encryption is not None:
            data = encryption.encrypt(number + 1, data)
        objects.append(_stream(data, extra))
    trailer = b"/Info 4 0 R"
    if encryption is not None:
        objects.append(encryption.dictionary())
        trailer += b" /Encrypt %d 0 R /ID [<%s> <%s>]" % (
            len(objects),
            _FILE_ID.hex().encode(),
            _FILE_ID.hex().encode(),
        )
    return _assemble(objects, trailer)


def _number(value: float) -> bytes:
    return (b"%d" % value) if float(value).is_integer() else (b"%.2f" % value)


def deflate_bomb(decompressed_bytes: int, *, block: int = 1 << 20) -> bytes:
    """A zlib stream that inflates to `decompressed_bytes` of spaces (PDF whitespace), about a thousandth of that in
    size, made in a moment: after a full flush the compressor's output for a repeated block repeats, so one block is
    compressed and its output repeated; the checksum at the end is computed over what it inflates to."""
    count = max(2, decompressed_bytes // block)
    data = b" " * block
    compressor = zlib.compressobj(9)
    head = compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)
    checksum = zlib.adler32(data)
    for _ in range(count - 1):
        checksum = zlib.adler32(data, checksum)
    # b"\x03\x00": an empty final block with fixed codes; then the Adler-32 of everything, big-endian.
    return head + body * (count - 1) + b"\x03\x00" + struct.pack(">I", checksum)


def bomb_pdf(decompressed_bytes: int) -> bytes:
    """A one-page PDF whose content stream inflates to `decompressed_bytes`."""
    return text_pdf(["bomb"], content=deflate_bomb(decompressed_bytes), content_filter=b"/Filter /FlateDecode ")
