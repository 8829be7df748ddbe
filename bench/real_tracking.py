"""Tracking on the real clips: is a labelled person one track per appearance, and does a track keep one person?

`bench/tracking_quality.py` scores the tracker against the generated city's exact ground truth. This bench
uses the hand labels of the five real clips instead: the torso points (``[t, x, y]``, every few seconds) of
``tests/data/search_real_labels.json`` and ``tests/data/attributes_real_labels.json``. A row holds a point
when its tracked box, at the row's nearest tracked time (within 0.6 s), contains the point. Where several
rows do, the one with the smallest box holds it, because the point is on that person's torso. A track is a
row's ``video_id:track_id``; one track may span several rows (segments).

Per place:

* **held**: the share of labelled points that some track holds;
* **tracks per appearance**: the distinct tracks over one appearance's held points (1 is ideal; an
  appearance is a run of points with gaps under 8 s, as ``footage-search eval`` splits them);
* **breaks and switches**: where the track holding a person's point differs from the one holding their
  previous point. It is a *break* when the earlier track had ended by then (the tracker lost them and
  started anew), and a *switch* when it lived on without them (it went on with someone else, labelled
  or not, or they moved to another track while it lived);
* **mixed tracks**: tracks holding points of two or more labelled people (an identity switch, or two
  people in one box), and how many labelled people lose points to such a track.

A photo or "more like this" search scores a whole row, so a row that mixes two people matches neither of
them well. On PETS 2009 that is why a photo misses the blonde woman's first crossing
(docs/EVALUATION.md).

    .venv/bin/python -m bench.real_tracking [--compare-set index.busy_fps=1]

The default index is `bench/photo_quality.py`'s (``bench/data/photo_quality/real``). ``--compare-set``
also builds one with overrides (``bench/data/real_tracking/``) and reports both, side by side. Writes
``bench/results/real_tracking.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from bench import photo_quality as pq
from bench.real_models import require_real_models

REPO = pq.REPO
LABEL_FILES = (REPO / "tests" / "data" / "search_real_labels.json",
               REPO / "tests" / "data" / "attributes_real_labels.json")
GAP_S = pq.GAP_S


@dataclass(frozen=True)
class Point:
    person: str
    appearance: int  # the person's appearance, in time order over all clips
    camera: str
    t: float  # UTC epoch
    x: float
    y: float


def labelled_points() -> list[Point]:
    """Every labelled torso point of both label files, in absolute time, split into appearances."""
    from datetime import datetime

    from tests.conftest import REAL_CLIPS

    merged: dict[str, dict[str, list]] = {}
    for path in LABEL_FILES:
        for person, p in json.loads(path.read_text(encoding="utf-8"))["people"].items():
            merged.setdefault(person, {}).update(p["points"])
    out: list[Point] = []
    for person, clips in sorted(merged.items()):
        appearance = -1
        for clip, points in sorted(clips.items()):
            camera, stamp = REAL_CLIPS[clip]
            start = datetime.strptime(stamp, "%Y%m%dT%H%M%S%z").timestamp()
            last = -np.inf
            for t, x, y in sorted(points):
                if t - last > GAP_S:
                    appearance += 1
                last = t
                out.append(Point(person, appearance, camera, start + t, float(x), float(y)))
    return out


def holder(tracks: dict, by_camera: dict[str, list[str]], p: Point) -> str | None:
    """The track (``video_id:track_id``) of the row holding ``p``: its box contains the point at the row's
    nearest tracked time (:func:`search.evaluation.tracked_box_at`); the smallest such box when several do."""
    from search.evaluation import tracked_box_at

    best, best_area = None, np.inf
    for sid in by_camera.get(p.camera, []):
        box = tracked_box_at(tracks[sid], p.t)
        if box is None:
            continue
        x1, y1, x2, y2 = box
        if x1 <= p.x <= x2 and y1 <= p.y <= y2 and (x2 - x1) * (y2 - y1) < best_area:
            best, best_area = sid.rsplit(":", 1)[0], (x2 - x1) * (y2 - y1)
    return best


def measure(engine, points: list[Point]) -> dict:
    """The figures of the module docstring, per place and in all, on ``engine``'s index."""
    return measure_tracks(pq.all_tracks(engine), points)


def measure_tracks(tracks: dict, points: list[Point]) -> dict:
    """The figures of the module docstring from rows' tracked boxes (``search.evaluation.Track`` by sighting
    id ``video_id:track_id:segment``) and labelled points in time order per person."""
    by_camera: dict[str, list[str]] = defaultdict(list)
    for sid, row in tracks.items():
        by_camera[row.camera].append(sid)
    held = [(p, holder(tracks, by_camera, p)) for p in points]
    from search.evaluation import tracked_box_at

    rows_of: dict[str, list] = defaultdict(list)  # track -> its rows (segments)
    for sid, row in tracks.items():
        rows_of[sid.rsplit(":", 1)[0]].append(row)
    places = {**PLACES, "all": set().union(*PLACES.values())}
    out = {}
    for name, cams in places.items():
        mine = [(p, h) for p, h in held if p.camera in cams]
        if not mine:
            continue
        per_appearance: dict[tuple[str, int], set[str]] = defaultdict(set)
        people_of: dict[str, set[str]] = defaultdict(set)
        for p, h in mine:
            if h is not None:
                per_appearance[(p.person, p.appearance)].add(h)
                people_of[h].add(p.person)
        appearances = {(p.person, p.appearance) for p, _ in mine}
        breaks = switches = 0
        for (p, h), (q, k) in pairwise(mine):
            if (p.person, p.appearance) != (q.person, q.appearance) or h is None or k is None or h == k:
                continue
            lives_on = any(tracked_box_at(row, q.t) is not None for row in rows_of[h])
            switches += lives_on
            breaks += not lives_on
        mixed = {h for h, who in people_of.items() if len(who) > 1}
        out[name] = {
            "people": len({p.person for p, _ in mine}),
            "appearances": len(appearances),
            "points": len(mine),
            "held": round(sum(h is not None for _, h in mine) / len(mine), 3),
            "tracks_per_appearance": round(float(np.mean([len(per_appearance.get(a, ())) for a in appearances])), 3),
            "appearances_in_one_track": sum(len(per_appearance.get(a, ())) == 1 for a in appearances),
            "breaks": breaks,
            "switches": switches,
            "tracks": len(people_of),
            "mixed_tracks": len(mixed),
            "people_in_mixed_tracks": len(set().union(*(people_of[h] for h in mixed))) if mixed else 0,
        }
    return out


PLACES = {"PETS": {"PETS"}, "Oxford": {"OXFORD"}, "Intel room": {"INTEL-ROOM"}, "Intel car park": {"INTEL-CARPARK"}}


def build_with(overrides: list[str]) -> Path:
    """The real clips indexed with ``overrides`` (section.key=value), under bench/data/real_tracking/."""
    from core.registry import load_registry
    from indexer.batch import BatchOptions, run_index
    from tests.conftest import make_config

    archive, _ = pq.build_real()
    index = REPO / "bench" / "data" / "real_tracking" / "_".join(o.replace("=", "-") for o in overrides) / "index"
    if not index.exists():
        values = {k: v for k, _, v in (o.partition("=") for o in overrides)}
        cfg = make_config(index, models__models_dir=str(pq.MODELS), **values)
        run_index(archive, cfg, load_registry(archive / "cameras.csv"), BatchOptions(progress=False))
    return index


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare-set", action="append", default=[], metavar="KEY=VALUE",
                    help="also index the clips with these overrides and report them beside the defaults")
    ap.add_argument("--out", type=Path, default=pq.RESULTS / "real_tracking.json")
    args = ap.parse_args(argv)
    os.environ.setdefault("FOOTAGE_SEARCH_MODELS_MODELS_DIR", str(pq.MODELS))
    require_real_models(pq._config(pq.DATA / "model-check"))
    t0 = time.perf_counter()
    points = labelled_points()
    archive, index = pq.build_real()
    variants = {"defaults": index}
    if args.compare_set:
        variants[" ".join(args.compare_set)] = build_with(args.compare_set)
    report = {"what": __doc__.splitlines()[0], "labels": [str(p.relative_to(REPO)) for p in LABEL_FILES],
              "variants": {name: measure(pq.engine_for(ix, archive / "cameras.csv"), points)
                           for name, ix in variants.items()}}
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    head = ("variant", "place", "people", "appear.", "points", "held", "tracks/app.", "in 1 track", "breaks",
            "switches", "mixed", "people mixed")
    print("{:24} {:15} {:>6} {:>7} {:>6} {:>6} {:>11} {:>10} {:>6} {:>8} {:>6} {:>12}".format(*head))
    for name, places in report["variants"].items():
        for place, r in places.items():
            print(f"{name[:24]:24} {place:15} {r['people']:6d} {r['appearances']:7d} {r['points']:6d} {r['held']:6.3f} "
                  f"{r['tracks_per_appearance']:11.2f} {r['appearances_in_one_track']:10d} {r['breaks']:6d} "
                  f"{r['switches']:8d} {r['mixed_tracks']:6d} "
                  f"{r['people_in_mixed_tracks']:12d}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
