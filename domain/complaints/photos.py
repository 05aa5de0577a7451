"""What an uploaded file really is, from its first bytes: clients' content types and
file names are not trusted."""

from __future__ import annotations

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}


def sniff_image(data: bytes) -> tuple[str, str] | None:
    """(content type, file suffix) of a JPEG, PNG, WebP or HEIC/HEIF image; None for
    anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg", ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png", ".png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", ".webp"
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "image/heic", ".heic"
    return None
