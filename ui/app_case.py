"""The "Case from a report" tab's page, and "Analyse now" on the Route tab's suggestions.

:func:`build_case_tab` lays out the report form, Start / Stop, the progress bar, the best sightings with
Pin / Reject, and the case's route; :func:`wire_case_tab` connects them to ``ui.case_tab``. While a case
runs, a timer polls its progress every :data:`POLL_S` seconds and stops itself when the case ends.
:func:`wire_analyse_now` adds an "Analyse now" button next to the Route tab's "Search there".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from core.compass import COMPASS_8
from core.registry import Camera
from ui.app_common import EVENT_OPTIONS, AppContext
from ui.app_route import RouteTab
from ui.app_search import camera_choice
from ui.case_tab import CaseDesk, CaseView, analyse_suggestion, mark_finding, poll_case, start_case, stop_case
from ui.console import ANY_DIRECTION, Console, Session, status_box
from ui.formatting import clock

POLL_S = 2.0


@dataclass
class CaseTab:
    camera: gr.Dropdown
    at: gr.Textbox
    text: gr.Textbox
    direction: gr.Dropdown
    hours: gr.Number
    use_photo: gr.Checkbox
    start_btn: gr.Button
    stop_btn: gr.Button
    status: gr.HTML
    progress: gr.HTML
    gallery: gr.Gallery
    shown: gr.State  # (ids, captions) the gallery shows, so an unchanged list is not sent again
    selected: gr.State
    selected_html: gr.HTML
    pin_btn: gr.Button
    reject_btn: gr.Button
    route_html: gr.HTML
    analyse_row: gr.Row
    analyse_pick: gr.Dropdown
    analyse_btn: gr.Button
    analyse_status: gr.HTML
    timer: gr.Timer

    @property
    def view_out(self) -> list[Any]:
        return [self.status, self.progress, self.gallery, self.shown, self.route_html, self.analyse_row,
                self.analyse_pick, self.timer, self.stop_btn]

    def view_updates(self, view: CaseView, shown: Any) -> tuple:
        now = (view.gallery_ids, [c for _, c in view.gallery])
        gallery = gr.skip() if now == shown else gr.update(value=view.gallery, visible=bool(view.gallery))
        return (view.status_html, view.progress_html, gallery, now, view.route_html,
                gr.update(visible=bool(view.analyse_choices)),
                gr.update(choices=view.analyse_choices,
                          value=view.analyse_choices[0][1] if view.analyse_choices else None),
                gr.Timer(active=view.running), gr.update(interactive=view.running))

    def view_error(self, ctx: AppContext, exc: BaseException) -> tuple:
        return (ctx.error(exc), *(gr.skip() for _ in self.view_out[1:]))


def build_case_tab(console: Console, cams: list[Camera]) -> CaseTab:
    with gr.Tab("Case from a report", id="case", elem_id="fs-tab-case"), gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300, elem_id="fs-case-form"):
            camera = gr.Dropdown([camera_choice(c) for c in cams], label="Last seen at camera",
                                 elem_id="fs-case-camera")
            at = gr.Textbox(label="Last seen at (local time)", placeholder="2026-03-14 09:21:30", max_lines=1,
                            elem_id="fs-case-at")
            text = gr.Textbox(label="Description (English or 한국어)", lines=3, max_lines=6,
                              placeholder="e.g. woman, long black hair, purple coat, blue jeans",
                              elem_id="fs-case-text")
            use_photo = gr.Checkbox(False, label="Use the Search tab's reference photo", elem_id="fs-case-photo")
            with gr.Row():
                direction = gr.Dropdown([ANY_DIRECTION, *COMPASS_8], value=ANY_DIRECTION,
                                        label="Direction of travel", elem_id="fs-case-direction", min_width=100)
                hours = gr.Number(4.0, label="Hours to follow", minimum=0.1, maximum=168, step=0.5,
                                  elem_id="fs-case-hours", min_width=100)
            with gr.Row():
                start_btn = gr.Button("Start case", variant="primary", elem_id="fs-case-start")
                stop_btn = gr.Button("Stop", variant="stop", interactive=False, elem_id="fs-case-stop")
            status = gr.HTML(status_box("Fill in the report and press <b>Start case</b>."), elem_id="fs-case-status")
            progress = gr.HTML("", elem_id="fs-case-progress-box")
        with gr.Column(scale=2, min_width=480):
            gr.HTML("<h4 class='fs-h'>Best sightings so far</h4>")
            gallery = gr.Gallery(label="Best sightings so far", show_label=False, columns=6, height=300,
                                 allow_preview=False, object_fit="contain", buttons=[], interactive=False,
                                 visible=False, elem_id="fs-case-results")
            with gr.Row():
                selected_html = gr.HTML(status_box("Click a sighting, then Pin (this is her) or Reject."),
                                        elem_id="fs-case-selected")
                pin_btn = gr.Button("Pin", size="sm", elem_id="fs-case-pin", scale=0)
                reject_btn = gr.Button("Reject", size="sm", variant="stop", elem_id="fs-case-reject", scale=0)
            route_html = gr.HTML("", elem_id="fs-case-route")
            with gr.Row(visible=False) as analyse_row:
                analyse_pick = gr.Dropdown([], label="No indexed footage there: analyse it first",
                                           elem_id="fs-case-analyse-pick", scale=3)
                analyse_btn = gr.Button("Analyse now", size="sm", elem_id="fs-case-analyse", scale=1)
            analyse_status = gr.HTML("", elem_id="fs-case-analyse-status")
    return CaseTab(camera, at, text, direction, hours, use_photo, start_btn, stop_btn, status, progress, gallery,
                   gr.State(([], [])), gr.State(""), selected_html, pin_btn, reject_btn, route_html, analyse_row,
                   analyse_pick, analyse_btn, analyse_status, gr.Timer(POLL_S, active=False))


def wire_case_tab(ctx: AppContext, app: gr.Blocks, t: CaseTab, desk: CaseDesk) -> None:
    """Start / Stop, the timer's polls (and one on page load: a case started before a reload shows, and its
    polling resumes), gallery selection, Pin / Reject, Analyse now on the case route's suggestions."""
    console = ctx.console

    def on_start(sess, case_v, purpose_v, camera, at, text, direction, hours, use_photo, shown,
                 request: gr.Request):
        try:
            ctx.bind_case(sess, request, case_v, purpose_v)
            return t.view_updates(start_case(desk, sess, camera, at, text, direction, hours, use_photo), shown)
        except Exception as exc:
            return t.view_error(ctx, exc)

    t.start_btn.click(on_start, [*ctx.with_case, t.camera, t.at, t.text, t.direction, t.hours, t.use_photo,
                                 t.shown], t.view_out, **EVENT_OPTIONS)

    def on_tick(sess, shown, request: gr.Request):
        try:
            ctx.bind(sess, request)
            return t.view_updates(poll_case(desk, sess), shown)
        except Exception as exc:
            return (*t.view_error(ctx, exc)[:-2], gr.Timer(active=False), gr.skip())

    t.timer.tick(on_tick, [ctx.session, t.shown], t.view_out, show_progress="hidden", **EVENT_OPTIONS)
    app.load(on_tick, [ctx.session, t.shown], t.view_out, show_progress="hidden", **EVENT_OPTIONS)

    def on_stop(sess, case_v, purpose_v, shown, request: gr.Request):
        try:
            ctx.bind_case(sess, request, case_v, purpose_v)
            return t.view_updates(stop_case(desk, sess), shown)
        except Exception as exc:
            return t.view_error(ctx, exc)

    t.stop_btn.click(on_stop, [*ctx.with_case, t.shown], t.view_out, **EVENT_OPTIONS)

    def on_select(shown, evt: gr.SelectData):
        ids = shown[0] if shown else []
        if not isinstance(evt.index, int) or not 0 <= evt.index < len(ids):
            return "", status_box("Click a sighting, then Pin (this is her) or Reject.")
        job = desk.job
        f = next((f for f in job.runner.state.findings if f.sighting_id == ids[evt.index]), None) if job else None
        label = f"{f.camera_id} {clock(f.t_best, console.tz)} ({f.district})" if f else ids[evt.index]
        return ids[evt.index], status_box(f"Selected: <b>{label}</b>")

    t.gallery.select(on_select, [t.shown], [t.selected, t.selected_html], **EVENT_OPTIONS)

    def on_mark(pinned: bool):
        def run(sess, case_v, purpose_v, sid, shown, request: gr.Request):
            try:
                ctx.bind_case(sess, request, case_v, purpose_v)
                return (sess, *t.view_updates(mark_finding(desk, sess, sid, pinned=pinned), shown))
            except Exception as exc:
                return (sess, *t.view_error(ctx, exc))
        return run

    for btn, pinned in ((t.pin_btn, True), (t.reject_btn, False)):
        btn.click(on_mark(pinned), [*ctx.with_case, t.selected, t.shown], [ctx.session, *t.view_out],
                  **EVENT_OPTIONS)

    def on_analyse(sess, case_v, purpose_v, choice, request: gr.Request):
        try:
            ctx.bind_case(sess, request, case_v, purpose_v)
            return analyse_suggestion(desk, sess, desk.job.route if desk.job else None, choice)
        except Exception as exc:
            return ctx.error(exc)

    t.analyse_btn.click(on_analyse, [*ctx.with_case, t.analyse_pick], [t.analyse_status], **EVENT_OPTIONS)


def wire_analyse_now(ctx: AppContext, route: RouteTab, desk: CaseDesk) -> None:
    """"Analyse now" beside the Route tab's "Search there": for a suggested window with no indexed footage."""
    with route.suggestion_row:
        btn = gr.Button("Analyse now", size="sm", elem_id="fs-analyse-now", scale=1)

    def on_analyse(sess: Session, case_v, purpose_v, choice, request: gr.Request):
        try:
            ctx.bind_case(sess, request, case_v, purpose_v)
            return analyse_suggestion(desk, sess, sess.route, choice)
        except Exception as exc:
            return ctx.error(exc)

    btn.click(on_analyse, [*ctx.with_case, route.suggestion_pick], [route.route_status], **EVENT_OPTIONS)
