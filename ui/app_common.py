"""What every tab's Gradio wiring shares: the console, the session state, the case fields above the
tabs, and the three steps each event takes before and after its handler.

Every event first binds the signed-in user to the session (:meth:`AppContext.bind`, looked up again
on every event, never taken from anything the page sends), and, for an audited act, the case
number and purpose (:meth:`AppContext.bind_case`). Any error becomes a readable message
(:meth:`AppContext.error`: a toast plus the panel's status box), never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

import gradio as gr

from ui.console import Console, Session, status_box
from ui.policy import readable_error, set_case

# Every UI event is private: reachable only through Gradio's queue, the way the page reaches it.
# The one public endpoint is /search (ui.app_search.register_search_api).
EVENT_OPTIONS: dict[str, Any] = {"api_visibility": "private"}


def client_address(request: gr.Request | None) -> str:
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "")


@dataclass
class AppContext:
    """The components and the console every tab's events use."""

    console: Console
    session: gr.State
    case_number: gr.Textbox
    purpose: gr.Textbox
    tabs: gr.Tabs

    @property
    def with_case(self) -> list[Any]:
        """The inputs of an audited act: the session and the case fields."""
        return [self.session, self.case_number, self.purpose]

    def bind(self, sess: Session, request: gr.Request | None) -> Session:
        """Who acts, from the login behind this request, looked up again on every event."""
        assert self.console.access is not None
        sess.user = self.console.access.identify(getattr(request, "username", None), client_address(request))
        return sess

    def bind_case(self, sess: Session, request: gr.Request | None, case_v: str, purpose_v: str) -> Session:
        self.bind(sess, request)
        set_case(self.console, sess, case_v, purpose_v)
        return sess

    @staticmethod
    def error(exc: BaseException) -> str:
        msg = readable_error(exc)
        # Gradio renders toast text as HTML, and messages quote operator input (file names, typed times).
        # The panel's status box keeps the message; the toast only draws the eye.
        gr.Warning(escape(msg), duration=8)
        return status_box(escape(msg), "error")
