"""Decompressed views of a compressed tar, read once from start to end.

tarfile's own stream mode (`r|gz`) feeds its decoder 10 KiB at a time and
copies what it buffers on every header; here each decoder gets 256 KiB of
input per call and hands out at most 1 MiB, so a member's bytes cost a few
large calls into zlib, liblzma, libbz2 or libzstd (each of which lets other
threads run meanwhile) and a bounded amount of memory, whatever the archive
expands to. `decompressed` gives tarfile a forward-only file object (mode `r:`):
it reads headers and member data in order and never seeks back (tarfile's
`r|` mode would copy its whole buffer for every 512-byte header).

A decoder needs its stream's whole window in memory: 32 KiB for gzip, up to
900 KB for bzip2, but up to 64 MiB for `xz -9` and 128 MiB or more for
`zstd --long`. Decoders whose window is over 16 MiB (or cannot be told from
the first bytes) therefore run one at a time in this process, so that several
archives unpacked at once hold at most one large window.
"""

from __future__ import annotations

import bz2
import io
import lzma
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Protocol, cast

import zstandard

__all__ = ["CODECS", "Forward", "decompressed", "window"]

_IN = 256 * 1024  # compressed bytes per decoder call
_OUT = 1024 * 1024  # at most this many bytes out per call: a bomb costs no memory
_HEAD = 64  # bytes read first, to learn the window: an xz block header or a zstd frame header
_BIG_WINDOW = 16 * 1024 * 1024
# Process-wide, as the memory it guards is: held by one large-window decoder at a time.
_big_window = threading.Lock()


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Chained(Protocol):
    """What lzma's and bz2's decompressors share."""

    @property
    def eof(self) -> bool: ...
    @property
    def needs_input(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


def _zlib(raw: _Readable) -> Iterator[bytes]:
    """gzip members one after another (zlib checks each one's CRC and length)."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    data = b""
    while True:
        if not data:
            data = raw.read(_IN)
            if not data:
                if not decoder.eof:
                    raise EOFError("compressed data ended before the end-of-stream marker")
                return
        if decoder.eof:  # the next gzip member
            decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            try:
                out = decoder.decompress(data, _OUT)
            except zlib.error:
                return  # trailing bytes that are not a member, as gzip -d ignores them
        else:
            out = decoder.decompress(data, _OUT)
        data = decoder.unused_data if decoder.eof else decoder.unconsumed_tail
        if out:
            yield out


def _chained(factory: Callable[[], _Chained]) -> Callable[[_Readable], Iterator[bytes]]:
    """Streams (xz, bzip2) one after another, as `xz -d` and `bzip2 -d` read them."""

    def chunks(raw: _Readable) -> Iterator[bytes]:
        decoder = factory()
        data = b""
        while True:
            if decoder.eof:
                data = decoder.unused_data or raw.read(_IN)
                if not data:
                    return
                decoder = factory()
                try:
                    out = decoder.decompress(data, _OUT)
                except (lzma.LZMAError, OSError):
                    return  # trailing bytes that are not a stream: ignored, as lzma.open does
                if out:
                    yield out
                continue
            elif decoder.needs_input:
                data = raw.read(_IN)
                if not data:
                    raise EOFError("compressed data ended before the end-of-stream marker")
            else:  # output was capped: the decoder holds input still
                data = b""
            if out := decoder.decompress(data, _OUT):
                yield out

    return chunks


def _zstd(raw: _Readable) -> Iterator[bytes]:
    # pzstd and `cat a.zst b.zst` make several frames; read them all.
    # stream_reader only calls read(); its stub asks for a whole IO.
    reader = zstandard.ZstdDecompressor().stream_reader(cast(IO[bytes], raw), read_size=_IN,
                                                        read_across_frames=True)
    while out := reader.read(_OUT):
        yield out


#: tar format → its decoder, yielding the decompressed bytes in order.
CODECS: dict[str, Callable[[_Readable], Iterator[bytes]]] = {
    "tar.gz": _zlib,
    "tgz": _zlib,
    "tar.xz": _chained(lzma.LZMADecompressor),
    "tar.bz2": _chained(bz2.BZ2Decompressor),
    "tar.zst": _zstd,
}


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """An xz variable-length integer at `at`: (value, offset after it)."""
    value = 0
    for shift in range(0, 63, 7):
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
    raise ValueError("overlong integer")


def _xz_window(head: bytes) -> int | None:
    """The LZMA2 dictionary size in the first block header of an xz stream."""
    if head[:6] != b"\xfd7zXZ\x00" or len(head) < 14:
        return None
    if head[12] == 0:  # the index: a stream with no blocks
        return 0
    flags, at = head[13], 14
    for present in (flags & 0x40, flags & 0x80):  # compressed, uncompressed size
        if present:
            _, at = _varint(head, at)
    for _ in range((flags & 3) + 1):
        filter_id, at = _varint(head, at)
        size, at = _varint(head, at)
        props, at = head[at:at + size], at + size
        if filter_id == 0x21 and len(props) == 1 and (bits := props[0] & 0x3F) <= 40:
            return 0xFFFFFFFF if bits == 40 else (2 | (bits & 1)) << (bits // 2 + 11)
    return None


def _zstd_window(head: bytes) -> int | None:
    return int(zstandard.get_frame_parameters(head).window_size)


_WINDOWS: dict[str, Callable[[bytes], int | None]] = {
    "tar.xz": _xz_window,
    "tar.zst": _zstd_window,
}


def window(fmt: str, head: bytes) -> int | None:
    """The decoder window a stream of format `fmt` starting with `head`
    needs (0: small, whatever it is); None when the bytes do not say."""
    learn = _WINDOWS.get(fmt)
    if learn is None:
        return 0
    try:
        return learn(head)
    except (IndexError, ValueError, zstandard.ZstdError):
        return None


class _Prefixed(io.RawIOBase):
    """`head`, then the rest of `raw`."""

    def __init__(self, head: bytes, raw: IO[bytes]) -> None:
        super().__init__()
        self._head, self._raw = head, raw

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head
        return self._raw.read(-1 if size is None else size)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _one_large_at_a_time(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """`chunks`, decoded while this thread holds the large-window lock."""
    with _big_window:
        yield from chunks


class Forward(io.RawIOBase):
    """The bytes `chunks` yields, as a file object that reads forward only:
    `seek` may skip ahead, never back. tarfile's `r:` mode needs no more."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        super().__init__()
        self._chunks = chunks
        self._buf = b""
        self._at = 0  # offset of the next unread byte in _buf
        self._pos = 0  # offset of the next unread byte in the stream

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        """Stop decoding: the decoder, and the large-window lock if it holds
        it, are let go now, not when the garbage is collected."""
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        super().close()

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(_OUT), b""))
        pieces: list[bytes] = []
        need = size
        while need > 0:
            left = len(self._buf) - self._at
            if left == 0:
                self._buf, self._at = next(self._chunks, b""), 0
                if not self._buf:
                    break
                continue
            take = min(left, need)
            whole = self._at == 0 and take == len(self._buf)
            pieces.append(self._buf if whole else self._buf[self._at:self._at + take])
            self._at += take
            need -= take
        self._pos += size - need
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def pieces(self, size: int) -> Iterator[bytes]:
        """The next `size` bytes (fewer if the stream ends first), in the
        pieces the decoder made them: nothing is joined, a piece is sliced
        only where the `size` bytes start or end inside it."""
        while size > 0:
            left = len(self._buf) - self._at
            if left == 0:
                self._buf, self._at = next(self._chunks, b""), 0
                if not self._buf:
                    return
                continue
            take = min(left, size)
            whole = self._at == 0 and take == len(self._buf)
            piece = self._buf if whole else self._buf[self._at:self._at + take]
            self._at += take
            self._pos += take
            size -= take
            yield piece

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        target = offset if whence == io.SEEK_SET else self._pos + offset
        if whence not in (io.SEEK_SET, io.SEEK_CUR) or target < self._pos:
            raise io.UnsupportedOperation("a decompressed tar is read forward only")
        while self._pos < target and self.read(min(target - self._pos, _OUT)):
            pass
        return self._pos


def decompressed(raw: IO[bytes], fmt: str) -> Forward:
    """`raw` (a compressed tar of format `fmt`, a key of CODECS) decompressed.
    Close it when done (it is a context manager): a large-window decoder
    holds a lock until then."""
    head = raw.read(_HEAD)
    chunks = CODECS[fmt](_Prefixed(head, raw))
    size = window(fmt, head)
    if size is None or size > _BIG_WINDOW:
        chunks = _one_large_at_a_time(chunks)
    return Forward(chunks)
