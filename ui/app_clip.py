"""The clip player's Gradio parts: "Play clip" in the Search tab's detail panel and beside the route's stops.

The Search tab lays out its own button and ``<video>`` box (``ui.app_search``); the Route tab's
picker, button and box come from :func:`build_stop_clip_player`, called inside that tab. The events
are wired by :func:`wire_clip_players`, after every other event (the page numbers events in the
order they are wired). A clip box empties when the detail panel shows another sighting and when the
route is rebuilt, so a clip never sits beside a sighting it does not show.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import gradio as gr

from ui import formatting as fmt
from ui.app_common import EVENT_OPTIONS, AppContext
from ui.app_search import SearchTab
from ui.clip_player import play_clip
from ui.console import Session

HIDDEN = {"value": "", "visible": False}


@dataclass
class StopClipPlayer:
    row: gr.Row
    pick: gr.Dropdown
    button: gr.Button
    html: gr.HTML


def build_stop_clip_player() -> StopClipPlayer:
    """A stop picker, its Play button and the clip's box (inside the Route tab)."""
    with gr.Row(visible=False, elem_id="fs-stop-clip-row") as row:
        pick = gr.Dropdown([], label="Play the clip of a stop", elem_id="fs-stop-clip-pick", scale=3)
        button = gr.Button("▶ Play clip", size="sm", elem_id="fs-play-stop-clip", scale=1)
    html = gr.HTML("", elem_id="fs-stop-clip", visible=False)
    return StopClipPlayer(row=row, pick=pick, button=button, html=html)


def wire_clip_players(ctx: AppContext, search: SearchTab, stops: StopClipPlayer, route_stops: gr.HTML) -> None:
    """Play clip on both tabs; ``route_stops`` is the Route tab's stops table (it changes with the route)."""
    console = ctx.console

    def on_play(sess, case_v, purpose_v, sighting_id, request: gr.Request):
        try:
            ctx.bind_case(sess, request, case_v, purpose_v)
            view = play_clip(console, sess, sighting_id)
        except Exception as exc:
            return sess, gr.update(value=ctx.error(exc), visible=True)
        return sess, gr.update(value=view.html, visible=True)

    search.clip_btn.click(on_play, [*ctx.with_case, search.shown_id], [ctx.session, search.clip_html],
                          **EVENT_OPTIONS)
    search.shown_id.change(lambda: gr.update(**HIDDEN), None, [search.clip_html], **EVENT_OPTIONS)
    stops.button.click(on_play, [*ctx.with_case, stops.pick], [ctx.session, stops.html], **EVENT_OPTIONS)

    def on_route_changed(sess: Session):
        choices = stop_choices(sess, console.tz)
        return (gr.update(choices=choices, value=choices[0][1] if choices else None),
                gr.update(visible=bool(choices)), gr.update(**HIDDEN))

    route_stops.change(on_route_changed, [ctx.session], [stops.pick, stops.row, stops.html], **EVENT_OPTIONS)


def stop_choices(sess: Session, tz: ZoneInfo) -> list[tuple[str, str]]:
    """The route's stops that have a sighting (the last-seen point has none), as the picker lists them."""
    if sess.route is None:
        return []
    return [(f"{k + 1}. {st.sighting.camera_id} {fmt.clock(st.sighting.t_best, tz)}", st.sighting.sighting_id)
            for k, st in enumerate(sess.route.stops) if st.sighting is not None]
