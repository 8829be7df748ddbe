"""Two photo levers, before/after on the same indexes: the photo detected at its own size, and the torso without hair.

* **photo at its own size** (``search.photo.MAX_PHOTO_UPSCALE``): a reference photo smaller than the
  detector's input used to be blown up to it (5.5x for the large city's 50 x 116 px photo, which YOLOX-Nano
  then cut off at the hips). It is now placed on a canvas of the input's size, as the indexer's frames are
  never magnified. ``2x`` is the variant measured and dropped on 2026-12-06.
* **torso without hair** (``core.vision.parts.torso_without_hair``): the torso part is read in two bands,
  and the upper band is left out where it reads more like the head than like the band below it (long hair
  over the back). It is computed at indexing, so the "before" variants need an index built without it:
  ``--before-data`` (for example ``bench/photo_quality.py --data DIR`` run in a worktree of commit 274e2d3).

Each variant runs :mod:`bench.photo_quality` (and, once per index, :mod:`bench.text_quality`) and the table
keeps its default rows: held-out real photos and "more like this" (tuned on one place, reported on the
other), the demo city and the large look-alike city, and how far the no-result gate holds (each photo
searched on the cameras its person never passes: searches that return anyone, and how many sightings).

    .venv/bin/python -m bench.photo_levers --before-data bench/data/pq_before [--large]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from bench import photo_quality as pq
from core.vision.parts import bands_mean

CITY_ROW = "defaults (tuned on real)"
TEXT_ROW = "+ crops (default)"
# (name, which index, torso without hair on the query side, photo magnification)
VARIANTS = (
    ("before: whole torso, photo blown up to the input", "before", False, 1e9),
    ("photo at its own size", "before", False, 1.0),
    ("torso without hair", "after", True, 1e9),
    ("both (defaults)", "after", True, 1.0),
    ("torso without hair, photo at 2x", "after", True, 2.0),
)


def _whole_torso(head, n_head, upper, n_upper, lower, n_lower) -> np.ndarray:
    """The rule switched off: the two bands' pixel-weighted mean, as the whole region read before."""
    return bands_mean(upper, n_upper, lower, n_lower)


@contextmanager
def lever_state(hair: bool, upscale: float) -> Iterator[None]:
    import core.vision.parts as parts
    import search.photo as photo

    saved = parts.torso_without_hair, photo.MAX_PHOTO_UPSCALE
    if not hair:
        parts.torso_without_hair = _whole_torso
    photo.MAX_PHOTO_UPSCALE = upscale
    try:
        yield
    finally:
        parts.torso_without_hair, photo.MAX_PHOTO_UPSCALE = saved


def _pair(d: dict | None) -> list[float] | None:
    return None if d is None else [round(d["R@10"], 4), round(d["mAP"], 4)]


def photo_rows(report: dict) -> dict:
    held = next(v for k, v in report["held_out_real"].items() if k.startswith("+ part evidence"))
    out = {"real photo (held out)": _pair(held["photo"]), "real more-like-this (held out)": _pair(held["like"])}
    for city in ("demo city", "large city"):
        row = report["splits"].get(city, {}).get(CITY_ROW, {})
        out[f"{city} photo"], out[f"{city} more-like-this"] = _pair(row.get("photo")), _pair(row.get("like"))
    # the no-result gate: photos searched on cameras their person never passes, all sets together
    strangers = report["strangers"]["after (defaults)"].values()
    out["strangers: searches answered, sightings"] = [sum(s["with_results"] for s in strangers),
                                                      sum(s["sightings"] for s in strangers)]
    return out


def text_rows(report: dict) -> dict:
    row = report["variants"][TEXT_ROW]
    return {f"text {split}": _pair(row[split]) for split in ("oxford", "pets+intel", "demo city", "large city")
            if split in row}


def main(argv: list[str] | None = None) -> int:
    from bench import text_quality as tq

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before-data", type=Path, required=True, help="indexes built without the torso rule")
    ap.add_argument("--after-data", type=Path, default=pq.DATA, help="indexes built with it (the default)")
    ap.add_argument("--large", action="store_true", help="also the large look-alike city (bench/data/case_city)")
    ap.add_argument("--out", type=Path, default=pq.RESULTS / "photo_levers.json")
    args = ap.parse_args(argv)
    data = {"before": args.before_data, "after": args.after_data}
    extra = ["--large"] if args.large else []
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        texts = {}
        for which, hair in (("before", False), ("after", True)):
            out = Path(tmp) / f"text_{which}.json"
            pq.DATA = data[which]
            with lever_state(hair, 1.0):
                tq.main(["--out", str(out), *extra])
            texts[which] = text_rows(json.loads(out.read_text(encoding="utf-8")))
        for name, which, hair, upscale in VARIANTS:
            out = Path(tmp) / "photo.json"
            with lever_state(hair, upscale):
                pq.main(["--data", str(data[which]), "--out", str(out), *extra])
            results[name] = {**photo_rows(json.loads(out.read_text(encoding="utf-8"))), **texts[which]}
    columns = list(next(iter(results.values())))
    pairs = {c for c in columns if not c.startswith("strangers")}
    print(f"\n{'variant':50s} " + " ".join(f"{c[:22]:>22s}" for c in columns))
    for name, row in results.items():
        cells = ["-" if row[c] is None else f"{row[c][0]:.2f} / {row[c][1]:.2f}" if c in pairs else
                 f"{row[c][0]} / {row[c][1]}" for c in columns]
        print(f"{name:50s} " + " ".join(f"{c:>22s}" for c in cells))
    args.out.write_text(json.dumps({"what": "R@10 / mAP (AP for one query) per set; CLIP off", "variants": results},
                                   indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
