"""The Route & map tab's page, and the marks that span both tabs.

:func:`build_route_tab` lays the components out; :func:`wire_marks` connects Pin / Reject (in the
Search tab's detail panel) and Unpin / Take back (here) to ``ui.marks``; :func:`wire_route_tab`
connects Build route, Reject and rebuild, and Search there (a suggested camera, whose results go
back to the Search tab) to ``ui.route_tab``.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

import gradio as gr

from core.registry import Camera
from ui.app_clip import StopClipPlayer, build_stop_clip_player
from ui.app_common import EVENT_OPTIONS, AppContext
from ui.app_search import SearchTab, camera_choice
from ui.console import ANY_DIRECTION, Console, Session, status_box
from ui.detail import detail_view
from ui.marks import MarksView, pin_selected, reject_selected, unmark
from ui.policy import readable_error
from ui.route_tab import RouteView, base_map, build_route, reject_stops, search_suggestion


@dataclass
class RouteTab:
    session: gr.State
    build_btn: gr.Button
    route_status: gr.HTML
    pinned_gallery: gr.Gallery
    pinned_pick: gr.Dropdown
    unpin_btn: gr.Button
    rejected_pick: gr.Dropdown
    unreject_btn: gr.Button
    map_html: gr.HTML
    suggestions_html: gr.HTML
    suggestion_row: gr.Row
    suggestion_pick: gr.Dropdown
    suggestion_btn: gr.Button
    timeline_html: gr.HTML
    stops_html: gr.HTML
    stop_reject_row: gr.Row
    stop_pick: gr.Dropdown
    stop_reject_btn: gr.Button
    stop_clip: StopClipPlayer  # Play clip of a stop (ui.app_clip)

    @property
    def route_out(self) -> list[Any]:
        """What building (or rebuilding) the route updates."""
        return [self.session, self.route_status, self.map_html, self.timeline_html, self.stops_html,
                self.suggestions_html, self.suggestion_pick, self.stop_pick, self.stop_reject_row,
                self.suggestion_row]

    @staticmethod
    def route_updates(sess: Session, view: RouteView) -> tuple:
        return (sess, view.status_html, view.map_html, view.timeline_html, view.stops_html,
                view.suggestions_html,
                gr.update(choices=view.suggestion_choices,
                          value=view.suggestion_choices[0][1] if view.suggestion_choices else None),
                gr.update(choices=view.stop_choices, value=[]), gr.update(visible=bool(view.stop_choices)),
                gr.update(visible=bool(view.suggestion_choices)))


def build_route_tab(session: gr.State, console: Console) -> RouteTab:
    """The tab's components, in the order the page shows them."""
    with gr.Tab("Route & map", id="route", elem_id="fs-tab-route"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=300):
                build_btn = gr.Button("Build route", variant="primary", elem_id="fs-build-route")
                route_status = gr.HTML(status_box("No route yet: pin the sightings you are sure of, then "
                                                  "press <b>Build route</b>."), elem_id="fs-route-status")
                pinned_gallery = gr.Gallery(label="Pinned sightings", columns=3, height=250,
                                            allow_preview=False, object_fit="contain", buttons=[],
                                            interactive=False, elem_id="fs-pinned")
                pinned_pick = gr.Dropdown([], label="Pinned: choose to unpin", multiselect=True,
                                          elem_id="fs-pinned-pick")
                unpin_btn = gr.Button("Unpin", size="sm", elem_id="fs-unpin")
                rejected_pick = gr.Dropdown([], label="Rejected: choose to take back", multiselect=True,
                                            elem_id="fs-rejected-pick")
                unreject_btn = gr.Button("Take back rejection", size="sm", elem_id="fs-unreject")
            with gr.Column(scale=2, min_width=480):
                map_html = gr.HTML(base_map(console), elem_id="fs-map")
                suggestions_html = gr.HTML("", elem_id="fs-suggestions")
                with gr.Row(visible=False) as suggestion_row:
                    suggestion_pick = gr.Dropdown([], label="Search a suggested camera in its window",
                                                  elem_id="fs-suggestion-pick", scale=3)
                    suggestion_btn = gr.Button("Search there", size="sm", elem_id="fs-search-suggestion",
                                               scale=1)
        timeline_html = gr.HTML("", elem_id="fs-timeline")
        stops_html = gr.HTML("", elem_id="fs-stops")
        with gr.Row(visible=False) as stop_reject_row:
            stop_pick = gr.Dropdown([], label="Someone else on the route? Choose those stops",
                                    multiselect=True, elem_id="fs-stop-pick", scale=3)
            stop_reject_btn = gr.Button("Reject and rebuild", variant="stop", size="sm",
                                        elem_id="fs-reject-stops", scale=1)
        stop_clip = build_stop_clip_player()
    return RouteTab(session=session, build_btn=build_btn, route_status=route_status, pinned_gallery=pinned_gallery,
                    pinned_pick=pinned_pick, unpin_btn=unpin_btn, rejected_pick=rejected_pick,
                    unreject_btn=unreject_btn, map_html=map_html, suggestions_html=suggestions_html,
                    suggestion_row=suggestion_row, suggestion_pick=suggestion_pick, suggestion_btn=suggestion_btn,
                    timeline_html=timeline_html, stops_html=stops_html, stop_reject_row=stop_reject_row,
                    stop_pick=stop_pick, stop_reject_btn=stop_reject_btn, stop_clip=stop_clip)


@dataclass
class MarksOutputs:
    """What a change of marks updates, on both tabs: the summary, the pinned gallery and lists, the
    detail panel (its "Marked" row) and the results' captions."""

    console: Console
    search: SearchTab
    route: RouteTab

    @property
    def components(self) -> list[Any]:
        return [self.search.session, self.search.marks_summary, self.route.pinned_gallery, self.route.pinned_pick,
                self.route.rejected_pick, self.search.detail_info, self.search.gallery]

    def updates(self, sess: Session, view: MarksView) -> tuple:
        detail = gr.skip()
        if sess.selected and sess.selected in sess.known:
            detail = detail_view(self.console, sess, sess.known[sess.selected]).info_html
        return (sess, view.summary, view.pinned_gallery, gr.update(choices=view.pinned_choices, value=[]),
                gr.update(choices=view.rejected_choices, value=[]), detail, view.results_gallery)


def wire_marks(ctx: AppContext, search: SearchTab, route: RouteTab) -> MarksOutputs:
    """Pin / Reject the sighting the detail panel shows; Unpin / Take back from the Route tab's lists."""
    console = ctx.console
    marks = MarksOutputs(console, search, route)
    marks_out = marks.components

    def on_mark(fn):
        def run(sess, shown, request: gr.Request):
            try:
                ctx.bind(sess, request)
                return marks.updates(sess, fn(console, sess, shown))
            except Exception as exc:
                return (sess, gr.skip(), gr.skip(), gr.skip(), gr.skip(), ctx.error(exc), gr.skip())
        return run

    search.pin_btn.click(on_mark(pin_selected), [ctx.session, search.shown_id], marks_out, **EVENT_OPTIONS)
    search.reject_btn.click(on_mark(reject_selected), [ctx.session, search.shown_id], marks_out, **EVENT_OPTIONS)

    def on_unmark(sess, ids, request: gr.Request):
        try:
            ctx.bind(sess, request)
            return marks.updates(sess, unmark(console, sess, ids))
        except Exception as exc:
            gr.Warning(escape(readable_error(exc)), duration=8)
            return (sess, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())

    route.unpin_btn.click(on_unmark, [ctx.session, route.pinned_pick], marks_out, **EVENT_OPTIONS)
    route.unreject_btn.click(on_unmark, [ctx.session, route.rejected_pick], marks_out, **EVENT_OPTIONS)
    return marks


def wire_route_tab(ctx: AppContext, t: RouteTab, search: SearchTab, marks: MarksOutputs, cams: list[Camera]) -> None:
    """Build route (also from the Search tab), reject stops and rebuild, search a suggested camera."""
    console = ctx.console
    route_out, marks_out = t.route_out, marks.components

    def on_route(sess, case_v, purpose_v, request: gr.Request, progress=gr.Progress()):  # noqa: B008
        progress(None, desc="building the route…")
        try:
            ctx.bind_case(sess, request, case_v, purpose_v)
            return t.route_updates(sess, build_route(console, sess))
        except Exception as exc:
            return (sess, ctx.error(exc), *(gr.skip() for _ in route_out[2:]))

    def on_reject_stops(sess, case_v, purpose_v, ids, request: gr.Request):
        try:
            ctx.bind_case(sess, request, case_v, purpose_v)
            marks_view, route = reject_stops(console, sess, ids)
        except Exception as exc:
            return (sess, ctx.error(exc), *(gr.skip() for _ in route_out[2:]), *(gr.skip() for _ in marks_out[1:]))
        return (*t.route_updates(sess, route), *marks.updates(sess, marks_view)[1:])

    t.stop_reject_btn.click(on_reject_stops, [*ctx.with_case, t.stop_pick], [*route_out, *marks_out[1:]],
                            **EVENT_OPTIONS)

    t.build_btn.click(on_route, ctx.with_case, route_out, **EVENT_OPTIONS)
    search.to_route_btn.click(lambda: gr.Tabs(selected="route"), None, [ctx.tabs], **EVENT_OPTIONS).then(
        on_route, ctx.with_case, route_out, **EVENT_OPTIONS)

    def on_suggestion(sess, case_v, purpose_v, choice, dir_v, from_v, to_v, dists_v, cams_v, request: gr.Request):
        form = {"direction": dir_v, "time_from": from_v, "time_to": to_v, "districts": dists_v, "cameras": cams_v}
        try:
            ctx.bind_case(sess, request, case_v, purpose_v)
            view, req = search_suggestion(console, sess, choice, form)
        except Exception as exc:
            return (*search.results_error(sess, exc), *(gr.skip() for _ in range(6)))
        # the form shows what was searched (all cameras listed again, so the chosen one is visible)
        return (*search.results_updates(sess, view), gr.Tabs(selected="search"), ANY_DIRECTION,
                gr.update(choices=[camera_choice(c) for c in cams], value=req["cameras"]), req["time_from"],
                req["time_to"], [])

    t.suggestion_btn.click(on_suggestion, [*ctx.with_case, t.suggestion_pick, search.direction, search.time_from,
                                           search.time_to, search.districts, search.cameras],
                           [*search.results_out, ctx.tabs, search.direction, search.cameras, search.time_from,
                            search.time_to, search.districts], **EVENT_OPTIONS)
