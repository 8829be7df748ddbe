"""The operator console: ``create_app(cfg, registry) -> gr.Blocks`` and ``launch(...)``.

This module only lays out components and wires events to the Gradio-free tab modules
(``ui.search_tab``, ``ui.detail``, ``ui.marks``, ``ui.route_tab``, ``ui.export_tab``, ``ui.admin_tab``);
each wrapper first binds the signed-in user (from Gradio's login, see :mod:`ui.access`) to the
session, then turns a handler's view into component updates, and any error into a readable message
(a toast plus the panel's status box), never a traceback. The UI's events are private (not a public
API); the one public endpoint is ``/search`` (:func:`ui.search_tab.api_search`), behind the same
login, role check and audit as the Search button.

To serve the Blocks yourself, keep the console so Gradio gets its styling and may serve the image
cache::

    console = build_console(cfg, registry, archive=...)
    create_app(cfg, registry, console=console).launch(**launch_options(console))
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from core.auth import Permission, Role
from core.compass import COMPASS_8
from core.config import Config
from core.registry import CameraRegistry
from core.state_paths import console_cache_dir
from ui import case_files
from ui.access import check_bind
from ui.admin_tab import add_user, index_status_view, reindex, remove_user, users_view
from ui.console import ANY_DIRECTION, PAGE_SIZE, Console, Session, status_box
from ui.detail import detail_view, select_sighting
from ui.export_tab import export_case, export_preview
from ui.http_guard import HttpGuard, TrustedProxies
from ui.map_view import load_district_geojson
from ui.marks import MarksView, pin_selected, reject_selected, unmark
from ui.policy import authorize, header_html, readable_error, set_case
from ui.route_tab import RouteView, base_map, build_route, reject_stops, search_suggestion
from ui.search_tab import ResultsView, api_search, change_page, clear_photo, more_like_this, run_search, upload_photo

TITLE = "footage-search · operator console"
# Radio order that the CSS grid lays out as a compass rose: NW N NE / W any E / SW S SE.
COMPASS_LAYOUT = ["NW", "N", "NE", "W", ANY_DIRECTION, "E", "SW", "S", "SE"]
assert set(COMPASS_LAYOUT) - {ANY_DIRECTION} == set(COMPASS_8)
SEARCH_API = "search"  # the one endpoint callable by name (ui.http_guard refuses every other name)
MAX_UPLOAD = "25mb"  # a little above search.photo.MAX_PHOTO_BYTES, which then gives the precise message

CSS = """
.fs-header { display:flex; align-items:baseline; gap:16px; flex-wrap:wrap; padding:2px 4px 6px; }
.fs-header h1 { font-size:20px; margin:0; }
.fs-header .fs-sub { color:var(--body-text-color-subdued); font-size:14px; }
.fs-msg { border-radius:6px; padding:8px 12px; font-size:14px; line-height:1.45; border:1px solid; }
.fs-msg-info { background:#F1F5F9; border-color:#CBD5E1; color:#1E293B; }
.fs-msg-ok { background:#ECFDF5; border-color:#6EE7B7; color:#064E3B; }
.fs-msg-warn { background:#FFFBEB; border-color:#F59E0B; color:#78350F; }
.fs-msg-error { background:#FEF2F2; border-color:#EF4444; color:#7F1D1D; font-weight:600; }
.fs-table { border-collapse:collapse; width:100%; font-size:13px; }
.fs-table th, .fs-table td { border:1px solid var(--border-color-primary); padding:3px 6px; text-align:left;
  vertical-align:top; }
.fs-table th { background:var(--background-fill-secondary); white-space:nowrap; }
.fs-detail td { word-break:break-all; }
.fs-note { color:var(--body-text-color-subdued); font-size:13px; margin:4px 0; }
.fs-stop-thumb { height:64px; display:block; }
.fs-suggestions li { margin:3px 0; font-size:14px; }
.fs-status p { margin:4px 0; } .fs-missing td { color:#B91C1C; }
#fs-direction .wrap { display:grid !important; grid-template-columns:repeat(3, minmax(0, 1fr)); gap:4px;
  max-width:240px; }
#fs-direction .wrap label { justify-content:center; margin:0 !important; min-width:0; }
#fs-results .caption-label { white-space:pre-line; overflow:visible; text-overflow:clip; line-height:1.25;
  font-size:12px; max-width:100%; }
#fs-pinned .caption-label { white-space:normal; font-size:12px; }
.fs-h { margin:8px 0 4px; font-size:15px; }
#fs-page-label { text-align:center; align-self:center; }
#fs-page-label p { margin:0; }
#fs-map svg, #fs-timeline svg { display:block; margin:0 auto; }
.fs-open { display:inline-block; background:#FFFBEB; border:1px solid #F59E0B; color:#78350F; border-radius:6px;
  padding:3px 8px; font-size:13px; }
.fs-user { font-size:14px; }
#fs-case-bar { border:1px solid var(--border-color-primary); border-radius:8px; padding:4px 8px; }
"""
AUTH_MESSAGE = ("footage-search operator console. Sign in with your own account: every search, photo, route "
                "and export is logged with your name and case. Repeated failed sign-ins lock the account for a "
                "few minutes.")


def _theme() -> gr.themes.Base:
    # System fonts only: a control room may have no internet, and the page must stay light.
    return gr.themes.Default(font=["system-ui", "Segoe UI", "Roboto", "Noto Sans KR", "sans-serif"],
                             font_mono=["ui-monospace", "Consolas", "monospace"])


def build_console(cfg: Config, registry: CameraRegistry, *, archive: str | Path | None = None,
                  cache_dir: str | Path | None = None, districts_geojson: str | Path | None = None,
                  engine_factory: Callable[..., Any] | None = None, page_size: int = PAGE_SIZE,
                  port: int | None = None) -> Console:
    """``cache_dir``: this console's own folder (default: per index and ``port``, see ``console_cache_dir``)."""
    shapes = load_district_geojson(districts_geojson) if districts_geojson else None
    return Console(cfg=cfg, registry=registry, cache_dir=Path(cache_dir) if cache_dir else console_cache_dir(cfg, port),
                   archive=Path(archive) if archive else None, shapes=shapes, engine_factory=engine_factory,
                   page_size=page_size)


def _client(request: gr.Request | None) -> str:
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "")


def _error(exc: BaseException) -> str:
    msg = readable_error(exc)
    # Gradio renders toast text as HTML, and messages quote operator input (file names, typed times).
    # The panel's status box keeps the message; the toast only draws the eye.
    gr.Warning(escape(msg), duration=8)
    return status_box(escape(msg), "error")


def create_app(cfg: Config, registry: CameraRegistry, *, console: Console | None = None, api_concurrency: int = 4,
               **console_options: Any) -> gr.Blocks:
    """The console as Gradio Blocks. ``console_options`` go to :func:`build_console` (archive, cache_dir...);
    ``api_concurrency``: how many ``/search`` API calls run at once (more wait in Gradio's queue)."""
    console = console or build_console(cfg, registry, **console_options)
    cams = sorted(registry, key=lambda c: (c.district, c.camera_id))
    camera_choices = [(f"{c.camera_id} · {c.name} ({c.district})", c.camera_id) for c in cams]

    # delete_cache: Gradio's copies of pictures and uploads go after a day (a console runs for weeks)
    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True, delete_cache=(3600, 86400)) as app:
        session = gr.State(Session())
        with gr.Row(equal_height=False):
            gr.HTML(f'<div class="fs-header"><h1>{escape(TITLE)}</h1><span class="fs-sub">{len(registry)} cameras '
                    f"in {len(registry.districts)} districts · times in {escape(cfg.index.timezone)}</span></div>")
            who_html = gr.HTML("", elem_id="fs-who")
        # Asked once, above every tab: each search, upload, route and export is logged with them.
        with gr.Row(elem_id="fs-case-bar"):
            case_number = gr.Textbox(label="Case number (required)", placeholder="e.g. 2026-SEO-0142", max_lines=1,
                                     elem_id="fs-case-number", scale=1, min_width=180)
            purpose = gr.Textbox(label="Purpose (required, logged with every search)", max_lines=1, scale=3,
                                 placeholder="e.g. missing child (8), reported 09:10 near Seoul Station",
                                 elem_id="fs-purpose")
        with gr.Tabs(elem_id="fs-tabs") as tabs:
            # ---------------------------------------------------------------------------- search
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
                    with gr.Row(equal_height=False, elem_id="fs-detail", visible=False) as detail_row:
                        with gr.Column(scale=2):
                            detail_frame = gr.Image(label="Selected sighting", interactive=False, height=320,
                                                    elem_id="fs-detail-frame", buttons=["fullscreen"], visible=False)
                            detail_strip = gr.Image(label="Across the sighting", interactive=False, height=170,
                                                    elem_id="fs-detail-strip", buttons=["fullscreen"], visible=False)
                        with gr.Column(scale=1, min_width=260):
                            detail_info = gr.HTML(status_box("Click a sighting to see it larger."),
                                                  elem_id="fs-detail-info")
                            with gr.Row():
                                pin_btn = gr.Button("Pin (confirmed)", variant="primary", size="sm",
                                                    elem_id="fs-pin")
                                reject_btn = gr.Button("Reject", variant="stop", size="sm", elem_id="fs-reject")
                            like_btn = gr.Button("More like this", size="sm", elem_id="fs-like")
                            marks_summary = gr.Markdown("Pinned: 0 · Rejected: 0", elem_id="fs-marks-summary")
                            # the sighting the detail panel shows: what Pin / Reject / More like this act on
                            shown_id = gr.Textbox(visible=False, elem_id="fs-shown-id")
                            to_route_btn = gr.Button("Build route →", elem_id="fs-to-route")
            # ----------------------------------------------------------------------------- route
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
            # ---------------------------------------------------------------------------- export
            with gr.Tab("Case export", id="export", elem_id="fs-tab-export") as export_tab:
                operator = gr.Textbox(label="Operator name on the report (default: your account)",
                                      elem_id="fs-operator")
                notes = gr.Textbox(label="Notes for the report", lines=3, elem_id="fs-notes")
                export_btn = gr.Button("Export report (HTML, JSON, CSV)", variant="primary", elem_id="fs-export")
                export_status = gr.HTML(status_box("The report holds the case number and purpose, the query, "
                                                   "filters, confirmed route with thumbnails and source-file "
                                                   "offsets, and the map. Everyone but the confirmed person is "
                                                   "blurred in its pictures."),
                                        elem_id="fs-export-status")
                # links to ui.case_files's route (permission-checked, audited), never Gradio's file route
                export_files = gr.HTML("", label="Report files",
                                       elem_id="fs-export-files")
            # ----------------------------------------------------------------------------- index
            with gr.Tab("Index", id="index", elem_id="fs-tab-index"):
                index_html = gr.HTML("", elem_id="fs-index-status")
                refresh_btn = gr.Button("Refresh", size="sm", elem_id="fs-index-refresh")
                archive_note = (f"Reindex archive <code>{escape(str(console.archive))}</code>: new and changed "
                                "videos are indexed, unchanged ones skipped." if console.archive else
                                "No archive configured: start the console with <code>--archive FOLDER</code> to "
                                "reindex from here.")
                gr.HTML(status_box(archive_note), elem_id="fs-archive-note")
                # shown to admins only (app.load); ui.admin_tab.reindex checks the role again on the server
                reindex_btn = gr.Button("Start reindex", variant="primary", interactive=console.archive is not None,
                                        elem_id="fs-reindex", visible=False)
                reindex_status = gr.HTML("", elem_id="fs-reindex-status")
                with gr.Accordion("Users (admin)", open=False, visible=False, elem_id="fs-users") as users_box:
                    users_html = gr.HTML("", elem_id="fs-users-list")
                    with gr.Row():
                        new_name = gr.Textbox(label="User name", max_lines=1, elem_id="fs-new-user")
                        new_role = gr.Radio([r.value for r in Role], value=Role.OPERATOR.value, label="Role",
                                            elem_id="fs-new-role")
                        new_password = gr.Textbox(label="Password (10+ characters)", type="password", max_lines=1,
                                                  elem_id="fs-new-password")
                    with gr.Row():
                        add_user_btn = gr.Button("Add user", size="sm", elem_id="fs-add-user")
                        remove_user_btn = gr.Button("Remove user", size="sm", variant="stop",
                                                    elem_id="fs-remove-user")
                    users_status = gr.HTML("", elem_id="fs-users-status")

        # ------------------------------------------------------------------------------------ events
        def bind(sess: Session, request: gr.Request | None) -> Session:
            """Who acts, from the login behind this request, looked up again on every event."""
            assert console.access is not None
            sess.user = console.access.identify(getattr(request, "username", None), _client(request))
            return sess

        def bind_case(sess: Session, request: gr.Request | None, case_v: str, purpose_v: str) -> Session:
            bind(sess, request)
            set_case(console, sess, case_v, purpose_v)
            return sess

        results_out = [session, gallery, page_label, prev_btn, next_btn, search_status, detail_frame, detail_strip,
                       detail_info, pager, detail_row, shown_id]

        def results_updates(sess: Session, view: ResultsView) -> tuple:
            sess.selected = None
            return (sess, gr.update(value=view.gallery, visible=bool(view.gallery)), view.page_label,
                    gr.update(interactive=view.has_prev), gr.update(interactive=view.has_next), view.status_html,
                    gr.update(value=None, visible=False), gr.update(value=None, visible=False),
                    status_box("Click a sighting to see it larger." if view.gallery else "No sighting selected."),
                    gr.update(visible=bool(view.gallery)), gr.update(visible=bool(view.gallery)), "")

        def results_error(sess: Session, exc: BaseException) -> tuple:
            return (sess, gr.skip(), gr.skip(), gr.skip(), gr.skip(), _error(exc), gr.skip(), gr.skip(), gr.skip(),
                    gr.skip(), gr.skip(), gr.skip())

        def on_search(sess, case_v, purpose_v, text_v, dir_v, from_v, to_v, dists_v, cams_v, request: gr.Request):
            try:
                bind_case(sess, request, case_v, purpose_v)
                return results_updates(sess, run_search(console, sess, text_v, dir_v, from_v, to_v, dists_v,
                                                          cams_v))
            except Exception as exc:
                return results_error(sess, exc)

        search_inputs = [session, case_number, purpose, text, direction, time_from, time_to, districts, cameras]
        opts = {"api_visibility": "private"}
        search_btn.click(on_search, search_inputs, results_out, **opts)
        text.submit(on_search, search_inputs, results_out, **opts)

        def on_page(step: int):
            def run(sess, case_v, purpose_v, request: gr.Request):
                try:
                    bind_case(sess, request, case_v, purpose_v)
                    return results_updates(sess, change_page(console, sess, step))
                except Exception as exc:
                    return results_error(sess, exc)
            return run

        prev_btn.click(on_page(-1), [session, case_number, purpose], results_out, **opts)
        next_btn.click(on_page(+1), [session, case_number, purpose], results_out, **opts)

        def on_like(sess, case_v, purpose_v, shown, request: gr.Request):
            try:
                bind_case(sess, request, case_v, purpose_v)
                return results_updates(sess, more_like_this(console, sess, shown))
            except Exception as exc:
                return results_error(sess, exc)

        like_btn.click(on_like, [session, case_number, purpose, shown_id], results_out, **opts)

        def on_select(sess, evt: gr.SelectData, request: gr.Request):
            try:
                bind(sess, request)
                view = select_sighting(console, sess, evt.index if isinstance(evt.index, int) else None)
                return (sess, gr.update(value=view.frame, visible=view.frame is not None),
                        gr.update(value=view.strip, visible=view.strip is not None), view.info_html, view.sighting_id)
            except Exception as exc:
                return sess, gr.skip(), gr.skip(), _error(exc), gr.skip()

        gallery.select(on_select, [session], [session, detail_frame, detail_strip, detail_info, shown_id], **opts)

        def on_clear():
            return "", ANY_DIRECTION, "", "", [], []

        clear_btn.click(on_clear, None, [text, direction, time_from, time_to, districts, cameras], **opts)

        def on_district_change(dists_v, cams_v):
            # narrow the camera list to the chosen districts (keeping cameras already chosen there)
            chosen = set(dists_v or [])
            keep = [c for c in cams if not chosen or c.district in chosen]
            ids = {c.camera_id for c in keep}
            return gr.update(choices=[(f"{c.camera_id} · {c.name} ({c.district})", c.camera_id) for c in keep],
                             value=[v for v in (cams_v or []) if v in ids])

        districts.change(on_district_change, [districts, cameras], [cameras], **opts)

        # photo
        def on_photo(sess, case_v, purpose_v, path, request: gr.Request):
            try:
                bind_case(sess, request, case_v, purpose_v)
                view = upload_photo(console, sess, path)
                return (sess, gr.update(value=view.preview, visible=view.preview is not None), view.status_html,
                        gr.skip())
            except Exception as exc:
                # drop the rejected file, so what the form shows is what a search would use
                sess.photo, sess.photo_name, sess.photo_preview = None, "", None
                return sess, gr.update(value=None, visible=False), _error(exc), None

        photo_file.upload(on_photo, [session, case_number, purpose, photo_file],
                          [session, photo_preview, photo_status, photo_file], **opts)

        def on_photo_clear(sess):
            view = clear_photo(console, sess)
            return sess, gr.update(value=None, visible=False), view.status_html

        photo_file.clear(on_photo_clear, [session], [session, photo_preview, photo_status], **opts)

        # marks
        marks_out = [session, marks_summary, pinned_gallery, pinned_pick, rejected_pick, detail_info, gallery]

        def marks_updates(sess: Session, view: MarksView) -> tuple:
            detail = gr.skip()
            if sess.selected and sess.selected in sess.known:
                detail = detail_view(console, sess, sess.known[sess.selected]).info_html
            return (sess, view.summary, view.pinned_gallery, gr.update(choices=view.pinned_choices, value=[]),
                    gr.update(choices=view.rejected_choices, value=[]), detail, view.results_gallery)

        def on_mark(fn):
            def run(sess, shown, request: gr.Request):
                try:
                    bind(sess, request)
                    return marks_updates(sess, fn(console, sess, shown))
                except Exception as exc:
                    return (sess, gr.skip(), gr.skip(), gr.skip(), gr.skip(), _error(exc), gr.skip())
            return run

        pin_btn.click(on_mark(pin_selected), [session, shown_id], marks_out, **opts)
        reject_btn.click(on_mark(reject_selected), [session, shown_id], marks_out, **opts)

        def on_unmark(sess, ids, request: gr.Request):
            try:
                bind(sess, request)
                return marks_updates(sess, unmark(console, sess, ids))
            except Exception as exc:
                gr.Warning(escape(readable_error(exc)), duration=8)
                return (sess, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())

        unpin_btn.click(on_unmark, [session, pinned_pick], marks_out, **opts)
        unreject_btn.click(on_unmark, [session, rejected_pick], marks_out, **opts)

        # route
        route_out = [session, route_status, map_html, timeline_html, stops_html, suggestions_html, suggestion_pick,
                     stop_pick, stop_reject_row, suggestion_row]

        def route_updates(sess: Session, view: RouteView) -> tuple:
            return (sess, view.status_html, view.map_html, view.timeline_html, view.stops_html,
                    view.suggestions_html,
                    gr.update(choices=view.suggestion_choices,
                              value=view.suggestion_choices[0][1] if view.suggestion_choices else None),
                    gr.update(choices=view.stop_choices, value=[]), gr.update(visible=bool(view.stop_choices)),
                    gr.update(visible=bool(view.suggestion_choices)))

        def on_route(sess, case_v, purpose_v, request: gr.Request, progress=gr.Progress()):  # noqa: B008
            progress(None, desc="building the route…")
            try:
                bind_case(sess, request, case_v, purpose_v)
                return route_updates(sess, build_route(console, sess))
            except Exception as exc:
                return (sess, _error(exc), *(gr.skip() for _ in route_out[2:]))

        def on_reject_stops(sess, case_v, purpose_v, ids, request: gr.Request):
            try:
                bind_case(sess, request, case_v, purpose_v)
                marks, route = reject_stops(console, sess, ids)
            except Exception as exc:
                return (sess, _error(exc), *(gr.skip() for _ in route_out[2:]), *(gr.skip() for _ in marks_out[1:]))
            return (*route_updates(sess, route), *marks_updates(sess, marks)[1:])

        stop_reject_btn.click(on_reject_stops, [session, case_number, purpose, stop_pick], [*route_out, *marks_out[1:]],
                              **opts)

        build_btn.click(on_route, [session, case_number, purpose], route_out, **opts)
        to_route_btn.click(lambda: gr.Tabs(selected="route"), None, [tabs], **opts).then(
            on_route, [session, case_number, purpose], route_out, **opts)

        def on_suggestion(sess, case_v, purpose_v, choice, request: gr.Request):
            try:
                bind_case(sess, request, case_v, purpose_v)
                view, req = search_suggestion(console, sess, choice)
            except Exception as exc:
                return (*results_error(sess, exc), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())
            return (*results_updates(sess, view), gr.Tabs(selected="search"), req["cameras"], req["time_from"],
                    req["time_to"], [])

        suggestion_btn.click(on_suggestion, [session, case_number, purpose, suggestion_pick],
                             [*results_out, tabs, cameras, time_from, time_to, districts], **opts)

        # export
        def on_export(sess, case_v, purpose_v, operator_v, notes_v, request: gr.Request):
            try:
                bind_case(sess, request, case_v, purpose_v)
                files, msg = export_case(console, sess, operator_v, notes_v)
            except Exception as exc:
                return _error(exc), gr.skip()
            return msg, console.case_files.links_html(files.paths())

        export_btn.click(on_export, [session, case_number, purpose, operator, notes], [export_status, export_files],
                         **opts)
        export_tab.select(lambda sess: export_preview(console, sess), [session], [export_status], **opts)

        # index
        def on_status(sess, request: gr.Request):
            try:
                return index_status_view(console, bind(sess, request))
            except Exception as exc:
                return _error(exc)

        refresh_btn.click(on_status, [session], [index_html], **opts)

        def on_load(sess, request: gr.Request):
            """Per tab: who is signed in, and the admin-only controls for admins."""
            try:
                bind(sess, request)
            except Exception as exc:
                return (sess, status_box(escape(readable_error(exc)), "error"), gr.skip(), gr.skip(), gr.skip(),
                        gr.skip(), gr.skip())
            assert sess.user is not None
            admin = sess.user.can(Permission.REINDEX)
            try:
                index = index_status_view(console, sess)
            except Exception as exc:
                index = _error(exc)
            users = users_view(console, sess) if sess.user.can(Permission.MANAGE_USERS) else ""
            return (sess, header_html(console, sess), gr.update(visible=admin),
                    gr.update(visible=sess.user.can(Permission.MANAGE_USERS)), users, index,
                    gr.update(value=sess.user.name if sess.user.authenticated else ""))

        app.load(on_load, [session], [session, who_html, reindex_btn, users_box, users_html, index_html, operator],
                 **opts)

        def on_reindex(sess, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - how Gradio injects it
            try:
                bind(sess, request)
                # the role is checked before the progress bar appears: an operator sees a refusal, not a start
                authorize(console, sess, Permission.REINDEX, "start a reindex")
            except Exception as exc:
                return _error(exc), gr.skip()
            progress(0.0, desc="looking for new and changed videos…")

            def report(done: int, total: int, footage_s: float) -> None:
                progress((done, total), desc=f"indexed {done}/{total} files ({footage_s / 60:.1f} min of footage)",
                         unit="files")
            try:
                msg = reindex(console, sess, report)
            except Exception as exc:
                return _error(exc), gr.skip()
            return msg, index_status_view(console, sess)

        # No queue limit here: a second click while one runs must be told so (the Reindexer's lock),
        # not wait silently and then index again.
        reindex_btn.click(on_reindex, [session], [reindex_status, index_html], concurrency_limit=None,
                          show_progress_on=[reindex_status], **opts)

        # users (admin)
        def on_users(action: str):
            def run(sess, name, role, password, request: gr.Request):
                try:
                    bind(sess, request)
                    if action == "add":
                        msg = add_user(console, sess, name, role, password)
                    else:
                        msg = remove_user(console, sess, name)
                    return msg, users_view(console, sess), ""
                except Exception as exc:
                    return _error(exc), gr.skip(), ""
            return run

        users_in = [session, new_name, new_role, new_password]
        add_user_btn.click(on_users("add"), users_in, [users_status, users_html, new_password], **opts)
        remove_user_btn.click(on_users("remove"), users_in, [users_status, users_html, new_password], **opts)

        # The JSON search endpoint (POST /gradio_api/call/search, or gradio_client's predict(api_name="/search")):
        # stateless, one page of results per call, same login, role check, case fields and audit as the button.
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
    app.queue(default_concurrency_limit=4)
    return app


@dataclass
class RunningConsole:
    app: gr.Blocks
    url: str
    console: Console

    def close(self) -> None:
        self.app.close()


def launch_options(console: Console) -> dict[str, Any]:
    """What ``gr.Blocks.launch`` needs besides host/port: the login (unless the console is open), the
    image cache to serve, no telemetry, no SSR. Call :func:`ui.access.check_bind` before serving."""
    assert console.access is not None
    # first: the client address, a live session and the one API by name hold for every route below it
    guard = Middleware(HttpGuard, access=console.access, api_names=[SEARCH_API],
                       proxies=TrustedProxies.parse(console.cfg.ui.trusted_proxies))
    # allowed_paths: the picture folders only; case files go through ui.case_files's route alone, and
    # num_workers 0 keeps every file request in this app (Gradio's static workers check no login)
    return {"allowed_paths": [str(p) for p in console.thumbs.folders()], "num_workers": 0, "css": CSS,
            "theme": _theme(), "footer_links": [], "ssr_mode": False, "show_error": False,
            "max_file_size": MAX_UPLOAD, "share": False, "inbrowser": False,
            "auth": None if console.access.open_mode else console.access.gradio_auth,
            "auth_message": AUTH_MESSAGE, "app_kwargs": {"middleware": [guard,
                                                           Middleware(case_files.CaseFileGuard, console=console)],
                                            "routes": case_files.routes(console)}}


def launch(cfg: Config, registry: CameraRegistry, *, host: str | None = None, port: int | None = None,
           block: bool = True, quiet: bool = False, **console_options: Any) -> RunningConsole:
    """Start the console on ``host:port`` (default ``cfg.ui``: 127.0.0.1:7860).

    ``block=False`` returns at once with the server running in a background thread (tests, ``demo``).
    Raises :class:`~core.config.ConfigError` for a non-loopback host while no users exist.
    """
    console = build_console(cfg, registry, port=port, **console_options)
    check_bind(host or cfg.ui.host, console.access)  # type: ignore[arg-type]
    # Gradio's upload/cache folder is per process (read from the environment when its components and app
    # are made, and when an upload is checked): this console's, inside its own 0700 folder, never the
    # host-wide /tmp/gradio another console could serve. One console per process (footage-search ui).
    os.environ["GRADIO_TEMP_DIR"] = str(case_files.gradio_folder(console))
    app = create_app(cfg, registry, console=console)
    _, url, _ = app.launch(server_name=host or cfg.ui.host, server_port=port or cfg.ui.port,
                           prevent_thread_lock=not block, quiet=quiet, **launch_options(console))
    return RunningConsole(app=app, url=url or f"http://{host or cfg.ui.host}:{port or cfg.ui.port}/", console=console)
