"""Appearance attributes (carried objects, pushchair, hair, pattern) measured on the shared real footage.

Labels: ``tests/data/attributes_real_labels.json`` - points on people at times, attributes decided by eye
(never from this system's output). A sighting is a labelled person when its tracked box at a point's time
contains the point; sightings touched by two people's points (a tracker switch) are left out.

Figures, all on the five real clips indexed with the default pipeline:

* per attribute, precision and recall of the single-attribute query ("backpack", "blonde", ...) over the
  labelled sightings: a sighting counts as found when the search calls it plausible (evidence >= the
  no-result threshold), i.e. the operating point an operator sees;
* retrieval with and without attribute evidence for description queries that mention such details
  (recall@k, k = the number of relevant sightings, and the precision of what is called plausible);
* the pushchair cues that were tried (seated child box, foreground blob, wheeled-object detections);
* the indexing cost the attributes add, in ms per sampled frame.

    .venv/bin/python -m bench.attributes_eval [--out bench/results/attributes_eval.json]

``tests/test_attributes_real.py`` asserts the precision/recall and retrieval figures from the same code.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LABELS_PATH = REPO / "tests" / "data" / "attributes_real_labels.json"
RESULTS = REPO / "bench" / "results"

Person = dict


def load_labels(path: Path = LABELS_PATH) -> dict[str, Person]:
    return json.loads(path.read_text(encoding="utf-8"))["people"]


def box_at(offs: np.ndarray, boxes: np.ndarray, t: float) -> np.ndarray | None:
    """A track's box at ``t``: interpolated between samples at most 1.6 s apart, else the nearest sample
    within 0.6 s (as in tests/test_search_real.py)."""
    if offs[0] <= t <= offs[-1] and len(offs) > 1:
        j = int(np.searchsorted(offs, t))
        if offs[j] == t or j == 0:
            return boxes[j]
        t0, t1 = offs[j - 1], offs[j]
        if t1 - t0 <= 1.6:
            w = (t - t0) / (t1 - t0)
            return (1 - w) * boxes[j - 1] + w * boxes[j]
    i = int(np.argmin(np.abs(offs - t)))
    return boxes[i] if abs(offs[i] - t) <= 0.6 else None


def label_rows(rows: list[dict], people: dict[str, Person], clip_of: Callable[[str], str]) -> dict[str, str]:
    """sighting_id -> labelled person, for rows with ``track_offsets``, ``track_boxes`` and ``video_path``."""
    who: dict[str, str] = {}
    for r in rows:
        offs = np.asarray(r["track_offsets"], dtype=float)
        boxes = np.asarray(r["track_boxes"], dtype=float)
        clip = clip_of(r["video_path"])
        votes: Counter[str] = Counter()
        for person, p in people.items():
            for t, x, y in p["points"].get(clip, []):
                box = box_at(offs, boxes, t)
                if box is not None and box[0] <= x <= box[2] and box[1] <= y <= box[3]:
                    votes[person] += 1
        if len(votes) == 1:
            who[r["sighting_id"]] = next(iter(votes))
    return who


# ----------------------------------------------------------------------------- per-attribute figures

HAIR_CLASSES = ("blonde", "dark", "grey")
UNKNOWN_HAIR = ("covered", "unsure")


@dataclass(frozen=True)
class AttributeCheck:
    name: str
    query: str  # the single-attribute description
    korean: str
    truth: Callable[[Person], bool | None]  # True: has it, False: has not, None: not judged


def _object(name: str) -> Callable[[Person], bool | None]:
    return lambda p: None if name in p["objects_unsure"] else name in p["objects"]


def _hair(name: str) -> Callable[[Person], bool | None]:
    return lambda p: None if p["hair"] in UNKNOWN_HAIR else p["hair"] == name


CHECKS = (
    AttributeCheck("handbag", "handbag", "핸드백", _object("handbag")),
    AttributeCheck("backpack", "backpack", "배낭", _object("backpack")),
    AttributeCheck("bicycle", "bicycle", "자전거", _object("bicycle")),
    AttributeCheck("pushchair", "pushchair", "유모차", _object("pushchair")),
    AttributeCheck("suitcase", "suitcase", "캐리어", _object("suitcase")),
    AttributeCheck("umbrella", "umbrella", "우산", _object("umbrella")),
    AttributeCheck("dog", "dog", "강아지", _object("dog")),
    AttributeCheck("skateboard", "skateboard", "스케이트보드", _object("skateboard")),
    AttributeCheck("blonde", "blonde", "금발", _hair("blonde")),
    AttributeCheck("grey hair", "grey hair", "백발", _hair("grey")),
    AttributeCheck("dark hair", "dark hair", "검은 머리", _hair("dark")),
    AttributeCheck("striped", "striped top", "줄무늬 상의", lambda p: p["pattern"] == "striped"),
)


def attribute_figures(search: Callable[[str], list], who: dict[str, str], people: dict[str, Person]) -> dict:
    """Per check: labelled positives/negatives (sightings and people) and the precision/recall of what the
    single-attribute query calls plausible. ``search(text)`` returns the plausible sightings."""
    out = {}
    for check in CHECKS:
        truth = {sid: check.truth(people[p]) for sid, p in who.items()}
        pos = {sid for sid, v in truth.items() if v is True}
        neg = {sid for sid, v in truth.items() if v is False}
        found = {m for s in search(check.query) for m in s.member_ids}
        tp, fp = len(found & pos), len(found & neg)
        out[check.name] = {
            "query": check.query,
            "labelled_sightings": {"with": len(pos), "without": len(neg)},
            "labelled_people": {"with": len({who[s] for s in pos}), "without": len({who[s] for s in neg})},
            "found": {"true": tp, "false": fp},
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / len(pos), 3) if pos else None,
            "people_found": sorted({who[s] for s in found & pos}),
            "false_people": sorted({who[s] for s in found & neg}),
        }
    return out


# ------------------------------------------------------------------------------------ retrieval gain


@dataclass(frozen=True)
class RetrievalQuery:
    text: str
    relevant: tuple[str, ...]  # labelled people the description fits


RETRIEVAL_QUERIES = (
    RetrievalQuery("woman pushing a pushchair", ("oxford_cream_jacket_pushchair_woman",
                                                 "oxford_brown_jacket_pushchair_woman")),
    RetrievalQuery("man with a backpack", ("oxford_backpack_man",)),
    RetrievalQuery("blonde woman", ("pets_blonde_black_coat_woman", "intel_grey_cardigan_blonde_woman",
                                    "intel_blonde_black_outfit_woman", "oxford_blonde_black_coat_bag_woman",
                                    "oxford_blonde_white_jacket_woman")),
    RetrievalQuery("person with a bicycle", ("oxford_bicycle_woman", "intel_cyclist_cap")),
    RetrievalQuery("blonde woman in a black coat", ("pets_blonde_black_coat_woman",
                                                    "oxford_blonde_black_coat_bag_woman")),
    RetrievalQuery("black coat, red bag", ("oxford_black_coat_red_bag_woman",)),
    RetrievalQuery("man with a yellow shopping bag", ("oxford_brown_jacket_yellow_bag_man",)),
    RetrievalQuery("cream jacket pushing a buggy", ("oxford_cream_jacket_pushchair_woman",)),
    RetrievalQuery("dark green coat, pushing a bike", ("oxford_bicycle_woman",)),
    RetrievalQuery("grey-haired woman in a light blue coat with a handbag", ("oxford_light_blue_coat_woman",)),
)


def retrieval_gain(search: Callable[[str, bool], list], who: dict[str, str]) -> dict:
    """recall@k (k = relevant sightings) and precision of the plausible results, with and without the
    attribute terms of each query. ``search(text, attributes)`` returns ranked sightings (plausible
    first, then weak ones flagged ``weak``)."""
    out = {}
    for q in RETRIEVAL_QUERIES:
        relevant = {sid for sid, p in who.items() if p in q.relevant}
        labelled = set(who)
        row = {"relevant_sightings": len(relevant)}
        for mode in (True, False):
            ranked = search(q.text, mode)
            k = max(1, len(relevant))
            top = {m for s in ranked[:k] for m in s.member_ids}
            plausible = [s for s in ranked if not s.weak]
            judged = [s for s in plausible if set(s.member_ids) & labelled]
            hits = [s for s in judged if set(s.member_ids) & relevant]
            row["with" if mode else "without"] = {
                f"recall@{k}": round(len(top & relevant) / k, 3),
                "recall_plausible": round(len({m for s in plausible for m in s.member_ids} & relevant) / k, 3),
                "plausible": len(plausible),
                "precision_plausible": round(len(hits) / len(judged), 3) if judged else None,
            }
        out[q.text] = row
    return out


def without_attributes(parsed):
    """The same parse with its object, hair and pattern terms dropped (the colour-only search)."""
    return replace(parsed, objects=(), hair=(), patterns=())


def ranked_search(engine) -> Callable[[str, bool], list]:
    """``retrieval_gain``'s search on a ``SearchEngine``: every sighting, weak ones too, ranked with or
    without the description's attribute terms (structured matching only, no CLIP)."""
    from search.request import SearchRequest

    def ranked(text: str, attributes: bool) -> list:
        query = engine.compile(text, use_clip=False)
        if not attributes:
            query.scoring.parsed = without_attributes(query.scoring.parsed)
            query.parsed = query.scoring.parsed
        return engine.find(query, engine.filters_for(SearchRequest(text=text)), limit=1000,
                           include_weak=True).sightings

    return ranked


# ------------------------------------------------------------------------------------------ main


@contextmanager
def _captured_states() -> Iterator[list]:
    """Keep each video's per-frame state (indexer.pipeline._VideoState) with a foreground pushchair cue."""
    import indexer.pipeline as pipeline

    states: list = []
    original = pipeline._VideoState

    class Capturing(original):  # type: ignore[misc, valid-type]
        def __init__(self, *a, **k) -> None:
            super().__init__(*a, **k)
            self.foreground_cue: dict[tuple[int, float], float] = {}
            states.append(self)

        def _observe_attributes(self, t, frame, fg, persons, objects, tracked, extra=False) -> list:
            seen = super()._observe_attributes(t, frame, fg, persons, objects, tracked, extra)
            if fg is None:
                return seen
            for i in range(len(tracked)):
                self.foreground_cue[(int(tracked.tracker_id[i]), t)] = _foreground_cue(
                    fg, tracked.xyxy[i], [b for b in persons.xyxy if np.abs(b - tracked.xyxy[i]).sum() > 1e-3])
            return seen

    pipeline._VideoState = Capturing
    try:
        yield states
    finally:
        pipeline._VideoState = original


def _foreground_cue(fg: np.ndarray, box: np.ndarray, others: list[np.ndarray]) -> float:
    """Pushchair cue (b): unexplained foreground beside the lower body (minus the same beside the upper body,
    which a neighbour would fill too) or below the feet."""
    m = (fg > 0).astype(np.uint8)
    for o in others:
        m[int(max(0, o[1])):int(o[3]), int(max(0, o[0])):int(o[2])] = 0
    H, W = m.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    w, h = x2 - x1, y2 - y1

    def frac(xa: float, xb: float, ya: float, yb: float) -> float:
        xa, xb, ya, yb = int(max(0, xa)), int(min(W, xb)), int(max(0, ya)), int(min(H, yb))
        return float(m[ya:yb, xa:xb].mean()) if xb > xa and yb > ya else 0.0

    left = frac(x1 - 0.7 * w, x1, y1 + 0.45 * h, y2 + 0.15 * h) - frac(x1 - 0.7 * w, x1, y1, y1 + 0.4 * h)
    right = frac(x2, x2 + 0.7 * w, y1 + 0.45 * h, y2 + 0.15 * h) - frac(x2, x2 + 0.7 * w, y1, y1 + 0.4 * h)
    below = frac(x1, x2, y2, y2 + 0.35 * h) if y2 + 0.35 * h < H else 0.0
    return max(left, right, below)


def _best_f1(pos: list[float], neg: list[float]) -> dict:
    best = {"f1": 0.0, "threshold": None, "precision": None, "recall": 0.0}
    for t in sorted({v for v in pos + neg if v > 0}):
        tp, fp = sum(v >= t for v in pos), sum(v >= t for v in neg)
        p, r = tp / max(tp + fp, 1), tp / max(len(pos), 1)
        f1 = 2 * p * r / max(p + r, 1e-9)
        if f1 > best["f1"] + 1e-9:
            best = {"f1": round(f1, 3), "threshold": round(t, 3), "precision": round(p, 3), "recall": round(r, 3)}
    return best


def pushchair_alternatives(results, states, who: dict[str, str], people: dict[str, Person]) -> dict:
    """Best-F1 precision/recall of each pushchair cue over the labelled sightings (the chosen one is the
    index's ``pushchair`` object)."""
    child, blob, wheeled = "seated child box (chosen)", "foreground blob", "wheeled object (bicycle/suitcase box)"
    cues: dict[str, dict[str, float]] = {child: {}, blob: {}, wheeled: {}}
    for res, state in zip(results, states, strict=True):
        for r in res.sightings.to_pylist():
            sid = r["sighting_id"]
            conf = {o["name"]: o["confidence"] for o in r["objects"]}
            cues[child][sid] = conf.get("pushchair", 0.0)
            cues[wheeled][sid] = max(conf.get("bicycle", 0.0), conf.get("suitcase", 0.0))
            fg = [state.foreground_cue.get((r["track_id"], t), 0.0) for t in r["track_offsets"]]
            cues[blob][sid] = float(np.mean(fg)) if fg else 0.0
    out = {}
    for cue, score in cues.items():
        pos = [score.get(s, 0.0) for s, p in who.items() if "pushchair" in people[p]["objects"]]
        neg = [score.get(s, 0.0) for s, p in who.items() if "pushchair" not in people[p]["objects"]]
        out[cue] = {"positives": len(pos), "negatives": len(neg), **_best_f1(pos, neg)}
    return out


def indexing_cost(archive: Path, registry, cfg, clips: dict[str, tuple[str, str]], repeats: int = 2) -> dict:
    """ms per sampled frame of the attribute stage, and what objects add to detection (same frames, the
    network's output decoded for people only vs people, objects and weak people), interleaved runs."""
    from core.loading import load_colours, load_detector
    from indexer.archive import discover
    from indexer.decode import PyAVDecoder
    from indexer.pipeline import Models, index_video

    detector = load_detector(cfg)
    models = Models(detector=detector, colours=load_colours(cfg), embedder=None, clip_dim=32)
    videos, _ = discover(archive, registry, cfg.index.timezone)
    per_clip = {}
    for v in videos:
        attr_s = frames = 0.0
        stage: dict[str, float] = {}
        for _ in range(repeats):
            res = index_video(v, registry.get(v.camera_id), models, cfg)
            attr_s += res.seconds.get("attributes", 0.0)
            frames += res.n_sampled - res.n_gated
            for k, s in res.seconds.items():
                stage[k] = stage.get(k, 0.0) + s
        # People only vs people, objects and weak people, from the same frames; the least of a few
        # alternating runs per frame, so other jobs on the machine do not land on one side only.
        persons_only = with_objects = 0.0
        n = 0
        for fr in PyAVDecoder().frames(v.path, cfg.index.sample_fps):
            times: dict[str, list[float]] = {"detect": [], "detect_all": []}
            for _ in range(3):
                for name in times:
                    t0 = time.perf_counter()
                    getattr(detector, name)(fr.image)
                    times[name].append(time.perf_counter() - t0)
            persons_only += min(times["detect"])
            with_objects += min(times["detect_all"])
            n += 1
        per_clip[v.path.name] = {
            "detected_frames": int(frames / repeats),
            "attributes_ms_per_frame": round(1000 * attr_s / max(frames, 1), 2),
            "detect_ms_per_frame": round(1000 * stage.get("detect", 0.0) / max(frames, 1), 2),
            "describe_ms_per_frame": round(1000 * stage.get("describe", 0.0) / max(frames, 1), 2),
            "object_decoding_ms_per_frame": round(1000 * (with_objects - persons_only) / max(n, 1), 2),
        }
    total_frames = sum(c["detected_frames"] for c in per_clip.values())
    weighted = {k: round(sum(c[k] * c["detected_frames"] for c in per_clip.values()) / max(total_frames, 1), 2)
                for k in ("attributes_ms_per_frame", "object_decoding_ms_per_frame", "detect_ms_per_frame",
                          "describe_ms_per_frame")}
    return {"per_clip": per_clip, "all_clips": weighted, "detected_frames": total_frames}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=RESULTS / "attributes_eval.json")
    ap.add_argument("--no-cost", action="store_true", help="skip the indexing-cost timing")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="config override for the indexing (e.g. a lever's setting before it was changed)")
    args = ap.parse_args()

    from bench.machine import machine_info
    from core.loading import load_colours, load_detector
    from core.registry import load_registry
    from indexer.archive import discover
    from indexer.batch import BatchOptions, run_index
    from indexer.pipeline import Models, index_video
    from search.engine import SearchEngine
    from search.request import SearchRequest
    from search.search_models import SearchModels
    from tests.conftest import FOOTAGE, REAL_CLIPS, REAL_REGISTRY, make_config
    from tests.conftest import clip_name as clip_of

    people = load_labels()
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive"
        for name, (camera, stamp) in REAL_CLIPS.items():
            (archive / camera).mkdir(parents=True, exist_ok=True)
            os.symlink(FOOTAGE / name, archive / camera / f"{Path(name).stem}_{stamp}.mp4")
        (archive / "cameras.csv").write_text(REAL_REGISTRY, encoding="utf-8")
        registry = load_registry(archive / "cameras.csv")
        cfg = make_config(Path(tmp) / "index", **{k.replace(".", "__"): v for k, v in
                                                  (item.split("=", 1) for item in args.set)})
        summary = run_index(archive, cfg, registry, BatchOptions(progress=False))
        engine = SearchEngine(cfg, registry, SearchModels(cfg, clip_enabled=False))
        rows = engine.reader.table().to_arrow().select(
            ["sighting_id", "video_path", "track_offsets", "track_boxes"]).to_pylist()
        who = label_rows(rows, people, clip_of)

        def plausible(text: str) -> list:
            return engine.search(SearchRequest(text=text, limit=1000)).sightings

        figures = attribute_figures(plausible, who, people)
        gain = retrieval_gain(ranked_search(engine), who)

        models = Models(detector=load_detector(cfg), colours=load_colours(cfg), embedder=None, clip_dim=32)
        videos, _ = discover(archive, registry, cfg.index.timezone)
        with _captured_states() as states:
            results = [index_video(v, registry.get(v.camera_id), models, cfg) for v in videos]
        rows_direct = [r for res in results for r in res.sightings.select(
            ["sighting_id", "video_path", "track_offsets", "track_boxes"]).to_pylist()]
        pushchair = pushchair_alternatives(results, states, label_rows(rows_direct, people, clip_of), people)
        cost = None if args.no_cost else indexing_cost(archive, registry, cfg, REAL_CLIPS)

    report = {"machine": machine_info(), "indexed": summary.indexed, "labelled_sightings": len(who),
              "labelled_people": len(set(who.values())), "attributes": figures, "retrieval": gain,
              "pushchair_cues": pushchair, "indexing_cost": cost}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    print(json.dumps({k: v for k, v in report.items() if k != "machine"}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
