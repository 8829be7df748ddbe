"""Real frames with their person boxes and foreground masks, as the indexer's describe stage sees them.

Shared by ``tests/test_colours_many.py`` (the vectorised colour path must give the old path's names)
and ``bench/describe_levers.py`` (what it saves).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.vision.detector import Detector
from indexer.foreground import Foreground


@dataclass
class FrameBoxes:
    clip: str
    t: float
    frame: np.ndarray
    boxes: np.ndarray  # (N, 4) person boxes, x1 y1 x2 y2
    foreground: np.ndarray | None


def frames_with_people(clip: Path, detector: Detector, every_s: float = 1.0, max_frames: int = 40,
                       warmup: int = 5) -> Iterator[FrameBoxes]:
    """Frames sampled every ``every_s`` s with at least one person; the background model sees every sample."""
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    step, fg, i, kept = max(1, round(fps * every_s)), Foreground(), 0, 0
    try:
        while kept < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            if i % step == 0:
                fg.update(frame)
                if i // step >= warmup:
                    people = detector.detect(frame)
                    if len(people):
                        kept += 1
                        yield FrameBoxes(clip.name, i / fps, frame, people.xyxy.astype(np.float32),
                                         fg.mask(frame.shape))
            i += 1
    finally:
        cap.release()
