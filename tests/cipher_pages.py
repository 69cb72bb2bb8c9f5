"""What someone holding a day file *and* its key finds in its bytes, page by page.

Day files are SQLCipher-encrypted, so their raw bytes never show a plate. The deletion
guarantees that apply while the key still lives (secure delete zeroes freed pages, the
write-ahead log is scrubbed) are checked on the pages decrypted one by one, outside SQLite,
including freed pages and old page copies in the log that no query would ever return.
SQLCipher 4 with our page size (central.databases.CIPHER_PAGE_SIZE): AES-256-CBC under the
raw key, a 16-byte IV and a 64-byte HMAC at each page's end, page 1 after a 16-byte salt;
the log has a 32-byte header and a 24-byte header per frame.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from central.databases import CIPHER_PAGE_SIZE

PAGE = CIPHER_PAGE_SIZE
RESERVE = 80
SALT = 16
WAL_HEADER = 32
FRAME_HEADER = 24


def _page(raw: bytes, key: bytes, first: bool) -> bytes:
    iv = raw[PAGE - RESERVE : PAGE - RESERVE + 16]
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(raw[SALT if first else 0 : PAGE - RESERVE]) + decryptor.finalize()


def file_plaintext(path: Path, key: bytes) -> bytes:
    data = path.read_bytes() if path.exists() else b""
    return b"".join(
        _page(data[offset : offset + PAGE], key, offset == 0)
        for offset in range(0, len(data) - PAGE + 1, PAGE)
    )


def wal_plaintext(path: Path, key: bytes) -> bytes:
    data = path.read_bytes() if path.exists() else b""
    pages, offset = [], WAL_HEADER
    while offset + FRAME_HEADER + PAGE <= len(data):
        number = int.from_bytes(data[offset : offset + 4], "big")
        pages.append(_page(data[offset + FRAME_HEADER : offset + FRAME_HEADER + PAGE], key,
                           number == 1))  # fmt: skip
        offset += FRAME_HEADER + PAGE
    return b"".join(pages)


def day_plaintext(day_file: Path, key: bytes) -> bytes:
    """Every page of the day file and of its log, decrypted: live, freed and superseded."""
    return file_plaintext(day_file, key) + wal_plaintext(
        day_file.with_name(day_file.name + "-wal"), key
    )
