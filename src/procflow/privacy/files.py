"""Writing files that carry personal data or keys: readable by their owner only, from the first byte.

A file created with the process umask (usually 0644) and chmod-ed afterwards is readable by every user
for a moment, and an existing file keeps its old mode; both are how exports and keys leak on a shared
server. ``write_private`` creates the file as 0600 and forces 0600 on a file it replaces.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PRIVATE_MODE", "write_private"]

PRIVATE_MODE = 0o600


def write_private(path: str | os.PathLike[str], data: bytes | str, *, encoding: str = "utf-8") -> Path:
    """Write ``data`` to ``path`` with mode 0600 (owner read/write only); returns the path."""
    p = Path(path)
    raw = data.encode(encoding) if isinstance(data, str) else data
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)  # an existing file keeps its mode through O_CREAT: force it
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(raw)
    finally:
        if fd != -1:
            os.close(fd)
    return p
