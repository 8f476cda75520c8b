from __future__ import annotations

import shutil
import struct
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from opencharacters.media.mp4 import (
    Mp4Writer,
    _shift_chunk_offsets,
    _top_level_boxes,
    move_index_to_front,
)

pytestmark = pytest.mark.integration


def _clip(path: Path, faststart: bool) -> None:
    writer = Mp4Writer(path, width=64, height=48, fps=25, audio_rate=48000, faststart=faststart)
    for index in range(30):
        image = np.zeros((48, 64, 3), np.uint8)
        image[:, index : index + 8] = (255, 0, 0)  # blue, in BGR order
        writer.write_video(image, index, "bgr24")
    writer.write_audio((0.3 * np.sin(np.arange(48000) / 7)).astype(np.float32))
    writer.close()


def _packets(path: Path) -> list[tuple[bytes, Any, Any]]:
    with av.open(str(path)) as container:
        return [(bytes(p), p.pts, p.dts) for p in container.demux() if p.size]


def test_index_moves_to_the_front_and_every_packet_is_still_found(tmp_path: Path) -> None:
    at_end, moved = tmp_path / "end.mp4", tmp_path / "front.mp4"
    _clip(at_end, faststart=False)
    shutil.copy(at_end, moved)
    move_index_to_front(moved)
    assert [k for k, _, _ in _top_level_boxes(at_end)] == [b"ftyp", b"free", b"mdat", b"moov"]
    assert [k for k, _, _ in _top_level_boxes(moved)] == [b"ftyp", b"moov", b"free", b"mdat"]
    assert moved.stat().st_size == at_end.stat().st_size
    assert _packets(moved) == _packets(at_end)  # chunk offsets were shifted
    move_index_to_front(moved)  # already in front: unchanged
    assert _packets(moved) == _packets(at_end)
    assert not (tmp_path / "front.mp4.faststart").exists()

    direct = tmp_path / "direct.mp4"
    _clip(direct, faststart=True)
    assert [k for k, _, _ in _top_level_boxes(direct)] == [b"ftyp", b"moov", b"free", b"mdat"]
    with av.open(str(direct)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert frame[24, 4].tolist()[2] > 200 and frame[24, 4].tolist()[0] < 40  # BGR in, blue out


def test_64_bit_chunk_offsets_shift_and_32_bit_ones_refuse_to_overflow() -> None:
    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I4s", 8 + len(payload), kind) + payload

    def moov(kind: bytes, offsets: list[int]) -> bytearray:
        fmt = ">Q" if kind == b"co64" else ">I"
        table = box(
            kind,
            struct.pack(">II", 0, len(offsets)) + b"".join(struct.pack(fmt, o) for o in offsets),
        )
        for parent in (b"stbl", b"minf", b"mdia", b"trak"):
            table = box(parent, table)
        return bytearray(table)

    data = moov(b"co64", [10, 2**40])
    _shift_chunk_offsets(data, 0, len(data), 100)
    assert struct.unpack_from(">QQ", data, len(data) - 16) == (110, 2**40 + 100)
    data = moov(b"stco", [2**32 - 50])
    with pytest.raises(OverflowError):
        _shift_chunk_offsets(data, 0, len(data), 100)


def test_not_an_mp4_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.mp4"
    path.write_bytes(b"\x00\x00\x00\x02junk")
    with pytest.raises(ValueError):
        move_index_to_front(path)
