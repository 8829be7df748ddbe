"""Tracking at low sample rates, measured against the sample city's ground truth.

Detections are computed once per video (the real detector, every 0.5 s), then each tracker
variant runs at 1 and 2 samples per second. For every track we find the ground-truth person its boxes
overlap (IoU >= 0.4) and report:

* purity: share of a track's boxes that belong to its majority person (ID switches lower it);
* tracks per person: how many tracks one person's appearance is split into (fragmentation);
* bearing error of tracks with >= 3 boxes against the person's true walking bearing.

Besides the flat rates, "adaptive" runs as the indexer samples by default (:mod:`indexer.sampling`): the base
rate, plus the frames half a second between while someone new is in view. There the tracker's one floor
(for a second's step) meets steps of half a second, so it also runs with each track's own floor from the
time since it last matched (``PersonTracker(floor_slack=...)``, :func:`indexer.tracking.elapsed_floor`),
and with ``index.busy_stay_s`` varied: which new people keep the scene busy (:func:`indexer.sampling.scene_is_busy`),
and with in-between frames detected around the busy people only (``index.busy_region_detect``).

    .venv/bin/python -m bench.tracking_quality [CITY_DIR]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import supervision as sv

from bench.machine import machine_info
from core.compass import angle_diff_deg
from core.config import load_config
from core.loading import load_colours, load_detector
from core.registry import load_registry
from indexer.decode import PyAVDecoder
from indexer.motion import estimate_motion
from indexer.sampling import SamplingPlan, busy_region, busy_track_ids
from indexer.tracking import PersonTracker, giou_floor

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
# (association, similarity floor; None = the rate-dependent default of indexer.tracking.giou_floor)
VARIANTS = [("giou+appearance", None), ("giou", None), ("giou", 0.0), ("iou", 0.1), ("diou", None), ("biou", 0.1)]
# adaptive sampling: one floor, or each track's own, with these slacks (indexer.tracking.FLOOR_SLACK)
SLACKS = (None, 1.0, 1.25, 1.5, 1.75)
# ... and one floor, a new person heading to be in view this long in all not keeping it busy (index.busy_stay_s;
# its default, 0, is the one-floor row above)
STAYS = (3.0, 5.0, 8.0)


def _detections(city: Path, cfg) -> tuple[dict[str, list[tuple[float, sv.Detections, np.ndarray]]],
                                          dict[str, tuple[int, int]]]:
    """Per video: (time, detections, their colour layouts) every 0.5 s; and its frame size."""
    det, colours = load_detector(cfg), load_colours(cfg)
    out, sizes = {}, {}
    for video in sorted((city / "archive").rglob("*.mp4")):
        frames, size = [], None
        det.reset()  # a new video: per-video detector state (the input size, index.detector_input_adapt) starts afresh
        for fr in PyAVDecoder().frames(video, 2.0):
            d = det.detect(fr.image)
            feats = np.stack([colours.layout(fr.image, b) for b in d.xyxy]) if len(d) else np.zeros((0, 88))
            frames.append((round(fr.t, 2), d, feats))
            size = (fr.image.shape[1], fr.image.shape[0])
        out[video.relative_to(city).as_posix()] = frames
        if size is not None:
            sizes[video.relative_to(city).as_posix()] = size
    return out, sizes


def _gt_people(gt: dict, video: str) -> list[dict]:
    return [a for a in gt["appearances"] if a["video"].endswith(video.split("archive/")[-1])]


def _owner(box: np.ndarray, t: float, people: list[dict]) -> tuple[str | None, float]:
    best, best_iou = None, 0.4
    for p in people:
        for bt, x1, y1, x2, y2 in p["boxes"]:
            if abs(bt - t) < 0.05:
                iou = float(sv.box_iou_batch(box[None], np.array([[x1, y1, x2, y2]]))[0, 0])
                if iou > best_iou:
                    best, best_iou = p["person_id"], iou
    return best, best_iou


def _on_grid(t: float, step: float) -> bool:
    return abs(t / step - round(t / step)) <= 1e-6


@dataclass
class RegionDetection:
    """In-between frames detect around the busy people only, as the indexer does (``index.busy_region_detect``):
    the frame is decoded again and the real detector runs on the region (:func:`indexer.sampling.busy_region`)."""

    city: Path
    detector: object
    colours: object

    def frames(self, video: str) -> Iterator[np.ndarray]:
        return (fr.image for fr in PyAVDecoder().frames(self.city / video, 2.0))

    def detect(self, image: np.ndarray, tracker: PersonTracker, busy: set[int]) -> tuple[sv.Detections, np.ndarray]:
        boxes = [tr.points[-1].box for tr in tracker.tracks() if tr.track_id in busy]
        wh = (image.shape[1], image.shape[0])
        region = busy_region(boxes, wh, self.detector.long_side / max(wh))  # type: ignore[attr-defined]
        found = self.detector.detect_region(image, region or (0, 0, *wh))  # type: ignore[attr-defined]
        d = found.persons
        feats = np.stack([self.colours.layout(image, b) for b in d.xyxy]) if len(d) else np.zeros((0, 88))  # type: ignore[attr-defined]
        return d, feats


def evaluate(dets, gt, registry, step: float, make_tracker: Callable[[float], PersonTracker],
             plan: SamplingPlan | None = None, sizes: dict[str, tuple[int, int]] | None = None,
             region: RegionDetection | None = None) -> dict:
    """Track each video's detections every ``step`` seconds, or (``plan``) at its base rate plus its busy
    frames while someone new is in view (``region``: detected around the busy people only); score the
    tracks against the ground truth."""
    if plan is not None:
        step = 1.0 / plan.base_fps
    purities, bearing_err = [], []
    per_person: collections.Counter = collections.Counter()
    n_tracks = 0
    for video, frames in dets.items():
        camera = registry.get(video.split("/")[1])
        people = _gt_people(gt, video)
        by_id = {p["person_id"]: p for p in people}
        tracker = make_tracker(1.0 / step)
        busy: set[int] = set()
        images = region.frames(video) if region is not None else None
        for i, (t, d, feats) in enumerate(frames):
            image = next(images) if images is not None else None
            busy_frame = plan is not None and bool(busy) and _on_grid(t, 1.0 / plan.busy_fps)
            if not (_on_grid(t, step) or busy_frame):
                continue
            if region is not None and image is not None and not _on_grid(t, step):
                d, feats = region.detect(image, tracker, busy)
            tracker.update(t, i, d, feats)
            busy = busy_track_ids(tracker, t, plan, (sizes or {}).get(video)) if plan is not None else set()
        for tr in tracker.tracks():
            if len(tr.points) < 2:
                continue
            n_tracks += 1
            owners = [_owner(p.box, p.t, people)[0] for p in tr.points]
            named = [o for o in owners if o]
            if not named:
                continue
            major, count = collections.Counter(named).most_common(1)[0]
            purities.append(count / len(tr.points))
            per_person[major] += 1
            if len(tr.points) >= 3 and by_id[major]["paused_s"] < 1:
                m = estimate_motion([p.t for p in tr.points], np.stack([p.box for p in tr.points]),
                                    camera.heading_deg, camera.tilt_deg)
                if m.moving:
                    bearing_err.append(angle_diff_deg(m.bearing_deg, by_id[major]["bearing_deg"]))
    long_people = [a["person_id"] for a in gt["appearances"] if a["t_end_offset_s"] - a["t_start_offset_s"] >= 3]
    frag = [per_person.get(p, 0) for p in long_people]
    err = np.asarray(bearing_err)
    return {
        "tracks": n_tracks, "purity_mean": float(np.mean(purities)),
        "tracks_below_90pct_pure": float(np.mean(np.asarray(purities) < 0.9)),
        "tracks_per_person": float(np.mean([f for f in frag if f])), "people_missed": int(sum(f == 0 for f in frag)),
        "bearing_median_err": float(np.median(err)), "bearing_within_45": float(np.mean(err < 45)),
        "bearing_n": len(err),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("city", nargs="?", type=Path, default=REPO / "bench" / "data" / "city")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    ap.add_argument("--out", default="tracking_quality.json", help="file name under bench/results/")
    args = ap.parse_args()
    if not (args.city / "ground_truth.json").exists():
        from sample_footage import generate_city

        generate_city(args.city)
    cfg = load_config(None, {"models.models_dir": str(REPO.parent / "shared" / "models"),
                             "models.allow_download": False, **dict(kv.split("=", 1) for kv in args.set)},
                      environ={})
    gt = json.loads((args.city / "ground_truth.json").read_text())
    registry = load_registry(args.city / "cameras.csv")
    dets, sizes = _detections(args.city, cfg)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for step in (1.0, 0.5):
            for sim, floor in VARIANTS:
                r = evaluate(dets, gt, registry, step, partial(PersonTracker, similarity=sim, min_similarity=floor,
                                                               floor_slack=None))
                floor_used = floor if floor is not None else giou_floor(1 / step)
                rows.append({"sample_fps": 1 / step, "association": f"{sim}>{floor_used:g}", **r})
        plan = SamplingPlan.of(cfg.index)
        for slack in SLACKS:
            r = evaluate(dets, gt, registry, 1.0, partial(PersonTracker, floor_slack=slack), plan=plan, sizes=sizes)
            name = f"per-track floor x{slack:g}" if slack else f"one floor {giou_floor(plan.base_fps):g}"
            rows.append({"sample_fps": "adaptive", "association": f"giou+appearance, {name}", **r})
        # In-between frames detected around the busy people only (index.busy_region_detect), at the defaults
        r = evaluate(dets, gt, registry, 1.0, partial(PersonTracker, floor_slack=None), plan=plan, sizes=sizes,
                     region=RegionDetection(args.city, load_detector(cfg), load_colours(cfg)))
        rows.append({"sample_fps": "adaptive", "association": "giou+appearance, one floor, busy region", **r})
        for stay in STAYS:  # index.busy_stay_s: who keeps the scene busy (indexer.sampling.seconds_left_in_view)
            staying = dataclasses.replace(plan, busy_stay_s=stay)
            r = evaluate(dets, gt, registry, 1.0, partial(PersonTracker, floor_slack=None), plan=staying, sizes=sizes)
            name = f"one floor, busy unless in view {stay:g} s in all"
            rows.append({"sample_fps": "adaptive", "association": f"giou+appearance, {name}", **r})
    print(f"{'fps':>8} {'association':>38} {'tracks':>6} {'purity':>7} {'<90% pure':>9} {'tracks/person':>13} "
          f"{'missed':>6} {'bearing med':>11} {'<45deg':>6}")
    for r in rows:
        fps = r["sample_fps"] if isinstance(r["sample_fps"], str) else f"{r['sample_fps']:.0f}"
        print(f"{fps:>8} {r['association']:>38} {r['tracks']:>6} {r['purity_mean']:>7.3f} "
              f"{r['tracks_below_90pct_pure']:>9.2f} {r['tracks_per_person']:>13.2f} {r['people_missed']:>6} "
              f"{r['bearing_median_err']:>11.0f} {r['bearing_within_45']:>6.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / args.out).write_text(json.dumps({"machine": machine_info(), "settings": args.set, "rows": rows},
                                               indent=2))


if __name__ == "__main__":
    main()
