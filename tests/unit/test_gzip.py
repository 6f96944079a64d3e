"""deterministic_gzip: any gzip reader decodes it, and its bytes never change (they sit in user-data).

A failure of a pinned-bytes test means every single-node instance would be replaced on the next
`pulumi up`: fix the encoder, never the expected value.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from sgarch.host import deterministic_gzip, script_text

# Any gzip member: zlib with a gzip wrapper (wbits 16 + 15).
_GZIP_WBITS = 16 + zlib.MAX_WBITS


def _block_type(member: bytes) -> int:
    """BTYPE of the first DEFLATE block: 1 fixed Huffman codes, 2 the data's own (RFC 1951 §3.2.3)."""
    return (member[10] >> 1) & 0b11


def _log_like(lines: int) -> bytes:
    # Repetitive text with a skewed alphabet, like the shell scripts user-data carries.
    return b"".join(f"line {i}: {'sourcegraph ' * (i % 7)}done\n".encode() for i in range(lines))


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3000) | st.text(alphabet="ab \n$#{}-", max_size=3000).map(str.encode))
def test_round_trips_through_zlib(data: bytes) -> None:
    assert zlib.decompress(deterministic_gzip(data), _GZIP_WBITS) == data


def test_round_trips_long_matches_and_far_distances() -> None:
    block = bytes(range(256)) * 40
    data = b"x" * 1000 + block + b"y" * 70000 + block
    assert zlib.decompress(deterministic_gzip(data), _GZIP_WBITS) == data
    assert gzip.decompress(deterministic_gzip(data)) == data


def test_is_deterministic_and_carries_no_clock() -> None:
    data = _log_like(50)
    member = deterministic_gzip(data)
    assert deterministic_gzip(data) == member
    # gzip's header holds an mtime (bytes 4-7); a clock there would change user-data on every render.
    assert member[4:8] == b"\0\0\0\0"
    assert member[:4] == b"\x1f\x8b\x08\x00"  # magic, DEFLATE, no optional fields


def test_bytes_are_pinned_for_fixed_codes() -> None:
    """Same input, same bytes, on every machine: a change here would replace every instance."""
    member = deterministic_gzip(b"sourcegraph sourcegraph sourcegraph\n")
    assert _block_type(member) == 1
    assert member.hex() == "1f8b08000000000002ff2bce2f2d4a4e4d2f4a2cc850c0c1e60200d86ac65e24000000"
    assert deterministic_gzip(b"").hex() == "1f8b08000000000002ff03000000000000000000"


def test_bytes_are_pinned_for_the_data_own_codes() -> None:
    """The dynamic-Huffman path (what the scripts take), pinned by digest: 20 KB in, 1,293 bytes out."""
    member = deterministic_gzip(_log_like(400))
    assert _block_type(member) == 2
    assert len(member) == 1293
    assert hashlib.sha256(member).hexdigest() == (
        "a92a3f8188dda8e6918244a0a34e2f540c23f59575cc419c3c5e09ebbcd46309"
    )


def test_compresses_the_scripts_well() -> None:
    source = script_text("boot.sh").encode()
    compressed = deterministic_gzip(source)
    assert _block_type(compressed) == 2
    assert len(compressed) < 0.5 * len(source)
    # Within a few percent of zlib's best, which it gives up only for the same bytes everywhere.
    assert len(compressed) < 1.1 * len(gzip.compress(source, compresslevel=9, mtime=0))
