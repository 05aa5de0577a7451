"""Where uploaded files live. Domain code talks to `BlobStorage`; the default keeps
files on local disk under `LINLI_UPLOAD_DIR`. Another backend (S3, OSS) implements the
same three calls."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


class BlobStorage(Protocol):
    def put(self, data: bytes, *, prefix: str, suffix: str = "") -> str:
        """Store `data`; return its key (opaque, unguessable)."""
        ...

    def get(self, key: str) -> bytes | None: ...

    def delete(self, key: str) -> None: ...


class LocalDiskStorage:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        # Keys come from us, but a stored key must never name a file outside the root.
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"bad storage key {key!r}")
        return path

    def put(self, data: bytes, *, prefix: str, suffix: str = "") -> str:
        safe = "".join(c for c in prefix if c.isalnum() or c in "-_/").strip("/")
        key = f"{safe}/{secrets.token_urlsafe(18)}{suffix}"
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        # Write then rename: a reader never sees half a file.
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        return key

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, ValueError):
            return None

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except ValueError:
            pass


@dataclass(frozen=True, slots=True)
class Upload:
    """A file received with a request (GraphQL multipart request spec). The client's
    file name and content type are kept for reference only: nothing trusts them."""

    data: bytes
    filename: str | None = None
    declared_type: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)


def make_storage(upload_dir: Path) -> BlobStorage:
    return LocalDiskStorage(upload_dir)
