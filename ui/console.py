"""The console's state: one :class:`Console` per running console, one :class:`Session` per browser tab.

Every tab's handlers (``ui.search_tab``, ``ui.detail``, ``ui.marks``, ``ui.route_tab``,
``ui.export_tab``, ``ui.admin_tab``) are plain functions over these two and the form values; none
of them imports Gradio, so each can be unit-tested. ``ui.policy`` holds the checks every handler
makes first (role, case) and the audit records it writes.

Errors an operator can act on (bad input, missing index, busy indexer...) become :class:`ConsoleError`
with a readable message; anything else is logged with its traceback on the server and reported to
the operator as one line (``ui.policy.readable_error``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from core.audit import AuditLog
from core.auth import Identity
from core.config import Config
from core.errors import FootageSearchError
from core.registry import CameraRegistry
from ui.access import ConsoleAccess
from ui.case_files import CaseFileStore
from ui.clip_store import ClipLibrary
from ui.index_panel import Reindexer
from ui.map_districts import DistrictShape, district_shapes_from_registry
from ui.models_panel import ModelWarmup
from ui.redact import ExportRedactor
from ui.thumbnails import ThumbnailCache

if TYPE_CHECKING:  # search is imported lazily: the console starts (and shows index status) without it
    from search.engine import SearchEngine
    from search.route import Route

PAGE_SIZE = 24
ANY_DIRECTION = "any"


class ConsoleError(FootageSearchError):
    """A problem the operator can understand and usually fix; shown as is, never with a traceback."""


@dataclass
class Console:
    """Everything the handlers share: one per running console (no module-level state)."""

    cfg: Config
    registry: CameraRegistry
    cache_dir: Path
    archive: Path | None = None
    shapes: list[DistrictShape] | None = None
    page_size: int = PAGE_SIZE
    engine_factory: Callable[[Config, CameraRegistry], SearchEngine] | None = None
    audit: AuditLog | None = None  # default: the configured audit log (audit.log_path)
    access: ConsoleAccess | None = None  # default: from the configured users file (auth.users_file)
    _engine: SearchEngine | None = field(default=None, repr=False)
    _engine_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.cache_dir = Path(self.cache_dir)
        self.thumbs = ThumbnailCache(self.cache_dir)  # makes the folder 0700: this console's own
        # exports/<token>/: served only by ui.case_files's route, to the exporting user and admins
        self.case_files = CaseFileStore(self.cache_dir / "exports")
        self.exports_dir = self.case_files.root
        # clips/: cut by ui.clip_player, served only by ui.clip_store's route, to the user each was lent to
        self.clips = ClipLibrary(self.cache_dir / "clips", int(self.cfg.ui.clip_cache_mb * 2**20))
        self.reindexer = Reindexer(self.cfg, self.registry, self.archive)
        if self.shapes is None:
            self.shapes = district_shapes_from_registry(self.registry)
        if self.audit is None:
            self.audit = AuditLog.for_config(self.cfg)
        if self.access is None:
            self.access = ConsoleAccess.for_config(self.cfg, self.audit)
        self.redactor = ExportRedactor(self.cfg)
        # started by ui.app.launch (a console loads its models while the operator types the case)
        self.models = ModelWarmup(self.cfg, self.engine)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.cfg.index.timezone)

    def engine(self) -> SearchEngine:
        """The search engine, opened on first use (the index may not exist when the console starts)."""
        with self._engine_lock:
            if self._engine is None:
                if self.engine_factory is not None:
                    self._engine = self.engine_factory(self.cfg, self.registry)
                else:
                    from search.engine import SearchEngine

                    self._engine = SearchEngine(self.cfg, self.registry)
            return self._engine


@dataclass(frozen=True)
class CaseContext:
    """The case an operator works on; every audited act carries it."""

    number: str
    purpose: str


@dataclass
class Session:
    """One operator's browser tab: the current search, what they pinned or rejected, the route."""

    # who is acting: set from the signed-in user on every event (never from anything the page sends)
    user: Identity | None = None
    case: CaseContext | None = None
    request: dict = field(default_factory=dict)  # the last search (SearchRequest fields) for paging
    query_text: str = ""
    understood: str = ""
    filters: dict[str, str] = field(default_factory=dict)
    like_id: str | None = None
    offset: int = 0
    total: int = 0
    items: list = field(default_factory=list)  # Sightings on the current page, in gallery order
    ranked: list[str] = field(default_factory=list)  # the page's sighting ids as the engine ranked them
    sort_by_time: bool = False  # show each page in time order instead of best match first
    known: dict = field(default_factory=dict)  # every sighting shown in this session, by id
    selected: str | None = None
    pinned: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    photo: bytes | None = None
    photo_name: str = ""
    photo_preview: Path | None = None
    route: Route | None = None
    # the query and filters as they were when the route was built: searches made afterwards (a
    # suggested camera, say) must not be reported as what found the route
    route_query: dict = field(default_factory=dict)
    # every search made for a case, oldest first (ui.search_tab.record_search): the report lists them all
    searches: list[SearchRecord] = field(default_factory=list)
    # the form's filters before "Search there" filled them in, so the operator can put them back
    undo_filters: dict | None = None

    def case_searches(self) -> list[SearchRecord]:
        """The searches of the session's current case (a case number typed later starts a new list)."""
        number = self.case.number if self.case else ""
        return [r for r in self.searches if r.case_number == number]


@dataclass(frozen=True)
class SearchRecord:
    """One search as the case report lists it: what was asked, how it was understood, what it found."""

    case_number: str
    when: str  # local date and time
    kind: str  # describe | photo | like | suggestion
    text: str
    understood: str
    filters: dict[str, str]
    results: int
    photo: str = ""  # the reference photo's file name, if one was used


def status_box(text: str, kind: str = "info") -> str:
    """A message block; ``kind`` is info | ok | warn | error (colours in ui/app.py's CSS)."""
    return f'<div class="fs-msg fs-msg-{kind}" role="{"alert" if kind == "error" else "status"}">{text}</div>'
