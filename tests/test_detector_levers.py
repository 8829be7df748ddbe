"""Detector speed levers and the GPU path, on the real detector and the shared real footage.

Batches must give each frame's boxes unchanged; the per-video input size must shrink only where people
are large and come back to full size when a small person appears; a GPU asked for on a machine without
one is one clear line; GPU decoding falls back to the CPU per file with the reason recorded; the fp16
model the GPU runs finds the boxes fp32 finds.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from core.config import load_config
from core.video_frames import read_frames_at
from core.vision.detector import YoloxDetector
from core.vision.detector_input import INPUT_SIZES, MIN_PERSON_PX, InputSizer, batch_capable, input_sizes
from core.vision.onnx_device import CUDA, DeviceUnavailableError, fp16_model, resolve_onnx_device
from indexer.decode import PyAVDecoder, choose_decoder, resolve_hwaccel
from tests.conftest import DETECTOR, FOOTAGE, requires

OXFORD = FOOTAGE / "oxford_towncentre_clipA.mp4"  # 1280x720, many small people
INTEL = FOOTAGE / "intel_one_by_one_person.mp4"  # 768x432, one large person near the camera
NO_CUDA = CUDA not in ort.get_available_providers()


def _frames(path, n: int, fps: float = 1.0) -> list[np.ndarray]:
    requires(path)
    out = []
    for f in PyAVDecoder().frames(path, fps):
        out.append(f.image)
        if len(out) == n:
            break
    return out


def test_a_batch_gives_each_frame_its_own_boxes():
    requires(DETECTOR)
    frames = read_frames_at(OXFORD, [0.5, 2.0, 3.5, 5.0])
    det = YoloxDetector(DETECTOR)
    assert det.max_batch > 1  # the export's fixed batch of 1 was rewritten
    one_by_one = [det.detect_all(f) for f in frames]
    together = det.detect_all_batch(frames)
    for a, b in zip(one_by_one, together, strict=True):
        assert len(a.persons) == len(b.persons) > 5
        assert np.allclose(a.persons.xyxy, b.persons.xyxy, atol=1e-2)
        assert len(a.objects) == len(b.objects)


def test_detect_gives_the_people_of_detect_all():
    requires(DETECTOR)
    (frame,) = read_frames_at(OXFORD, [1.0])
    det = YoloxDetector(DETECTOR)
    assert np.array_equal(det.detect(frame).xyxy, det.detect_all(frame).persons.xyxy)


def test_a_camera_of_large_people_gets_a_small_input_and_a_street_keeps_640():
    requires(DETECTOR)
    det = YoloxDetector(DETECTOR, sizer=InputSizer())
    used = {}
    for name, path in (("intel", INTEL), ("oxford", OXFORD)):
        det.reset()
        sizes = []
        for frame in _frames(path, 20, fps=4.0 if path == OXFORD else 1.0):  # clip A lasts 6 s
            sizes.append(det.long_side)
            det.detect(frame)
        used[name] = sizes
    assert used["intel"][0] == 640 and min(used["intel"]) < 640
    assert set(used["oxford"]) == {640}  # people 40 px high in 720p: 20 px at 640 already


def test_single_pictures_always_get_the_full_input():
    requires(DETECTOR)
    det = YoloxDetector(DETECTOR, sizer=InputSizer())
    for frame in _frames(INTEL, 8):  # never reset: photos, exports, not a video
        assert det.long_side == 640
        det.detect(frame)


def test_sizer_chooses_from_the_smallest_person_and_goes_back_up():
    sizer = InputSizer(probe_frames=3, recheck_every=10)
    sizer.reset()
    for _ in range(3):  # 1000-px frames whose smallest person is 200 px: 320 keeps it at 64 px
        assert sizer.next_size() == 640
        sizer.observe(640, np.array([200.0, 400.0]), 1000)
    assert sizer.next_size() == 320
    sizer.observe(320, np.array([400.0]), 1000)
    # Someone near the limit at 320 (150 px -> 48 px < 1.25 x 40): the next frame is full size again.
    sizer.observe(320, np.array([150.0]), 1000)
    assert sizer.next_size() == 640
    sizer.observe(640, np.array([70.0]), 1000)  # a far person: 70 px needs 640 (44.8 px)
    assert sizer._choose() == 640
    assert input_sizes(512) == (512, 416, 320) and INPUT_SIZES[0] == 640 and MIN_PERSON_PX > 0


def test_the_configured_detector_sizes_per_video_unless_turned_off():
    requires(DETECTOR)
    from core.loading import load_detector

    over = {"models.detector_path": str(DETECTOR), "models.allow_download": False, "models.device": "cpu"}
    on = load_detector(load_config(None, over, environ={}))
    off = load_detector(load_config(None, {**over, "index.detector_input_adapt": "false"}, environ={}))
    assert on.sizer is not None and off.sizer is None
    assert on.name == off.name == "yolox-nano:yolox_nano_dynamic.onnx"  # CPU fp32 names stay as before


@pytest.mark.skipif(not NO_CUDA, reason="this machine's onnxruntime can use CUDA")
def test_cuda_without_a_gpu_is_one_clear_line(tmp_path):
    with pytest.raises(DeviceUnavailableError, match="no CUDA execution provider") as err:
        resolve_onnx_device("cuda")
    assert "\n" not in str(err.value) and "models.device = cpu" in str(err.value)
    assert resolve_onnx_device("auto") == "cpu"
    with pytest.raises(DeviceUnavailableError, match="expected cpu, cuda"):
        resolve_onnx_device("tpu")
    with pytest.raises(DeviceUnavailableError):
        YoloxDetector(DETECTOR, device="cuda:0")


@pytest.mark.skipif(not NO_CUDA, reason="this machine's onnxruntime can use CUDA")
def test_index_device_cuda_without_a_gpu_stops_before_any_work(tmp_path, capsys):
    from footage_search.cli import main

    archive = tmp_path / "archive"
    archive.mkdir()
    rc = main(["index", str(archive), "--device", "cuda", "--index", str(tmp_path / "index")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "CUDA execution provider" in err[0]
    assert not (tmp_path / "index").exists()


def test_gpu_decoding_falls_back_to_the_cpu_per_file_with_the_reason():
    requires(INTEL)
    cpu = [f.image for f in PyAVDecoder().frames(INTEL, 1.0, 0.0, 5.0)]
    dec = choose_decoder("pyav", None, 1.0, hwaccel="cuda")
    gpu = [f.image for f in dec.frames(INTEL, 1.0, 0.0, 5.0)]
    assert len(gpu) == len(cpu) == 5
    if dec.name == "pyav+cuda":  # a machine whose FFmpeg decodes on the GPU
        assert all(np.abs(a.astype(int) - b).mean() < 3 for a, b in zip(cpu, gpu, strict=True))
    else:
        assert dec.name.startswith("pyav (cpu: cuda decode unavailable (")
        assert all(np.array_equal(a, b) for a, b in zip(cpu, gpu, strict=True))


def test_hwaccel_setting():
    assert resolve_hwaccel("auto", "cuda:0") == "cuda"
    assert resolve_hwaccel("auto", "cpu") == ""
    assert resolve_hwaccel("none", "cuda:0") == ""
    assert resolve_hwaccel("vaapi", "cpu") == "vaapi"


def test_the_gpus_fp16_model_finds_the_fp32_boxes():
    """The model the CUDA path runs (fp16 weights, float32 in and out), run here on the CPU."""
    requires(DETECTOR)
    model, _ = batch_capable(DETECTOR)
    half = ort.InferenceSession(fp16_model(model), providers=["CPUExecutionProvider"])
    det = YoloxDetector(DETECTOR)
    for frame in read_frames_at(OXFORD, [1.0, 4.0]):
        blob, _ = det._letterbox(frame, 640)
        x = blob[None].astype(np.float32)
        full = det._session.run(None, {"images": x})[0]
        approx = half.run(None, {"images": x})[0]
        strong = full[0, :, 4] > 0.3
        assert strong.sum() > 5
        assert np.abs(full[0, strong, 4] - approx[0, strong, 4]).max() < 0.02  # objectness
        assert np.abs(full[0, strong, :4] - approx[0, strong, :4]).max() < 0.1  # box (grid units)


class _Counting:
    """The real detector, counting the frames it is run on."""

    def __init__(self, inner: YoloxDetector):
        self.inner, self.calls, self.name = inner, 0, inner.name

    def reset(self) -> None:
        self.inner.reset()

    def detect_all(self, frame):
        self.calls += 1
        return self.inner.detect_all(frame)


def _still_video(path, image: np.ndarray, seconds: int, fps: int = 5):
    """One real frame held for ``seconds``: a person standing in an unchanging scene."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = image.shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"g": str(fps), "keyint_min": str(fps), "sc_threshold": "0", "bf": "0"}
        for i in range(seconds * fps):
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts = i
            for pkt in stream.encode(frame):
                out.mux(pkt)
        for pkt in stream.encode():
            out.mux(pkt)
    return path


def test_still_frames_with_a_tracked_person_reuse_the_last_detections(tmp_path):
    requires(DETECTOR, INTEL)
    from core.loading import load_colours
    from core.registry import parse_registry
    from indexer.archive import VideoFile
    from indexer.pipeline import Models, index_video
    from tests.conftest import make_config

    (image,) = read_frames_at(INTEL, [55.0])  # a labelled frame: one person, 375 px tall
    clip = _still_video(tmp_path / "still.mp4", image, seconds=12)
    st = clip.stat()
    video = VideoFile(path=clip, rel_path="ROOM/still.mp4", camera_id="ROOM", start_time=1_773_450_000.0,
                      size_bytes=st.st_size, mtime=st.st_mtime)
    camera = parse_registry("camera_id,district,name,lat,lon,heading_deg\n"
                            "ROOM,Jung-gu,room,37.56,126.98,90\n").get("ROOM")
    runs = {}
    for reuse in (True, False):
        cfg = make_config(tmp_path / f"i{reuse}", index__reuse_still_detections=reuse, index__busy_fps=1.0)
        det = _Counting(YoloxDetector(DETECTOR))
        result = index_video(video, camera, Models(det, load_colours(cfg), None, 32), cfg)
        assert result.ok and result.n_sampled == 12
        runs[reuse] = (det.calls, result.sightings.to_pylist())
    (calls_on, rows_on), (calls_off, rows_off) = runs[True], runs[False]
    assert calls_off == 12 and calls_on <= 5  # detected until the background model settles, then reused
    assert len(rows_on) == len(rows_off) == 1
    assert rows_on[0]["n_detections"] == rows_off[0]["n_detections"] >= 10
    assert np.allclose(rows_on[0]["box"], rows_off[0]["box"], atol=2.0)
    assert np.allclose(rows_on[0]["upper_colour"], rows_off[0]["upper_colour"], atol=0.02)
