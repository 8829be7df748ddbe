"""Reading single frames back from source videos at given offsets.

Used after indexing: to embed crops again (``index --embeddings-only``), and by the console to show a
sighting's frame with its box and a short strip of frames around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import FootageSearchError


class FrameReadError(FootageSearchError, RuntimeError):
    pass


def upright_bgr(frame) -> np.ndarray:
    """A decoded ``av.VideoFrame`` as BGR pixels the way a player shows it.

    Phones and some cameras store frames sideways plus a display matrix saying how to turn them; people
    lying on their side are invisible to the detector, so the turn is applied before anything else sees
    the frame. (PyAV reports the matrix's counter-clockwise angle; displaying needs the opposite turn.)
    """
    import cv2

    img = frame.to_ndarray(format="bgr24")
    turn = round(-(getattr(frame, "rotation", 0) or 0) / 90.0) % 4
    if turn == 1:
        return cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
    if turn == 2:
        return cv2.rotate(img, cv2.ROTATE_180)
    if turn == 3:
        return cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return img


def read_frames_at(path: str | Path, offsets_s: Sequence[float]) -> list[np.ndarray | None]:
    """BGR frames nearest at-or-after each offset (seconds from the file start); None where missing.

    Offsets are read in increasing order with one seek each, so a handful of frames from a long file
    costs a few GOPs of decoding, not the whole file.
    """
    import av

    order = np.argsort(np.asarray(offsets_s, dtype=np.float64))
    out: list[np.ndarray | None] = [None] * len(offsets_s)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise FrameReadError(f"cannot open {path}: {exc}") from exc
    try:
        if not container.streams.video or container.streams.video[0].codec_context is None:
            raise FrameReadError(f"{path}: no decodable video stream")
        stream = container.streams.video[0]
        tb = stream.time_base
        start = stream.start_time or 0
        for i in order:
            target = float(offsets_s[i])
            container.seek(int(target / tb) + start, stream=stream, backward=True, any_frame=False)
            best = None
            try:
                for frame in container.decode(stream):
                    if frame.pts is None:
                        continue
                    t = float((frame.pts - start) * tb)
                    best = frame
                    if t + 1e-3 >= target:
                        break
            except av.error.FFmpegError:
                pass  # a damaged tail: keep the last good frame before it
            if best is not None:
                out[i] = upright_bgr(best)
    finally:
        container.close()
    return out
