"""The per-video background model behind colour masks and motion gating."""

from __future__ import annotations

import cv2
import numpy as np

FOREGROUND_LONG_SIDE = 320
BACKGROUND_RATE = 0.1  # per sampled frame: the background image follows light changes within ~10 s


class Foreground:
    """Per-video background model at low resolution.

    Its mask keeps colour sampling on the person rather than the street, and its foreground share
    tells when nothing in view moves, so detection can be skipped (motion gating).
    """

    def __init__(self) -> None:
        self._bg = cv2.createBackgroundSubtractorMOG2(history=60, varThreshold=20, detectShadows=False)
        self._small: np.ndarray | None = None
        self.small_frame: np.ndarray | None = None  # the last frame at FOREGROUND_LONG_SIDE
        self.background: np.ndarray | None = None  # running mean of what the model calls background
        self.fraction = 1.0

    def update(self, frame: np.ndarray) -> None:
        H, W = frame.shape[:2]
        s = FOREGROUND_LONG_SIDE / max(H, W)
        small = cv2.resize(frame, (max(1, int(W * s)), max(1, int(H * s))), interpolation=cv2.INTER_AREA)
        self.small_frame = small
        m = self._bg.apply(small)
        # A background image per pixel for small regions (heads), where a dilated mask is too coarse;
        # MOG2's own getBackgroundImage costs ~1 ms, this a tenth of that.
        if self.background is None:
            self.background = small.astype(np.float32)
        else:
            cv2.accumulateWeighted(small, self.background, BACKGROUND_RATE, mask=cv2.bitwise_not(m))
        # Sensor noise leaves isolated specks; a person is a blob.
        opened = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        self.fraction = float(np.count_nonzero(opened)) / opened.size
        self._small = cv2.dilate(m, np.ones((3, 3), np.uint8))

    def mask(self, shape: tuple[int, ...]) -> np.ndarray | None:
        if self._small is None:
            return None
        return cv2.resize(self._small, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
