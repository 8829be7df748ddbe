"""Detection levers, each measured for its CPU cost and its person recall on the labelled real frames.

Cost: CPU seconds per frame (``time.process_time``, one onnxruntime thread as each indexing worker has),
over the first sampled frames of each camera of the real benchmark archive; CPU time rather than wall time
because other work shares this machine. Quality: person recall (IoU >= 0.4) on the hand-labelled frames
of the shared footage (``verification_labels.json``, 73 people; the reference is fp32 at 640), and recall
per person height in network pixels (what :data:`core.vision.detector_input.MIN_PERSON_PX` comes from).

Levers: fixed input sizes, the per-video :class:`~core.vision.detector_input.InputSizer`, int8 models
(dynamic and static quantisation with onnxruntime.quantization; the static one also with the detection
head left in fp32 and percentile calibration, timed under onnxruntime and OpenVINO), batches of frames per
session run, and onnxruntime's session options. Results go to ``bench/results/index_levers.json`` (section ``detect``).

    .venv/bin/python -m bench.make_archive real --hours 1
    .venv/bin/python -m bench.detect_levers
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import supervision as sv

from bench.levers_file import LEVERS as RESULTS
from bench.levers_file import update_levers
from bench.machine import machine_info
from core.video_frames import read_frames_at
from core.vision.detector import YoloxDetector
from core.vision.detector_input import INPUT_SIZES, InputSizer
from indexer.decode import PyAVDecoder, PyAVKeyframeDecoder, probe

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO.parent / "shared" / "models" / "yolox_nano_coco"
FOOTAGE = REPO.parent / "shared" / "footage"
ARCHIVE = REPO / "bench" / "data" / "real-archive"
DYNAMIC = MODELS / "yolox_nano_dynamic.onnx"


def labelled() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(clip, frame, truth boxes) of the labelled frames."""
    out = []
    for fr in json.loads((MODELS / "verification_labels.json").read_text())["frames"]:
        clip = FOOTAGE / fr["clip"]
        (img,) = read_frames_at(clip, [fr["frame_index"] / probe(clip).fps])
        out.append((fr["clip"], img, np.asarray(fr["persons"], dtype=float)))
    return out


def archive_frames(per_camera: int) -> dict[str, list[np.ndarray]]:
    """The first ``per_camera`` frames at 1 fps of each camera's first file."""
    out = {}
    for cam in sorted(p for p in ARCHIVE.iterdir() if p.is_dir()):
        video = sorted(cam.glob("*.mp4"))[0]
        frames = []
        for f in PyAVKeyframeDecoder().frames(video, 1.0):
            frames.append(f.image)
            if len(frames) >= per_camera:
                break
        out[cam.name] = frames
    return out


def recall(det: YoloxDetector, frames, size_of: Callable[[str], int] | None = None) -> dict:
    """Found / total people, and per person its height in network pixels and whether it was found."""
    found = total = 0
    people = []
    for clip, img, truth in frames:
        if size_of is not None:
            det.input_long_side = size_of(clip)
        boxes = det.detect(img)
        scale = det.input_long_side / max(img.shape[:2])
        hit = sv.box_iou_batch(truth, boxes.xyxy).max(axis=1) >= 0.4 if len(boxes) else np.zeros(len(truth), bool)
        found += int(hit.sum())
        total += len(truth)
        people += [((b[3] - b[1]) * scale, bool(h)) for b, h in zip(truth, hit, strict=True)]
    return {"found": found, "total": total, "recall": round(found / total, 4), "people": people}


def cpu_per_frame(det: YoloxDetector, cams: dict[str, list[np.ndarray]], batch: int = 1) -> dict:
    """CPU ms per frame (and the input sizes used), each camera's frames as one video."""
    t0, sizes = time.process_time(), {}
    w0 = time.perf_counter()
    n = 0
    for cam, frames in cams.items():
        det.reset()
        used = []
        for lo in range(0, len(frames), batch):
            used.append(det.long_side)
            det.detect_all_batch(frames[lo: lo + batch])
        sizes[cam] = {str(s): used.count(s) for s in sorted(set(used), reverse=True)}
        n += len(frames)
    return {"cpu_ms_per_frame": round(1000 * (time.process_time() - t0) / n, 2),
            "wall_ms_per_frame": round(1000 * (time.perf_counter() - w0) / n, 2), "input_sizes": sizes}


def by_height(people: list[tuple[float, bool]]) -> dict[str, str]:
    edges = [0, 20, 30, 40, 50, 70, 100, 1e9]
    out = {}
    for lo, hi in itertools.pairwise(edges):
        sel = [f for h, f in people if lo <= h < hi]
        if sel:
            out[f"{lo}-{hi if hi < 1e9 else 'inf'}px"] = f"{sum(sel)}/{len(sel)}"
    return out


def quantised(kind: str, out_dir: Path, calib: list[np.ndarray]) -> Path:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = out_dir / "pre.onnx"
    if not pre.exists():
        import onnx
        from onnx import version_converter

        # Per-channel QDQ needs opset 13 (DequantizeLinear's axis); the export is opset 11.
        onnx.save(version_converter.convert_version(onnx.load(str(DYNAMIC)), 13), str(out_dir / "op13.onnx"))
        quant_pre_process(str(out_dir / "op13.onnx"), str(pre), skip_symbolic_shape=True)
    dst = out_dir / f"yolox_nano_{kind}.onnx"
    if kind == "int8-dynamic":
        quantize_dynamic(str(pre), str(dst), weight_type=QuantType.QUInt8)
        return dst
    probe_det = YoloxDetector(DYNAMIC)

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter(calib)

        def get_next(self):
            img = next(self.it, None)
            if img is None:
                return None
            blob, _ = probe_det._letterbox(img, 640)
            # One square shape for every camera: the histogram calibrators stack the activations.
            square = np.full((3, 640, 640), 114, dtype=np.uint8)
            square[:, : blob.shape[1], : blob.shape[2]] = blob
            return {"images": square[None].astype(np.float32)}

    head = "head-fp32" in kind
    quantize_static(str(pre), str(dst), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_exclude=head_and_after(str(pre)) if head else [],
                    calibrate_method=CalibrationMethod.Percentile if "percentile" in kind else CalibrationMethod.MinMax)
    return dst


def head_and_after(model_path: str) -> list[str]:
    """The prediction convolutions and every node downstream of them: box offsets and sigmoided scores
    share one output tensor, which no single int8 scale fits."""
    import onnx

    graph = onnx.load(model_path).graph
    names = [n.name for n in graph.node if any("_preds" in i for i in n.input)]
    outs = {o for n in graph.node if n.name in names for o in n.output}
    for n in graph.node:  # graph nodes are topologically sorted
        if n.name not in names and any(i in outs for i in n.input):
            names.append(n.name)
            outs.update(n.output)
    return names


def openvino_cpu_per_frame(path: Path, blobs: list[np.ndarray]) -> float:
    """CPU ms per frame of the bare network under OpenVINO (one thread, its default precision: bf16
    where the CPU has it) on letterboxed ``blobs``; compare with the fp32 model's figure from here."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": 1, "NUM_STREAMS": 1})
    request = compiled.create_infer_request()
    request.infer({0: blobs[0]})
    t0 = time.process_time()
    for blob in blobs:
        request.infer({0: blob})
    return round(1000 * (time.process_time() - t0) / len(blobs), 2)


def other_levers(lab, row: Callable[..., None]) -> None:
    """The per-video input size, batches and threads (fp32)."""
    # The sizer's choice per labelled clip: what it settles on over the clip's own frames at 1 fps.
    chosen = {}
    det = YoloxDetector(DYNAMIC, sizer=InputSizer())
    for clip in {c for c, _, _ in lab}:
        det.reset()
        for f in PyAVDecoder().frames(FOOTAGE / clip, 1.0):
            det.detect(f.image)
        chosen[clip] = det.sizer._choose()
    plain = YoloxDetector(DYNAMIC)
    q = recall(plain, lab, size_of=lambda c: chosen[c])
    row("fp32 per-video input size (InputSizer)", YoloxDetector(DYNAMIC, sizer=InputSizer()), quality=q,
        note=f"recall at the size chosen per labelled clip: {chosen}")
    for batch in (4, 8):
        row(f"fp32 640, batch {batch}", YoloxDetector(DYNAMIC), batch=batch)
    row("fp32 640, 2 intra-op threads", YoloxDetector(DYNAMIC, threads=2),
        note="CPU time summed over both threads; spinning off")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=40, help="frames per camera for the CPU timing")
    ap.add_argument("--skip-int8", action="store_true")
    ap.add_argument("--int8-only", action="store_true", help="redo the int8 rows, keep the others")
    args = ap.parse_args()
    lab, cams = labelled(), archive_frames(args.frames)
    rows: list[dict] = []
    if args.int8_only:
        rows = [r for r in json.loads(RESULTS.read_text())["detect"]["rows"] if not r["lever"].startswith("int8")]

    def row(name: str, det: YoloxDetector, batch: int = 1, quality: dict | None = None, note: str = "") -> None:
        q = quality if quality is not None else recall(det, lab)
        cost = cpu_per_frame(det, cams, batch)
        rows.append({"lever": name, **cost, "recall": q["recall"], "found": f"{q['found']}/{q['total']}",
                     "recall_by_height": by_height(q["people"]), "note": note})
        print(f"{name:38} {cost['cpu_ms_per_frame']:7.1f} ms CPU/frame  recall {q['found']}/{q['total']}  "
              f"{cost['input_sizes']}", flush=True)

    for size in INPUT_SIZES if not args.int8_only else ():
        row(f"fp32 fixed {size}" + (" (before)" if size == 640 else ""), YoloxDetector(DYNAMIC, input_long_side=size))
    if not args.int8_only:
        other_levers(lab, row)
    if not args.skip_int8:
        calib = [f for frames in cams.values() for f in frames[::4]]
        with tempfile.TemporaryDirectory() as tmp:
            letterbox = YoloxDetector(DYNAMIC)._letterbox
            blobs = [letterbox(f, 640)[0][None].astype(np.float32) for fs in cams.values() for f in fs]
            ov_ms = {"fp32": openvino_cpu_per_frame(DYNAMIC, blobs)}
            for kind in ("int8-dynamic", "int8-static-qdq", "int8-static-qdq-head-fp32-percentile"):
                try:
                    path = quantised(kind, Path(tmp), calib)
                    if kind != "int8-dynamic":
                        ov_ms[kind] = openvino_cpu_per_frame(path, blobs)
                    row(f"{kind} 640", YoloxDetector(path), note=f"OpenVINO ms/frame: {ov_ms}" if kind in ov_ms else "")
                except Exception as exc:  # a quantiser failure is a result too
                    rows.append({"lever": f"{kind} 640", "error": f"{type(exc).__name__}: {exc}"[:300]})
                    print(kind, "failed:", exc)
    before = rows[0]["cpu_ms_per_frame"]
    for r in rows:
        if "cpu_ms_per_frame" in r:
            r["cpu_vs_before"] = round(r["cpu_ms_per_frame"] / before, 3)
            r["recall_points_vs_before"] = round(100 * (r["recall"] - rows[0]["recall"]), 1)
    update_levers("detect", {"machine": machine_info(), "frames_per_camera": args.frames,
                             "cameras": {c: list(f[0].shape[:2]) for c, f in cams.items()}, "rows": rows})


if __name__ == "__main__":
    main()
