"""Assemble ``ground_truth.json`` from the scenario and what the renderer actually drew.

Appearance times and boxes come from the rendered frames (a person is "in view" while their drawn body
box is at least 60% inside the frame), so the route's enter/exit times and every box agree with the
pixels. The format is documented in README.md next to this file.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .render import Appearance
from .scenario import (
    DEMO_DATE,
    FPS,
    FRAME_H,
    FRAME_W,
    IN_VIEW_FRACTION,
    KST,
    ROUTE_SPEED_MPS,
    TARGET_DESCRIPTION_EN,
    TARGET_DESCRIPTION_KO,
    TARGET_LOWER,
    TARGET_UPPER,
    City,
    Clip,
)

FORMAT_VERSION = 1


def iso(epoch: float) -> str:
    """ISO 8601 in Korea time, with milliseconds only when the time is not a whole second."""
    dt = datetime.fromtimestamp(round(epoch, 3), KST)
    spec = "seconds" if abs(epoch - round(epoch)) < 5e-4 else "milliseconds"
    return dt.isoformat(timespec=spec)


def _time(prefix: str, epoch: float, clip: Clip) -> dict[str, Any]:
    return {prefix: iso(epoch), f"{prefix}_epoch": round(epoch, 3),
            f"{prefix}_offset_s": round(epoch - clip.start, 2)}


def build(city: City, rendered: dict[str, list[Appearance]], generator: dict[str, str]) -> dict[str, Any]:
    """``rendered`` maps each clip's relative path to its appearances (walk indices into per-camera lists)."""
    walks_by_cam = {cid: city.walks_at(cid) for cid in city.registry.cameras}
    clips = {c.rel_path: c for c in city.clips}
    fps = city.clips[0].fps if city.clips else FPS
    appearances: list[dict[str, Any]] = []
    for rel, apps in sorted(rendered.items()):
        clip = clips[rel]
        walks = walks_by_cam[clip.camera_id]
        for app in apps:
            w = walks[app.walk_index]
            t_start = clip.start + app.first_frame / clip.fps
            t_end = clip.start + app.last_frame / clip.fps
            appearances.append({
                "person_id": w.person.person_id,
                "role": w.person.role,
                "camera_id": clip.camera_id,
                "video": rel,
                **_time("t_start", t_start, clip),
                **_time("t_end", t_end, clip),
                "bearing_deg": round(w.bearing_deg % 360.0, 1),
                "speed_mps": round(w.speed_mps, 2),
                "paused_s": round(w.pause_s, 1),
                "upper_colour": w.person.upper_colour,
                "lower_colour": w.person.lower_colour,
                "height_m": w.person.look.height_m,
                "boxes": app.boxes,
                "visibility": app.visibility,
            })

    route: list[dict[str, Any]] = []
    prev: dict[str, Any] | None = None
    for leg in city.route:
        seen = [a for a in appearances if a["person_id"] == "target" and a["camera_id"] == leg.camera_id]
        if not seen:
            raise RuntimeError(f"target never rendered in view at route camera {leg.camera_id}")
        first, last = seen[0], seen[-1]
        if first["video"] != last["video"]:
            raise RuntimeError(f"target spans two files at {leg.camera_id}; the route format needs one")
        clip = clips[first["video"]]
        cam = city.registry.get(leg.camera_id)
        entry: dict[str, Any] = {
            "camera_id": leg.camera_id,
            "district": cam.district,
            "video": first["video"],
            "t_enter": first["t_start"], "t_enter_epoch": first["t_start_epoch"],
            "t_exit": last["t_end"], "t_exit_epoch": last["t_end_epoch"],
            "offset_in_video_s": {"enter": first["t_start_offset_s"], "exit": last["t_end_offset_s"]},
            "bearing_deg": first["bearing_deg"],
            "walking_speed_mps": first["speed_mps"],
        }
        if prev is not None:
            dist = city.registry.distance_m(prev["camera_id"], leg.camera_id)
            gap = entry["t_enter_epoch"] - prev["t_exit_epoch"]
            entry["from_previous"] = {"distance_m": round(dist, 1), "gap_s": round(gap, 1),
                                      "implied_speed_mps": round(dist / gap, 2)}
        route.append(entry)
        prev = entry
        assert clip.start <= entry["t_enter_epoch"] <= entry["t_exit_epoch"] <= clip.end

    return {
        "format_version": FORMAT_VERSION,
        "generator": generator,
        "date": DEMO_DATE,
        "timezone": "Asia/Seoul",
        "utc_offset": "+09:00",
        "video": {"fps": fps, "width": FRAME_W, "height": FRAME_H, "codec": "h264", "gop_frames": fps},
        "registry": "cameras.csv",
        "box_rule": (f"boxes every {max(1, fps // 2) / fps:g} s while the drawn body box is at least "
                     f"{IN_VIEW_FRACTION:.0%} inside the frame; clipped to the frame; visibility = share of "
                     "the body not hidden by nearer people"),
        "target": {
            "person_id": "target",
            "upper_colour": TARGET_UPPER,
            "lower_colour": TARGET_LOWER,
            "description_en": TARGET_DESCRIPTION_EN,
            "description_ko": TARGET_DESCRIPTION_KO,
            "height_m": next(w for w in city.walks if w.person.role == "target").person.look.height_m,
        },
        "route": route,
        "route_speed_mps": ROUTE_SPEED_MPS,
        "hard_negatives": {
            "lookalikes": sorted({a["person_id"] for a in appearances if a["role"] == "lookalike"}),
            "doubles": sorted({a["person_id"] for a in appearances if a["role"] == "double"}),
            "cameras_without_target": sorted(set(city.registry.cameras) - {leg.camera_id
                                                                             for leg in city.route}),
            "notes": city.notes.get("hard_negative_notes", {
                "lookalike": "same purple upper garment as the target, different lower colour",
                "double": "the target's exact outfit, walking the opposite way, off the route at a time the "
                          "target could not reach it",
            }),
        },
        "clips": [{"camera_id": c.camera_id, "video": c.rel_path,
                   "start": iso(c.start), "start_epoch": c.start, "end": iso(c.end), "end_epoch": c.end,
                   "duration_s": c.duration_s, "frames": c.duration_s * c.fps} for c in city.clips],
        "appearances": appearances,
    }
