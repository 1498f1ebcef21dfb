"""Stable person IDs: a keyed hash of the valid ID (never the raw ID), or of the first record of
an ID-less person; the key comes from PERSON_ID_KEY or a key file next to the warehouse.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

KEY_ENV = "PERSON_ID_KEY"
KEY_FILE_NAME = "person_id.key"
_DIGEST_BYTES = 10  # 20 hex characters: no collision in practice among tens of millions


def key_file_path(warehouse_path: str | os.PathLike) -> Path:
    return Path(warehouse_path).parent / KEY_FILE_NAME


def load_or_create_key(warehouse_path: str | os.PathLike | None = None) -> bytes:
    """PERSON_ID_KEY (any text) if set; else the key file next to the warehouse, created 0600."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode("utf-8")
    if warehouse_path is None:
        raise ValueError("未设置 PERSON_ID_KEY, 也未给出仓库路径, 无法确定人员编号密钥")
    path = key_file_path(warehouse_path)
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key


def _hash(key: bytes, text: str) -> str:
    return "P" + hashlib.blake2b(text.encode("utf-8"), key=key[:64], digest_size=_DIGEST_BYTES).hexdigest()


def person_id_for_id(key: bytes, id_norm: str) -> str:
    """The person_id of the person holding a valid 18-digit ID."""
    return _hash(key, "id:" + id_norm)


def person_id_for_record(key: bytes, quarter: str, source: str, source_file: str, source_row: int) -> str:
    """The person_id of a new ID-less person, from its first record's provenance."""
    return _hash(key, f"row:{quarter}|{source}|{source_file}|{source_row}")


def person_ids_for_ids(key: bytes, ids: list[str]) -> dict[str, str]:
    """Map over unique IDs only."""
    return {i: person_id_for_id(key, i) for i in set(ids)}
