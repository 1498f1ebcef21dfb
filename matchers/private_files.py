"""Owner-only files: everything the pipeline writes holds personal data (directories 0700, files 0600)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_UMASK = 0o077
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


@contextmanager
def owner_only() -> Iterator[None]:
    """Files and folders created inside are readable by their owner only."""
    old = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(old)


def private_dir(path: str | os.PathLike) -> Path:
    """Create `path` (and missing parents) owner-only; an existing folder is made owner-only too."""
    path = Path(path)
    with owner_only():
        path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR_MODE)
    return path


def private_file_handler(path: str | os.PathLike) -> logging.FileHandler:
    """A logging handler appending to `path`, created owner-only (its folder too)."""
    path = Path(path)
    private_dir(path.parent)
    with owner_only():
        handler = logging.FileHandler(path, encoding="utf-8")
    os.chmod(path, PRIVATE_FILE_MODE)
    return handler


def make_tree_private(root: str | os.PathLike) -> None:
    """Make `root` and everything under it owner-only (folders 0700, files 0600)."""
    for folder, dirs, files in os.walk(root):
        os.chmod(folder, PRIVATE_DIR_MODE)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, PRIVATE_FILE_MODE)
