"""The Case export tab's page: operator name and notes, the Export button, and the report's links.

The files are linked through ``ui.case_files``'s route (permission-checked, audited), never
Gradio's file route. The report itself is made by ``ui.export_tab``.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ui.app_common import EVENT_OPTIONS, AppContext
from ui.console import status_box
from ui.export_tab import export_case, export_preview


@dataclass
class ExportTab:
    tab: gr.Tab
    operator: gr.Textbox
    notes: gr.Textbox
    export_btn: gr.Button
    export_status: gr.HTML
    export_files: gr.HTML


def build_export_tab() -> ExportTab:
    """The tab's components, in the order the page shows them."""
    with gr.Tab("Case export", id="export", elem_id="fs-tab-export") as tab:
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
    return ExportTab(tab=tab, operator=operator, notes=notes, export_btn=export_btn, export_status=export_status,
                     export_files=export_files)


def wire_export_tab(ctx: AppContext, t: ExportTab) -> None:
    """Export, and a preview of what an export would hold whenever the tab is opened."""
    console = ctx.console

    def on_export(sess, case_v, purpose_v, operator_v, notes_v, request: gr.Request):
        try:
            ctx.bind_case(sess, request, case_v, purpose_v)
            files, msg = export_case(console, sess, operator_v, notes_v)
        except Exception as exc:
            return ctx.error(exc), gr.skip()
        return msg, console.case_files.links_html(files.paths())

    t.export_btn.click(on_export, [*ctx.with_case, t.operator, t.notes], [t.export_status, t.export_files],
                       **EVENT_OPTIONS)
    t.tab.select(lambda sess: export_preview(console, sess), [ctx.session], [t.export_status], **EVENT_OPTIONS)
