"""What goes into the detector: the input size a camera needs, and frames in batches.

**Input size.** YOLOX-Nano's cost grows with the input's pixels: 640 on the long side costs four times
320. A camera whose people are all large (a doorway, a corridor) does not need 640 to find them. The
:class:`InputSizer` runs a video's first frames with people at the full size, measures the smallest person
there, and then uses the smallest of ``sizes`` at which that person is still ``min_person_px`` high in the
network's input. Every ``recheck_every``-th frame runs at the full size again (someone smaller may have come
into view further away), and a person found near the limit at a reduced size sends the next frame back to
the full size at once. ``bench/detect_levers.py`` measures recall per person height and input size on the
labelled real frames; :data:`MIN_PERSON_PX` is where recall stops falling.

**Batches.** The YOLOX export reshapes its heads to a fixed batch of 1. :func:`batch_capable` rewrites
those three Reshapes to keep the input's batch dimension, so frames of one video can go through one
session run (worth little on one CPU thread, much on a GPU). Outputs for one frame are unchanged.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# A person this many pixels high in the network input is still found (bench/detect_levers.py).
MIN_PERSON_PX = 40.0
INPUT_SIZES = (640, 512, 416, 320)


@dataclass
class InputSizer:
    """Per video: the smallest detector input (long side) that keeps its smallest people detectable."""

    sizes: tuple[int, ...] = INPUT_SIZES  # the first is the full size
    min_person_px: float = MIN_PERSON_PX
    probe_frames: int = 5  # frames with people seen at the full size before a smaller size is chosen
    recheck_every: int = 30  # frames; one of every this many runs at the full size
    memory: int = 20  # full-size frames whose smallest person counts
    _smallest: deque = field(default_factory=deque, init=False, repr=False)
    _current: int = field(default=0, init=False)
    _frame: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.sizes = tuple(sorted(self.sizes, reverse=True))
        self.reset()

    @property
    def full(self) -> int:
        return self.sizes[0]

    def reset(self) -> None:
        self._smallest = deque(maxlen=self.memory)
        self._current = self.full
        self._frame = 0

    def next_size(self) -> int:
        """The long side of the next frame's input (without advancing: the detector calls :meth:`observe`)."""
        if len(self._smallest) < self.probe_frames or self._frame % self.recheck_every == 0:
            return self.full
        return self._current

    def observe(self, size: int, heights: np.ndarray, frame_long_side: int) -> None:
        """The person heights (original pixels) found in one frame run at ``size``."""
        self._frame += 1
        if not len(heights):
            return
        smallest = float(np.min(heights))
        if size == self.full:
            self._smallest.append(smallest / frame_long_side)
            self._current = self._choose()
        elif smallest * size / frame_long_side < self.min_person_px * 1.25:
            # Someone near the limit at this size: look again at the full size on the next frame.
            self._smallest.append(smallest / frame_long_side)
            self._current = self.full
            self._frame = 0

    def _choose(self) -> int:
        if len(self._smallest) < self.probe_frames:
            return self.full
        rel = min(self._smallest)  # smallest person as a share of the frame's long side
        fitting = [s for s in self.sizes if rel * s >= self.min_person_px]
        return min(fitting) if fitting else self.full


def batch_capable(model_path: Path) -> tuple[bytes | Path, int]:
    """The YOLOX model with a free batch dimension (serialised) and the largest batch it takes; the file
    itself and 1 when its graph is not the YOLOX export this knows how to rewrite."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(model_path))
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    reshapes = 0
    for node in graph.node:
        if node.op_type != "Reshape" or node.input[1] not in inits:
            continue
        shape = numpy_helper.to_array(inits[node.input[1]])
        if shape.shape == (3,) and shape[0] == 1 and shape[2] == -1:
            shape = shape.copy()
            shape[0] = 0  # 0: copy the batch dimension of the Reshape's input
            inits[node.input[1]].CopyFrom(numpy_helper.from_array(shape, node.input[1]))
            reshapes += 1
    if reshapes == 0:
        return model_path, 1
    for value in (*graph.input, *graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    return model.SerializeToString(), 64


def input_sizes(full: int) -> tuple[int, ...]:
    """The sizes a sizer may pick for a configured full size: it and the standard ones below it."""
    return (full, *(s for s in INPUT_SIZES if s < full))
