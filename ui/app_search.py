"""The Search tab's page: the search form, results, pager and detail panel, and the ``/search`` API.

:func:`build_search_tab` lays the components out (inside ``create_app``'s ``gr.Tabs``);
:func:`wire_search_tab` connects them to ``ui.search_tab`` and ``ui.detail`` (pin and reject are
wired with the Route tab's lists, in ``ui.app_route``); :func:`register_search_api` adds the one
public endpoint. Each event binds the signed-in user (and the case) first, see ``ui.app_common``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from core.compass import COMPASS_8
from core.registry import Camera, CameraRegistry
from ui.app_common import EVENT_OPTIONS, AppContext
from ui.console import ANY_DIRECTION, PAGE_SIZE, Session, status_box
from ui.detail import select_sighting
from ui.policy import readable_error
from ui.search_tab import (
    ResultsView,
    api_search,
    change_page,
    clear_form,
    clear_photo,
    more_like_this,
    run_search,
    sort_results,
    suggestion_undo,
    upload_photo,
)

# Radio order that the CSS grid lays out as a compass rose: NW N NE / W any E / SW S SE.
COMPASS_LAYOUT = ["NW", "N", "NE", "W", ANY_DIRECTION, "E", "SW", "S", "SE"]
assert set(COMPASS_LAYOUT) - {ANY_DIRECTION} == set(COMPASS_8)
SEARCH_API = "search"  # the one endpoint callable by name (ui.http_guard refuses every other name)


def camera_choice(c: Camera) -> tuple[str, str]:
    return (f"{c.camera_id} · {c.name} ({c.district})", c.camera_id)


@dataclass
class SearchTab:
    session: gr.State
    text: gr.Textbox
    direction: gr.Radio
    time_from: gr.Textbox
    time_to: gr.Textbox
    districts: gr.Dropdown
    cameras: gr.Dropdown
    photo_file: gr.File
    photo_preview: gr.Image
    photo_status: gr.HTML
    search_btn: gr.Button
    clear_btn: gr.Button
    undo_btn: gr.Button
    search_status: gr.HTML
    gallery: gr.Gallery
    pager: gr.Row
    prev_btn: gr.Button
    page_label: gr.Markdown
    next_btn: gr.Button
    sort_time: gr.Checkbox
    detail_row: gr.Row
    detail_frame: gr.Image
    detail_strip: gr.Image
    detail_info: gr.HTML
    pin_btn: gr.Button
    reject_btn: gr.Button
    like_btn: gr.Button
    marks_summary: gr.Markdown
    shown_id: gr.Textbox
    to_route_btn: gr.Button
    clip_btn: gr.Button  # Play clip (wired in ui.app_clip)
    clip_html: gr.HTML

    @property
    def results_out(self) -> list[Any]:
        """What every search, page or "more like this" updates."""
        return [self.session, self.gallery, self.page_label, self.prev_btn, self.next_btn, self.search_status,
                self.detail_frame, self.detail_strip, self.detail_info, self.pager, self.detail_row, self.shown_id,
                self.undo_btn]

    def results_updates(self, sess: Session, view: ResultsView) -> tuple:
        sess.selected = None
        return (sess, gr.update(value=view.gallery, visible=bool(view.gallery)), view.page_label,
                gr.update(interactive=view.has_prev), gr.update(interactive=view.has_next), view.status_html,
                gr.update(value=None, visible=False), gr.update(value=None, visible=False),
                status_box("Click a sighting to see it larger." if view.gallery else "No sighting selected."),
                gr.update(visible=bool(view.gallery)), gr.update(visible=bool(view.gallery)), "",
                gr.update(visible=sess.undo_filters is not None))

    def results_error(self, sess: Session, exc: BaseException) -> tuple:
        return (sess, gr.skip(), gr.skip(), gr.skip(), gr.skip(), AppContext.error(exc),
                *(gr.skip() for _ in self.results_out[6:]))


def build_search_tab(session: gr.State, registry: CameraRegistry, cams: list[Camera]) -> SearchTab:
    """The tab's components, in the order the page shows them."""
    camera_choices = [camera_choice(c) for c in cams]
    with gr.Tab("Search", id="search", elem_id="fs-tab-search"), gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300, elem_id="fs-search-form"):
            text = gr.Textbox(label="Description (English or 한국어)", lines=3, max_lines=6,
                              placeholder="e.g. woman, purple coat, blue jeans, walking south / "
                                          "보라색 코트, 청바지, 남쪽으로",
                              elem_id="fs-description")
            direction = gr.Radio(COMPASS_LAYOUT, value=ANY_DIRECTION, label="Direction of movement",
                                 elem_id="fs-direction")
            # Plain text, checked by search: a picker that silently drops what it cannot parse
            # would leave the operator believing a window applies when it does not.
            with gr.Row():
                time_from = gr.Textbox(label="From (local time)", placeholder="2026-03-14 09:15",
                                       elem_id="fs-time-from", min_width=130)
                time_to = gr.Textbox(label="To (local time)", placeholder="2026-03-14 10:00",
                                     elem_id="fs-time-to", min_width=130)
            districts = gr.Dropdown(registry.districts, multiselect=True, label="Districts",
                                    info="empty: all", elem_id="fs-districts")
            cameras = gr.Dropdown(camera_choices, multiselect=True, label="Cameras", info="empty: all",
                                  elem_id="fs-cameras")
            photo_file = gr.File(label="Reference photo (optional)", file_types=["image"],
                                 type="filepath", elem_id="fs-photo")
            photo_preview = gr.Image(label="Photo in use", interactive=False, height=150, buttons=[],
                                     elem_id="fs-photo-preview", visible=False)
            photo_status = gr.HTML("", elem_id="fs-photo-status")
            with gr.Row():
                search_btn = gr.Button("Search", variant="primary", elem_id="fs-search")
                clear_btn = gr.Button("Clear form", elem_id="fs-clear")
            # after "Search there" (Route tab) filled the filters in: puts the operator's own back
            undo_btn = gr.Button("Undo suggested filters", size="sm", visible=False, elem_id="fs-undo-suggestion")
        with gr.Column(scale=3, min_width=480):
            search_status = gr.HTML(
                status_box("Describe the person (clothing colours, direction) or upload a reference "
                           "photo, set the time window and area, then press <b>Search</b>."),
                elem_id="fs-search-status")
            # results, pager and detail appear once there is something to show in them
            gallery = gr.Gallery(label="Sightings", columns=6, height=430, allow_preview=False,
                                 object_fit="contain", elem_id="fs-results", buttons=[],
                                 interactive=False, visible=False)
            with gr.Row(visible=False) as pager:
                prev_btn = gr.Button("◀ Previous", size="sm", interactive=False, elem_id="fs-prev")
                page_label = gr.Markdown("", elem_id="fs-page-label")
                next_btn = gr.Button("Next ▶", size="sm", interactive=False, elem_id="fs-next")
                sort_time = gr.Checkbox(False, label="Sort by time (each page)", elem_id="fs-sort-time",
                                        min_width=120)
            with gr.Row(equal_height=False, elem_id="fs-detail", visible=False) as detail_row:
                with gr.Column(scale=2):
                    detail_frame = gr.Image(label="Selected sighting", interactive=False, height=320,
                                            elem_id="fs-detail-frame", buttons=["fullscreen"], visible=False)
                    detail_strip = gr.Image(label="Across the sighting", interactive=False, height=170,
                                            elem_id="fs-detail-strip", buttons=["fullscreen"], visible=False)
                    clip_html = gr.HTML("", elem_id="fs-clip", visible=False)
                with gr.Column(scale=1, min_width=260):
                    detail_info = gr.HTML(status_box("Click a sighting to see it larger."),
                                          elem_id="fs-detail-info")
                    with gr.Row():
                        pin_btn = gr.Button("Pin (confirmed)", variant="primary", size="sm",
                                            elem_id="fs-pin")
                        reject_btn = gr.Button("Reject", variant="stop", size="sm", elem_id="fs-reject")
                    with gr.Row():
                        like_btn = gr.Button("More like this", size="sm", elem_id="fs-like")
                        clip_btn = gr.Button("▶ Play clip", size="sm", elem_id="fs-play-clip")
                    marks_summary = gr.Markdown("Pinned: 0 · Rejected: 0", elem_id="fs-marks-summary")
                    # the sighting the detail panel shows: what Pin / Reject / More like this act on
                    shown_id = gr.Textbox(visible=False, elem_id="fs-shown-id")
                    to_route_btn = gr.Button("Build route →", elem_id="fs-to-route")
    return SearchTab(session=session, text=text, direction=direction, time_from=time_from, time_to=time_to,
                     districts=districts, cameras=cameras, photo_file=photo_file, photo_preview=photo_preview,
                     photo_status=photo_status, search_btn=search_btn, clear_btn=clear_btn, undo_btn=undo_btn,
                     search_status=search_status, gallery=gallery, pager=pager, prev_btn=prev_btn,
                     page_label=page_label, next_btn=next_btn, sort_time=sort_time,
                     detail_row=detail_row, detail_frame=detail_frame,
                     detail_strip=detail_strip, detail_info=detail_info, pin_btn=pin_btn, reject_btn=reject_btn,
                     like_btn=like_btn, marks_summary=marks_summary, shown_id=shown_id, to_route_btn=to_route_btn,
                     clip_btn=clip_btn, clip_html=clip_html)


def wire_search_tab(ctx: AppContext, t: SearchTab, cams: list[Camera]) -> None:
    """The search form, pager, "more like this", the detail panel and the reference photo."""
    console = ctx.console

    def on_search(sess, case_v, purpose_v, text_v, dir_v, from_v, to_v, dists_v, cams_v, request: gr.Request):
        try:
            ctx.bind_case(sess, request, case_v, purpose_v)
            return t.results_updates(sess, run_search(console, sess, text_v, dir_v, from_v, to_v, dists_v,
                                                        cams_v))
        except Exception as exc:
            return t.results_error(sess, exc)

    search_inputs = [*ctx.with_case, t.text, t.direction, t.time_from, t.time_to, t.districts, t.cameras]
    t.search_btn.click(on_search, search_inputs, t.results_out, **EVENT_OPTIONS)
    t.text.submit(on_search, search_inputs, t.results_out, **EVENT_OPTIONS)

    def on_page(step: int):
        def run(sess, case_v, purpose_v, request: gr.Request):
            try:
                ctx.bind_case(sess, request, case_v, purpose_v)
                return t.results_updates(sess, change_page(console, sess, step))
            except Exception as exc:
                return t.results_error(sess, exc)
        return run

    t.prev_btn.click(on_page(-1), ctx.with_case, t.results_out, **EVENT_OPTIONS)
    t.next_btn.click(on_page(+1), ctx.with_case, t.results_out, **EVENT_OPTIONS)

    def on_like(sess, case_v, purpose_v, shown, request: gr.Request):
        try:
            ctx.bind_case(sess, request, case_v, purpose_v)
            return t.results_updates(sess, more_like_this(console, sess, shown))
        except Exception as exc:
            return t.results_error(sess, exc)

    t.like_btn.click(on_like, [*ctx.with_case, t.shown_id], t.results_out, **EVENT_OPTIONS)

    def on_select(sess, evt: gr.SelectData, request: gr.Request):
        try:
            ctx.bind(sess, request)
            view = select_sighting(console, sess, evt.index if isinstance(evt.index, int) else None)
            return (sess, gr.update(value=view.frame, visible=view.frame is not None),
                    gr.update(value=view.strip, visible=view.strip is not None), view.info_html, view.sighting_id)
        except Exception as exc:
            return sess, gr.skip(), gr.skip(), ctx.error(exc), gr.skip()

    t.gallery.select(on_select, [ctx.session], [ctx.session, t.detail_frame, t.detail_strip, t.detail_info, t.shown_id],
                     **EVENT_OPTIONS)

    def on_sort(sess, by_time, request: gr.Request):
        try:
            ctx.bind(sess, request)
            gallery = sort_results(console, sess, by_time)
        except Exception as exc:
            return sess, gr.skip(), gr.skip(), gr.skip(), ctx.error(exc), gr.skip()
        return (sess, gallery, gr.update(value=None, visible=False), gr.update(value=None, visible=False),
                status_box("Click a sighting to see it larger."), "")

    t.sort_time.input(on_sort, [ctx.session, t.sort_time],
                      [ctx.session, t.gallery, t.detail_frame, t.detail_strip, t.detail_info, t.shown_id],
                      **EVENT_OPTIONS)

    def on_clear(sess):
        # everything the next search would use, the reference photo included
        view = clear_form(console, sess)
        return (sess, "", ANY_DIRECTION, "", "", [], [], None, gr.update(value=None, visible=False), view.status_html,
                gr.update(visible=False))

    t.clear_btn.click(on_clear, [ctx.session], [ctx.session, t.text, t.direction, t.time_from, t.time_to, t.districts,
                                                t.cameras, t.photo_file, t.photo_preview, t.photo_status, t.undo_btn],
                      **EVENT_OPTIONS)

    def on_undo(sess, request: gr.Request):
        try:
            ctx.bind(sess, request)
            before = suggestion_undo(sess)
        except Exception as exc:
            return sess, ctx.error(exc), *(gr.skip() for _ in range(6))
        return (sess, status_box("Your filters are back in the form: press <b>Search</b> to use them."),
                before.get("direction") or ANY_DIRECTION, before.get("time_from") or "", before.get("time_to") or "",
                before.get("districts") or [], before.get("cameras") or [], gr.update(visible=False))

    t.undo_btn.click(on_undo, [ctx.session], [ctx.session, t.search_status, t.direction, t.time_from, t.time_to,
                                              t.districts, t.cameras, t.undo_btn], **EVENT_OPTIONS)

    def on_district_change(dists_v, cams_v):
        # narrow the camera list to the chosen districts (keeping cameras already chosen there)
        chosen = set(dists_v or [])
        keep = [c for c in cams if not chosen or c.district in chosen]
        ids = {c.camera_id for c in keep}
        return gr.update(choices=[camera_choice(c) for c in keep],
                         value=[v for v in (cams_v or []) if v in ids])

    t.districts.change(on_district_change, [t.districts, t.cameras], [t.cameras], **EVENT_OPTIONS)

    # photo
    def on_photo(sess, case_v, purpose_v, path, request: gr.Request):
        try:
            ctx.bind_case(sess, request, case_v, purpose_v)
            view = upload_photo(console, sess, path)
            return (sess, gr.update(value=view.preview, visible=view.preview is not None), view.status_html,
                    gr.skip())
        except Exception as exc:
            # drop the rejected file, so what the form shows is what a search would use
            sess.photo, sess.photo_name, sess.photo_preview = None, "", None
            return sess, gr.update(value=None, visible=False), ctx.error(exc), None

    t.photo_file.upload(on_photo, [*ctx.with_case, t.photo_file],
                        [ctx.session, t.photo_preview, t.photo_status, t.photo_file], **EVENT_OPTIONS)

    def on_photo_clear(sess):
        view = clear_photo(console, sess)
        return sess, gr.update(value=None, visible=False), view.status_html

    t.photo_file.clear(on_photo_clear, [ctx.session], [ctx.session, t.photo_preview, t.photo_status], **EVENT_OPTIONS)


def register_search_api(ctx: AppContext, api_concurrency: int) -> None:
    """The JSON search endpoint (POST /gradio_api/call/search, or gradio_client's predict(api_name="/search")):
    stateless, one page of results per call, same login, role check, case fields and audit as the button."""
    console = ctx.console
    bind = ctx.bind

    def search_api(case_number: str, purpose: str, text: str = "", direction: str = "", time_from: str = "",
                   time_to: str = "", districts: list[str] | None = None, cameras: list[str] | None = None,
                   limit: int = PAGE_SIZE, request: gr.Request = None) -> dict:  # type: ignore[assignment]
        """Search the index as the signed-in user; returns the ranked sightings as JSON."""
        try:
            sess = bind(Session(), request)
            return api_search(console, sess, case_number, purpose, text, direction or None, time_from or None,
                              time_to or None, districts, cameras, limit)
        except Exception as exc:
            raise gr.Error(readable_error(exc), print_exception=False) from None

    gr.api(search_api, api_name=SEARCH_API, concurrency_limit=api_concurrency, concurrency_id="api-search")
