"""A real OAI-PMH data provider for the connector's tests: pyoai's ``oaipmh.server`` over HTTP on 127.0.0.1.

The protocol side (verbs, arguments, ``from``/``until``, resumption tokens,
deleted records, error codes) is pyoai's; this module only holds the records
it serves and writes them as ``oai_dc`` or ``etdms`` (ETD-MS 1.0, the element
set DSpace 7 disseminates for theses). A test adds, changes and deletes
records while the server runs, as a repository's editors would.
"""

from __future__ import annotations

import sys
import threading
import time
import types
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from lxml.etree import SubElement


def _modules_pyoai_imports() -> None:
    # pyoai 2.5 imports pkg_resources, which recent setuptools no longer ships (84.2.1 checked), and uses it
    # only for Identify's toolkit description, which this provider turns off. It imports cgi, which Python
    # 3.13 removed, only for cgi.parse_qs (see _parse_qs_for_pyoai). Empty stand-ins let it import.
    for name in ("pkg_resources", "cgi"):
        try:
            __import__(name)
        except ImportError:
            sys.modules[name] = types.ModuleType(name)


_modules_pyoai_imports()

from oaipmh import common, error, metadata, server  # noqa: E402

NS_ETDMS = "http://www.ndltd.org/standards/metadata/etdms/1.0/"
DC_FIELDS = ("title", "creator", "subject", "description", "publisher", "contributor", "date", "type",
             "format", "identifier", "source", "language", "relation", "coverage", "rights")  # fmt: skip


def _etdms_writer(element: Any, record_metadata: common.Metadata) -> None:
    # ETD-MS 1.0: the Dublin Core elements plus <degree> with name, level, discipline, grantor.
    thesis = SubElement(element, f"{{{NS_ETDMS}}}thesis", nsmap={None: NS_ETDMS})
    values = record_metadata.getMap()
    for name in DC_FIELDS:
        for value in values.get(name, []):
            SubElement(thesis, f"{{{NS_ETDMS}}}{name}").text = value
    degree = {k: values.get(f"degree_{k}", []) for k in ("name", "level", "discipline", "grantor")}
    if any(degree.values()):
        e_degree = SubElement(thesis, f"{{{NS_ETDMS}}}degree")
        for name, items in degree.items():
            for value in items:
                SubElement(e_degree, f"{{{NS_ETDMS}}}{name}").text = value


def _registry() -> metadata.MetadataRegistry:
    registry = metadata.MetadataRegistry()
    registry.registerWriter("oai_dc", server.oai_dc_writer)
    registry.registerWriter("etdms", _etdms_writer)
    return registry


def _naive_utc(moment: datetime) -> datetime:
    # pyoai's datestamps are naive datetimes in UTC.
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0) if moment.tzinfo else moment


@dataclass
class _Entry:
    header: common.Header
    metadata: common.Metadata | None


@dataclass
class Repository:
    """The records a test repository holds, served by pyoai through :class:`_Provider`."""

    base_url: str = "http://127.0.0.1/oai/request"
    entries: dict[str, _Entry] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    serving_seconds: float = 0.0  # spent by pyoai making responses (in the test's process, so under its GIL)
    arguments: list[dict[str, str]] = field(default_factory=list)

    def put(self, identifier: str, *, at: datetime, title: str | None = None, sets: tuple[str, ...] = (),
            degree_level: str | None = None, degree_name: str | None = None, **dc: list[str]) -> None:  # fmt: skip
        """Archive (or change) a record: its Dublin Core fields as lists, its datestamp ``at``."""
        values: dict[str, list[str]] = {k: list(v) for k, v in dc.items()}
        if title is not None:
            values["title"] = [title]
        if degree_level is not None:
            values["degree_level"] = [degree_level]
        if degree_name is not None:
            values["degree_name"] = [degree_name]
        header = common.Header(None, identifier, _naive_utc(at), list(sets), False)
        with self.lock:
            self.entries[identifier] = _Entry(header, common.Metadata(None, values))

    def delete(self, identifier: str, *, at: datetime) -> None:
        """Withdraw a record: the repository keeps it as a deleted record (deletedRecord=persistent)."""
        with self.lock:
            sets = self.entries[identifier].header.setSpec() if identifier in self.entries else []
            self.entries[identifier] = _Entry(common.Header(None, identifier, _naive_utc(at), sets, True), None)

    def snapshot(self) -> list[_Entry]:
        with self.lock:
            return sorted(self.entries.values(), key=lambda e: (e.header.datestamp(), e.header.identifier()))


_Listed = tuple[common.Header, common.Metadata | None, None]


class _Provider:
    """pyoai's IOAI interface over a :class:`Repository`."""

    def __init__(self, repository: Repository) -> None:
        self._repository = repository
        self._identify = common.Identify(
            repositoryName="Test thesis repository", baseURL=repository.base_url, protocolVersion="2.0",
            adminEmails=["repository@example.org"], earliestDatestamp=datetime(2000, 1, 1),
            deletedRecord="persistent", granularity="YYYY-MM-DDThh:mm:ssZ", compression=["identity"],
            toolkit_description=False,
        )  # fmt: skip

    def identify(self) -> common.Identify:
        return self._identify

    def listMetadataFormats(self, identifier: str | None = None) -> list[tuple[str, str, str]]:
        return [
            ("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd", "http://www.openarchives.org/OAI/2.0/oai_dc/"),
            ("etdms", "http://www.ndltd.org/standards/metadata/etdms/1.0/etdms.xsd", NS_ETDMS),
        ]

    def listSets(self) -> list[tuple[str, str, None]]:
        specs = sorted({s for e in self._repository.snapshot() for s in e.header.setSpec()})
        if not specs:
            raise error.NoSetHierarchyError("This repository does not support sets.")
        return [(s, s, None) for s in specs]

    def _select(self, metadataPrefix: str, set: str | None, from_: datetime | None,
                until: datetime | None) -> list[_Entry]:  # fmt: skip
        if metadataPrefix not in ("oai_dc", "etdms"):
            raise error.CannotDisseminateFormatError(f"Unknown metadata format: {metadataPrefix}")
        selected = []
        for entry in self._repository.snapshot():
            stamp = entry.header.datestamp()
            if from_ is not None and stamp < from_:
                continue
            if until is not None and stamp > until:
                continue
            if set is not None and set not in entry.header.setSpec():
                continue
            selected.append(entry)
        return selected

    def listRecords(self, metadataPrefix: str, set: str | None = None, from_: datetime | None = None,
                    until: datetime | None = None) -> list[_Listed]:  # fmt: skip
        return [(e.header, e.metadata, None) for e in self._select(metadataPrefix, set, from_, until)]

    def listIdentifiers(self, metadataPrefix: str, set: str | None = None, from_: datetime | None = None,
                        until: datetime | None = None) -> list[common.Header]:  # fmt: skip
        return [e.header for e in self._select(metadataPrefix, set, from_, until)]

    def getRecord(self, metadataPrefix: str, identifier: str) -> tuple[common.Header, common.Metadata | None, None]:
        with self._repository.lock:
            entry = self._repository.entries.get(identifier)
        if entry is None:
            raise error.IdDoesNotExistError(f"Id does not exist: {identifier}")
        return entry.header, entry.metadata, None


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _parse_qs_for_pyoai() -> Iterator[None]:
    # pyoai 2.5 decodes resumption tokens with cgi.parse_qs, which Python 3.8 removed (the cgi module
    # itself still imports on 3.11, with a DeprecationWarning, and is gone in 3.13): without this,
    # every resumption token is answered with an error.
    import cgi

    missing = object()
    before = getattr(cgi, "parse_qs", missing)
    cgi.parse_qs = urllib.parse.parse_qs  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if before is missing:
            del cgi.parse_qs  # type: ignore[attr-defined]
        else:
            cgi.parse_qs = before  # type: ignore[attr-defined]


@contextmanager
def serve(repository: Repository, *, batch_size: int = 10, delay: float = 0.0) -> Iterator[str]:
    """Serve ``repository`` over OAI-PMH on 127.0.0.1 (``batch_size`` records a response, each answered
    after ``delay`` seconds, as a loaded repository would); yield its base URL."""
    with _parse_qs_for_pyoai():
        httpd: WSGIServer = make_server("127.0.0.1", 0, lambda e, s: None, handler_class=_QuietHandler)
        repository.base_url = f"http://127.0.0.1:{httpd.server_port}/oai/request"
        oai = server.Server(_Provider(repository), _registry(), resumption_batch_size=batch_size)

        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            if environ["REQUEST_METHOD"] == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                query = environ["wsgi.input"].read(length).decode("utf-8")
            else:
                query = environ.get("QUERY_STRING", "")
            arguments = {k: v[0] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
            repository.requests += 1
            repository.arguments.append(arguments)
            if delay:
                time.sleep(delay)
            began = time.perf_counter()
            body = oai.handleRequest(arguments)
            repository.serving_seconds += time.perf_counter() - began
            start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
            return [body]

        httpd.set_app(app)
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield repository.base_url
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)


def moments(start: datetime, count: int, step: timedelta = timedelta(seconds=1)) -> list[datetime]:
    """``count`` datestamps one ``step`` apart from ``start``."""
    return [start + i * step for i in range(count)]
