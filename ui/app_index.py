"""The Index tab's page: what the index holds (everyone), and the reindex button and the users list
(admins only: shown to admins by ``ui.app``'s page load, and checked again on the server by
``ui.admin_tab`` whatever the page shows).
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import gradio as gr

from core.auth import Role
from ui.admin_tab import (
    add_user,
    index_status_view,
    models_view,
    reindex_view,
    remove_user,
    start_reindex,
    users_view,
)
from ui.app_common import EVENT_OPTIONS, AppContext
from ui.console import Console, status_box


@dataclass
class IndexTab:
    index_html: gr.HTML
    refresh_btn: gr.Button
    models_html: gr.HTML
    retry_models_btn: gr.Button
    models_status: gr.HTML
    reindex_btn: gr.Button
    reindex_status: gr.HTML
    reindex_timer: gr.Timer
    users_box: gr.Accordion
    users_html: gr.HTML
    new_name: gr.Textbox
    new_role: gr.Radio
    new_password: gr.Textbox
    add_user_btn: gr.Button
    remove_user_btn: gr.Button
    users_status: gr.HTML


def build_index_tab(console: Console) -> IndexTab:
    """The tab's components, in the order the page shows them."""
    with gr.Tab("Index", id="index", elem_id="fs-tab-index"):
        index_html = gr.HTML("", elem_id="fs-index-status")
        refresh_btn = gr.Button("Refresh", size="sm", elem_id="fs-index-refresh")
        models_html = gr.HTML(console.models.index_html(), elem_id="fs-models-panel")
        # shown to admins only (app.load); ui.admin_tab.retry_models checks the role again
        retry_models_btn = gr.Button("Retry loading models", size="sm", elem_id="fs-retry-models", visible=False)
        models_status = gr.HTML("", elem_id="fs-models-status")
        archive_note = (f"Reindex archive <code>{escape(str(console.archive))}</code>: new and changed "
                        "videos are indexed, unchanged ones skipped." if console.archive else
                        "No archive configured: start the console with <code>--archive FOLDER</code> to "
                        "reindex from here.")
        gr.HTML(status_box(archive_note), elem_id="fs-archive-note")
        # shown to admins only (app.load); ui.admin_tab.reindex checks the role again on the server
        reindex_btn = gr.Button("Start reindex", variant="primary", interactive=console.archive is not None,
                                elem_id="fs-reindex", visible=False)
        reindex_status = gr.HTML("", elem_id="fs-reindex-status")
        reindex_timer = gr.Timer(1.0, active=False)
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
    return IndexTab(index_html=index_html, refresh_btn=refresh_btn, models_html=models_html,
                    retry_models_btn=retry_models_btn, models_status=models_status, reindex_btn=reindex_btn,
                    reindex_status=reindex_status, reindex_timer=reindex_timer, users_box=users_box,
                    users_html=users_html, new_name=new_name,
                    new_role=new_role, new_password=new_password, add_user_btn=add_user_btn,
                    remove_user_btn=remove_user_btn, users_status=users_status)


def wire_index_status(ctx: AppContext, t: IndexTab) -> None:
    """Refresh the index status (any signed-in user)."""
    console = ctx.console

    def on_status(sess, request: gr.Request):
        try:
            return index_status_view(console, ctx.bind(sess, request))
        except Exception as exc:
            return ctx.error(exc)

    t.refresh_btn.click(on_status, [ctx.session], [t.index_html], **EVENT_OPTIONS)

    def on_models(sess, request: gr.Request):
        try:
            return models_view(console, ctx.bind(sess, request))
        except Exception as exc:
            return ctx.error(exc)

    t.refresh_btn.click(on_models, [ctx.session], [t.models_html], **EVENT_OPTIONS)


def wire_index_admin(ctx: AppContext, t: IndexTab) -> None:
    """Reindex and users (admins; every handler checks the role again)."""
    console = ctx.console

    def on_reindex(sess, request: gr.Request):
        try:
            ctx.bind(sess, request)
            html = start_reindex(console, sess)
        except Exception as exc:
            return ctx.error(exc), gr.skip()
        return html, gr.Timer(active=True)

    # The run goes on in the background; the tab polls its progress (footage hours, ETA) until it ends,
    # then shows the result with every failed file. A second click is told a run is going on.
    t.reindex_btn.click(on_reindex, [ctx.session], [t.reindex_status, t.reindex_timer], **EVENT_OPTIONS)

    def on_reindex_tick(sess, request: gr.Request):
        try:
            html, running = reindex_view(console, ctx.bind(sess, request))
        except Exception:
            return gr.skip(), gr.Timer(active=False), gr.skip()
        # when it has ended, the index status shows what it added
        return html, gr.Timer(active=running), gr.skip() if running else index_status_view(console, sess)

    t.reindex_timer.tick(on_reindex_tick, [ctx.session], [t.reindex_status, t.reindex_timer, t.index_html],
                         show_progress="hidden", **EVENT_OPTIONS)

    # users (admin)
    def on_users(action: str):
        def run(sess, name, role, password, request: gr.Request):
            try:
                ctx.bind(sess, request)
                if action == "add":
                    msg = add_user(console, sess, name, role, password)
                else:
                    msg = remove_user(console, sess, name)
                return msg, users_view(console, sess), ""
            except Exception as exc:
                return ctx.error(exc), gr.skip(), ""
        return run

    users_in = [ctx.session, t.new_name, t.new_role, t.new_password]
    t.add_user_btn.click(on_users("add"), users_in, [t.users_status, t.users_html, t.new_password], **EVENT_OPTIONS)
    t.remove_user_btn.click(on_users("remove"), users_in, [t.users_status, t.users_html, t.new_password],
                            **EVENT_OPTIONS)
