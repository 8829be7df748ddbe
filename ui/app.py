"""The operator console: ``create_app(cfg, registry) -> gr.Blocks`` and ``launch(...)``.

:func:`create_app` puts the page together: the header and the case fields above the tabs, then each
tab from its own module (``ui.app_search``, ``ui.app_route``, ``ui.app_export``, ``ui.app_index``:
components first, then their events, in that order), then the ``/search`` API. Those modules only
lay out components and wire events to the Gradio-free handlers (``ui.search_tab``, ``ui.detail``,
``ui.marks``, ``ui.route_tab``, ``ui.export_tab``, ``ui.admin_tab``); each event first binds the
signed-in user (from Gradio's login, see :mod:`ui.access`) to the session, then turns a handler's
view into component updates, and any error into a readable message (a toast plus the panel's status
box), never a traceback. The UI's events are private (not a public API); the one public endpoint is
``/search`` (:func:`ui.search_tab.api_search`), behind the same login, role check and audit as the
Search button. :func:`launch_options` adds the HTTP guard and the case-files route.

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

from core.auth import Permission
from core.config import Config
from core.registry import CameraRegistry
from core.state_paths import console_cache_dir
from ui import case_files, clip_store, tile_map
from ui.access import check_bind
from ui.admin_tab import index_status_view, models_view, retry_models, users_view
from ui.app_case import build_case_tab, wire_analyse_now, wire_case_tab
from ui.app_clip import wire_clip_players
from ui.app_common import EVENT_OPTIONS, AppContext
from ui.app_export import ExportTab, build_export_tab, wire_export_tab
from ui.app_index import IndexTab, build_index_tab, wire_index_admin, wire_index_status
from ui.app_route import build_route_tab, wire_marks, wire_route_tab
from ui.app_search import SEARCH_API, build_search_tab, register_search_api, wire_search_tab
from ui.case_tab import CaseDesk
from ui.console import PAGE_SIZE, Console, Session, status_box
from ui.http_guard import HttpGuard, TrustedProxies
from ui.map_districts import load_district_geojson
from ui.policy import header_html, readable_error

TITLE = "footage-search · operator console"
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
.fs-models { display:inline-block; border-radius:6px; padding:3px 8px; font-size:13px; border:1px solid; }
.fs-models-loading { background:#F1F5F9; border-color:#CBD5E1; color:#1E293B; }
.fs-models-warn { background:#FFFBEB; border-color:#F59E0B; color:#78350F; }
.fs-bar { height:8px; background:#E2E8F0; border-radius:4px; margin-top:6px; overflow:hidden; }
.fs-bar span { display:block; height:100%; background:#2563EB; }
.fs-bar-busy span { width:30%; animation:fs-busy 1.4s ease-in-out infinite; }
@keyframes fs-busy { from { margin-left:-30%; } to { margin-left:100%; } }
.fs-behind { color:var(--body-text-color-subdued); }
.fs-model-list li { margin:3px 0; font-size:13px; } .fs-model-list .fs-bad { color:#92400E; }
#fs-case-bar { border:1px solid var(--border-color-primary); border-radius:8px; padding:4px 8px; }
"""
# A pop-up belongs to the action that raised it: the next click or Enter dismisses every pop-up on screen
# (a stale "Enter the case number first" must not sit over the results of the search that followed).
JS = """() => {
  const dismiss = () => document.querySelectorAll('[data-testid="toast-close"]').forEach((b) => b.click());
  document.addEventListener('click', (e) => {
    if (e.target.closest('button') && !e.target.closest('.toast-wrap')) dismiss();
  }, true);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && e.target.closest('input, textarea')) dismiss();
  }, true);
}"""
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
    tile_map.tile_source(cfg.ui)  # a bad street-map setting stops the console here, in one line
    shapes = load_district_geojson(districts_geojson) if districts_geojson else None
    return Console(cfg=cfg, registry=registry, cache_dir=Path(cache_dir) if cache_dir else console_cache_dir(cfg, port),
                   archive=Path(archive) if archive else None, shapes=shapes, engine_factory=engine_factory,
                   page_size=page_size)


def create_app(cfg: Config, registry: CameraRegistry, *, console: Console | None = None, api_concurrency: int = 4,
               **console_options: Any) -> gr.Blocks:
    """The console as Gradio Blocks. ``console_options`` go to :func:`build_console` (archive, cache_dir...);
    ``api_concurrency``: how many ``/search`` API calls run at once (more wait in Gradio's queue)."""
    console = console or build_console(cfg, registry, **console_options)
    cams = sorted(registry, key=lambda c: (c.district, c.camera_id))

    # delete_cache: Gradio's copies of pictures and uploads go after a day (a console runs for weeks)
    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True, delete_cache=(3600, 86400)) as app:
        session = gr.State(Session())
        with gr.Row(equal_height=False):
            gr.HTML(f'<div class="fs-header"><h1>{escape(TITLE)}</h1><span class="fs-sub">{len(registry)} cameras '
                    f"in {len(registry.districts)} districts · times in {escape(cfg.index.timezone)}</span></div>")
            who_html = gr.HTML("", elem_id="fs-who")
        # which models are loading or unavailable: said once here, never under every result
        models_notice = gr.HTML(console.models.header_html(), elem_id="fs-models")
        models_timer = gr.Timer(2.0, active=False)
        # Asked once, above every tab: each search, upload, route and export is logged with them.
        with gr.Row(elem_id="fs-case-bar"):
            case_number = gr.Textbox(label="Case number (required)", placeholder="e.g. 2026-SEO-0142", max_lines=1,
                                     elem_id="fs-case-number", scale=1, min_width=180)
            purpose = gr.Textbox(label="Purpose (required, logged with every search)", max_lines=1, scale=3,
                                 placeholder="e.g. missing child (8), reported 09:10 near Seoul Station",
                                 elem_id="fs-purpose")
        with gr.Tabs(elem_id="fs-tabs") as tabs:
            search = build_search_tab(session, registry, cams)
            route = build_route_tab(session, console)
            case = build_case_tab(console, cams)
            export = build_export_tab()
            index = build_index_tab(console)

        # Events, in the order Gradio numbers them (the page refers to each by its number).
        ctx = AppContext(console, session, case_number, purpose, tabs)
        wire_search_tab(ctx, search, cams)
        marks = wire_marks(ctx, search, route)
        wire_route_tab(ctx, route, search, marks, cams)
        wire_export_tab(ctx, export)
        wire_index_status(ctx, index)
        _wire_page_load(ctx, app, who_html, index, export)
        wire_index_admin(ctx, index)
        _wire_models_notice(ctx, app, models_notice, models_timer, index)
        register_search_api(ctx, api_concurrency)
        # case mode: one case at a time on this console (ui.case_tab.CaseDesk); wired last, so the events
        # above keep their numbers
        desk = CaseDesk(console)
        wire_case_tab(ctx, app, case, desk)
        wire_analyse_now(ctx, route, desk)
        wire_clip_players(ctx, search, route.stop_clip, route.stops_html)  # after the rest: same reason
    app.queue(default_concurrency_limit=4)
    return app


def _wire_page_load(ctx: AppContext, app: gr.Blocks, who_html: gr.HTML, index_tab: IndexTab,
                    export_tab: ExportTab) -> None:
    """On every page load: the header (who is signed in), the index status, the admin-only controls for
    admins, and the report's operator name."""
    console = ctx.console

    def on_load(sess, request: gr.Request):
        """Per tab: who is signed in, and the admin-only controls for admins."""
        try:
            ctx.bind(sess, request)
        except Exception as exc:
            return (sess, status_box(escape(readable_error(exc)), "error"), gr.skip(), gr.skip(), gr.skip(),
                    gr.skip(), gr.skip())
        assert sess.user is not None
        admin = sess.user.can(Permission.REINDEX)
        try:
            index = index_status_view(console, sess)
        except Exception as exc:
            index = ctx.error(exc)
        users = users_view(console, sess) if sess.user.can(Permission.MANAGE_USERS) else ""
        return (sess, header_html(console, sess), gr.update(visible=admin),
                gr.update(visible=sess.user.can(Permission.MANAGE_USERS)), users, index,
                gr.update(value=sess.user.name if sess.user.authenticated else ""))

    app.load(on_load, [ctx.session], [ctx.session, who_html, index_tab.reindex_btn, index_tab.users_box,
                                      index_tab.users_html, index_tab.index_html, export_tab.operator],
             **EVENT_OPTIONS)


def _wire_models_notice(ctx: AppContext, app: gr.Blocks, notice: gr.HTML, timer: gr.Timer,
                        index_tab: IndexTab) -> None:
    """The models' notice in the header and the Index tab: polled only while the models load."""
    console = ctx.console

    def on_tick(sess, request: gr.Request):
        try:
            ctx.bind(sess, request)
        except Exception:
            return gr.skip(), gr.skip(), gr.Timer(active=False), gr.skip()
        assert sess.user is not None
        return (console.models.header_html(), models_view(console, sess),
                gr.Timer(active=console.models.loading), gr.update(visible=sess.user.can(Permission.REINDEX)))

    outputs = [notice, index_tab.models_html, timer, index_tab.retry_models_btn]
    app.load(on_tick, [ctx.session], outputs, **EVENT_OPTIONS)
    timer.tick(on_tick, [ctx.session], outputs, show_progress="hidden", **EVENT_OPTIONS)

    def on_retry(sess, request: gr.Request):
        try:
            msg = retry_models(console, ctx.bind(sess, request))
        except Exception as exc:
            return ctx.error(exc), gr.skip(), gr.skip(), gr.skip()
        # a new load has started: poll again until it ends
        return msg, console.models.header_html(), models_view(console, sess), gr.Timer(active=True)

    index_tab.retry_models_btn.click(on_retry, [ctx.session],
                                     [index_tab.models_status, notice, index_tab.models_html, timer], **EVENT_OPTIONS)


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
    return {"allowed_paths": [str(p) for p in console.thumbs.folders()], "num_workers": 0, "css": CSS, "js": JS,
            "theme": _theme(), "footer_links": [], "ssr_mode": False, "show_error": False,
            "max_file_size": MAX_UPLOAD, "share": False, "inbrowser": False,
            "auth": None if console.access.open_mode else console.access.gradio_auth,
            "auth_message": AUTH_MESSAGE, "app_kwargs": {"middleware": [guard,
                                                           Middleware(case_files.CaseFileGuard, console=console)],
                                            "routes": [*case_files.routes(console), *tile_map.routes(console.cfg.ui),
                                                       *clip_store.routes(console)]}}


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
    console.models.start()  # while the page loads and the operator types the case
    app = create_app(cfg, registry, console=console)
    _, url, _ = app.launch(server_name=host or cfg.ui.host, server_port=port or cfg.ui.port,
                           prevent_thread_lock=not block, quiet=quiet, **launch_options(console))
    return RunningConsole(app=app, url=url or f"http://{host or cfg.ui.host}:{port or cfg.ui.port}/", console=console)
