"""A deterministic gzip encoder (RFC 1951 DEFLATE in an RFC 1952 wrapper). Pure standard library.

**Any change to the bytes this module produces replaces every single-node instance.** The compressed
scripts and tables sit inside the instance's user-data (with a proxy, the whole document is compressed),
and the instance is created with ``user_data_replace_on_change``: a different byte there means a new
instance on the next ``pulumi up``, with Sourcegraph down while it boots (the data volume stays). The
``test_bytes_are_pinned_*`` tests in ``tests/unit/test_gzip.py`` pin the output for fixed inputs, one per
block type, and ``tests/golden/test_userdata_golden.py`` pins whole documents; neither may be regenerated
to make a change here pass.

Why not :mod:`gzip` or :mod:`zlib`: their output depends on the zlib build underneath (zlib, zlib-ng,
Apple's), so two colleagues on different machines would render different user-data from the same stack and
each ``pulumi up`` would replace the other's instance. This encoder gives the same bytes everywhere, and any
gzip reader decodes them. It makes lazy LZ77 matches over a 32 KiB window, as zlib does, then writes one
final block with the fixed Huffman codes or the data's own, whichever is smaller: a few percent larger than
``zlib -9``.
"""

from __future__ import annotations

import heapq
import struct
import zlib

__all__ = ["deterministic_gzip"]

# RFC 1951 §3.2.5: base value and extra bits of each length code (257-285) and distance code (0-29).
# fmt: off
_LENGTH_BASE: tuple[int, ...] = (
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
    35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
)
_LENGTH_EXTRA: tuple[int, ...] = (
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
    3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
)
_DIST_BASE: tuple[int, ...] = (
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129,
    193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
)
_DIST_EXTRA: tuple[int, ...] = (
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
    6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
)
# RFC 1951 §3.2.7: the order in which the code-length code's lengths are written.
_CLEN_ORDER: tuple[int, ...] = (16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15)
# fmt: on

_WINDOW = 32768
_MAX_MATCH = 258
# How many earlier positions of the same three bytes a match search tries, newest first.
_CHAIN = 64
# Magic, deflate, no flags, mtime 0 (reproducible), "maximum compression", OS "unknown".
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"


def deterministic_gzip(data: bytes) -> bytes:
    """``data`` as a gzip member whose bytes depend on ``data`` alone: no clock, no zlib build."""
    return _GZIP_HEADER + _deflate(data) + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def _deflate(data: bytes) -> bytes:
    # The smaller of the two encodings (fixed on a tie): short inputs keep the fixed codes' bytes.
    symbols = _symbols(_lz77(data))
    fixed, dynamic = _block(symbols, dynamic=False), _block(symbols, dynamic=True)
    return dynamic if len(dynamic) < len(fixed) else fixed


class _BitWriter:
    def __init__(self) -> None:
        self.out = bytearray()
        self._acc = 0
        self._bits = 0

    def bits(self, value: int, count: int) -> None:
        """Write ``count`` bits of ``value``, least significant first (DEFLATE's order for data)."""
        self._acc |= value << self._bits
        self._bits += count
        while self._bits >= 8:
            self.out.append(self._acc & 0xFF)
            self._acc >>= 8
            self._bits -= 8

    def code(self, code: int, length: int) -> None:
        """Write a Huffman code, most significant bit first."""
        self.bits(int(f"{code:0{length}b}"[::-1], 2), length)

    def finish(self) -> bytes:
        if self._bits:
            self.out.append(self._acc & 0xFF)
        return bytes(self.out)


def _bucket(value: int, bases: tuple[int, ...]) -> int:
    index = len(bases) - 1
    while bases[index] > value:
        index -= 1
    return index


def _lz77(data: bytes) -> list[tuple[int, int]]:
    """Lazy matches, as zlib makes them: ``(byte, 0)`` for a literal, ``(length, distance)`` for a match.

    A match is taken only when the match one byte later is not longer; otherwise that byte goes out as a
    literal and the longer match wins (about 3% smaller than greedy matching on our scripts).
    """
    tokens: list[tuple[int, int]] = []
    positions: dict[bytes, list[int]] = {}
    i, size = 0, len(data)

    def remember(start: int, end: int) -> None:
        for k in range(start, min(end, size - 2)):
            positions.setdefault(data[k : k + 3], []).append(k)

    def longest(at: int) -> tuple[int, int]:
        best_length = best_distance = 0
        for j in reversed(positions.get(data[at : at + 3], [])[-_CHAIN:]):
            if at - j > _WINDOW:
                break
            length = 3
            while length < _MAX_MATCH and at + length < size and data[j + length] == data[at + length]:
                length += 1
            if length > best_length:
                best_length, best_distance = length, at - j
                if length == _MAX_MATCH:
                    break
        return best_length, best_distance

    while i < size:
        best_length, best_distance = longest(i)
        remember(i, i + 1)
        if 3 <= best_length < _MAX_MATCH and longest(i + 1)[0] > best_length:
            best_length = 0
        if best_length >= 3:
            tokens.append((best_length, best_distance))
            remember(i + 1, i + best_length)
            i += best_length
        else:
            tokens.append((data[i], 0))
            i += 1
    return tokens


def _symbols(tokens: list[tuple[int, int]]) -> list[tuple[int, int, int, int, int]]:
    """Each token as (literal/length symbol, its extra bits and count, distance symbol or -1, its extras)."""
    out: list[tuple[int, int, int, int, int]] = []
    for value, distance in tokens:
        if distance == 0:
            out.append((value, 0, 0, -1, 0))
            continue
        li = _bucket(value, _LENGTH_BASE)
        di = _bucket(distance, _DIST_BASE)
        out.append((257 + li, value - _LENGTH_BASE[li], _LENGTH_EXTRA[li], di, distance - _DIST_BASE[di]))
    return out


def _fixed_lengths() -> list[int]:
    # RFC 1951 §3.2.6: the fixed literal/length code.
    return [8] * 144 + [9] * 112 + [7] * 24 + [8] * 8


def _code_lengths(freqs: list[int], limit: int) -> list[int]:
    """Huffman code lengths of at most ``limit`` bits; ties broken by symbol, so the result is deterministic.

    Too deep a tree is rebuilt from halved frequencies (all equal in the end: a balanced tree always fits).
    At least two symbols get a code, so every code is complete, as every inflater accepts.
    """
    weights = list(freqs)
    for symbol in (0, 1):
        if sum(1 for w in weights if w) < 2 and not weights[symbol]:
            weights[symbol] = 1
    while True:
        depth = [0] * len(weights)
        heap: list[tuple[int, int, tuple[int, ...]]] = [
            (w, symbol, (symbol,)) for symbol, w in enumerate(weights) if w
        ]
        heapq.heapify(heap)
        order = len(weights)
        while len(heap) > 1:
            w1, _, group1 = heapq.heappop(heap)
            w2, _, group2 = heapq.heappop(heap)
            for symbol in group1 + group2:
                depth[symbol] += 1
            heapq.heappush(heap, (w1 + w2, order, group1 + group2))
            order += 1
        if max(depth) <= limit:
            return depth
        weights = [max(1, w >> 1) if w else 0 for w in weights]


def _canonical(lengths: list[int]) -> list[int]:
    """RFC 1951 §3.2.2: the codes of a canonical Huffman code with these lengths."""
    count = [0] * 16
    for length in lengths:
        count[length] += 1
    count[0] = 0
    code, next_code = 0, [0] * 16
    for bits in range(1, 16):
        code = (code + count[bits - 1]) << 1
        next_code[bits] = code
    codes = [0] * len(lengths)
    for symbol, length in enumerate(lengths):
        if length:
            codes[symbol] = next_code[length]
            next_code[length] += 1
    return codes


def _run_lengths(lengths: list[int]) -> list[tuple[int, int, int]]:
    """RFC 1951 §3.2.7: code lengths as (symbol, extra bits, extra count), with repeats 16, 17 and 18."""
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(lengths):
        value, run = lengths[i], 1
        while i + run < len(lengths) and lengths[i + run] == value:
            run += 1
        left = run
        if value == 0:
            while left >= 11:
                step = min(left, 138)
                out.append((18, step - 11, 7))
                left -= step
            if left >= 3:
                out.append((17, left - 3, 3))
                left = 0
        else:
            out.append((value, 0, 0))
            left -= 1
            while left >= 3:
                step = min(left, 6)
                out.append((16, step - 3, 2))
                left -= step
        out += [(value, 0, 0)] * left
        i += run
    return out


def _block(symbols: list[tuple[int, int, int, int, int]], *, dynamic: bool) -> bytes:
    """One final DEFLATE block with fixed (BTYPE 01) or this data's own (BTYPE 10) Huffman codes."""
    writer = _BitWriter()
    writer.bits(1, 1)  # final block
    if dynamic:
        lit_freq, dist_freq = [0] * 286, [0] * 30
        for lit, _, _, dist, _ in symbols:
            lit_freq[lit] += 1
            if dist >= 0:
                dist_freq[dist] += 1
        lit_freq[256] += 1
        lit_len = _code_lengths(lit_freq, 15)
        dist_len = _code_lengths(dist_freq, 15)
        hlit = max(257, max(i for i, n in enumerate(lit_len) if n) + 1)
        hdist = max(1, max(i for i, n in enumerate(dist_len) if n) + 1)
        runs = _run_lengths(lit_len[:hlit] + dist_len[:hdist])
        clen_freq = [0] * 19
        for symbol, _, _ in runs:
            clen_freq[symbol] += 1
        clen_len = _code_lengths(clen_freq, 7)
        hclen = max(4, max(i for i, sym in enumerate(_CLEN_ORDER) if clen_len[sym]) + 1)
        writer.bits(2, 2)
        writer.bits(hlit - 257, 5)
        writer.bits(hdist - 1, 5)
        writer.bits(hclen - 4, 4)
        for sym in _CLEN_ORDER[:hclen]:
            writer.bits(clen_len[sym], 3)
        clen_code = _canonical(clen_len)
        for symbol, extra, count in runs:
            writer.code(clen_code[symbol], clen_len[symbol])
            writer.bits(extra, count)
    else:
        writer.bits(1, 2)
        lit_len, dist_len = _fixed_lengths(), [5] * 30
    lit_code, dist_code = _canonical(lit_len), _canonical(dist_len)
    for lit, extra, count, dist, dist_extra in symbols:
        writer.code(lit_code[lit], lit_len[lit])
        writer.bits(extra, count)
        if dist >= 0:
            writer.code(dist_code[dist], dist_len[dist])
            writer.bits(dist_extra, _DIST_EXTRA[dist])
    writer.code(lit_code[256], lit_len[256])  # end of block
    return writer.finish()
