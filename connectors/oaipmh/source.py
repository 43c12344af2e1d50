"""Reading an OAI-PMH repository: ListRecords from a datestamp on, page by page, with oaipmh-scythe.

A page is one response: the records it holds and the response's own
``responseDate`` (the repository's clock when it answered), which the
connector needs to choose the next harvest's ``from`` safely.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx2
import structlog
from lxml import etree
from oaipmh_scythe import Scythe
from oaipmh_scythe.config import HTTPConfig, RetryConfig
from oaipmh_scythe.exceptions import NoRecordsMatch, OAIPMHException
from oaipmh_scythe.iterator import OAIResponseIterator
from oaipmh_scythe.models import Header
from oaipmh_scythe.utils import xml_to_dict

from connectors.oaipmh.mapping import HarvestedRecord

log = structlog.get_logger("clearance.connectors.oaipmh")

OAI = "{http://www.openarchives.org/OAI/2.0/}"
# A transient fault inside a long harvest is retried in place (a few seconds) rather than failing the
# pass and starting the list again; a repository that stays down fails the pass, which the runner retries.
# A repository's answer must not make the harvester read local files or the network (XXE).
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
_RETRY = RetryConfig(max_retries=2, retry_status_codes=(502, 503, 504), default_retry_after=5.0,
                     retry_on_transport_error=True, initial_backoff=1.0)  # fmt: skip


class SourceUnavailable(Exception):
    """The repository could not be reached or did not answer with OAI-PMH: the pass failed and is retried."""


class HarvestRefused(Exception):
    """The repository answered the request with an OAI-PMH error other than noRecordsMatch."""


@dataclass(frozen=True, slots=True)
class Page:
    """One ListRecords response."""

    response_date: str | None
    records: tuple[HarvestedRecord, ...]


def without_credentials(url: str) -> str:
    """The URL as it may be logged: any ``user:password@`` removed."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def parse_record(element: etree._Element) -> HarvestedRecord:
    """A ``<record>`` element as the mapping reads it."""
    header_element = element.find(f"{OAI}header")
    if header_element is None:
        return HarvestedRecord(identifier="", datestamp="")
    header = Header(header_element)
    metadata: dict[str, tuple[str, ...]] = {}
    container = element.find(f"{OAI}metadata")
    # The first child element (a comment may come before it) is the format's root: oai_dc:dc, etdms thesis.
    root = next((c for c in container if isinstance(c.tag, str)), None) if container is not None else None
    if not header.deleted and root is not None:
        for name, values in xml_to_dict(root, strip_ns=True).items():
            texts = tuple(v.strip() for v in values if v and v.strip())
            if texts:
                metadata[name] = texts
    return HarvestedRecord((header.identifier or "").strip(), (header.datestamp or "").strip(), header.deleted,
                           metadata)  # fmt: skip


class OaiSource:
    """One repository's ListRecords in one metadata format (and set), harvested from a datestamp on."""

    def __init__(self, url: str, metadata_prefix: str, set_spec: str | None = None, *, timeout: float = 60.0,
                 retry: RetryConfig = _RETRY) -> None:  # fmt: skip
        self.url = without_credentials(url)
        self.metadata_prefix = metadata_prefix
        self.set_spec = set_spec
        self._scythe = Scythe(url, http_config=HTTPConfig(timeout=timeout), retry_config=retry,
                              iterator=OAIResponseIterator)  # fmt: skip

    def pages(self, from_: str | None) -> Iterator[Page]:
        """The responses of ListRecords from ``from_`` (inclusive; None: everything), following resumption tokens.

        noRecordsMatch (nothing new) yields no page. An unreachable
        repository or a response that is not OAI-PMH raises
        :class:`SourceUnavailable`; another OAI-PMH error :class:`HarvestRefused`.
        """
        responses = self._scythe.list_records(from_=from_, metadata_prefix=self.metadata_prefix, set_=self.set_spec)
        while True:
            try:
                response = next(responses)
                root = etree.fromstring(response.http_response.content, parser=_PARSER)
            except StopIteration:
                return
            except NoRecordsMatch:
                log.info("oai_no_new_records", url=self.url, from_=from_)
                return
            except OAIPMHException as exc:
                raise HarvestRefused(f"{type(exc).__name__}: {exc}"[:300]) from exc
            except httpx2.HTTPError as exc:
                raise SourceUnavailable(f"{self.url}: {type(exc).__name__}: {exc}"[:300]) from exc
            except (etree.XMLSyntaxError, AttributeError) as exc:
                # oaipmh-scythe 0.16 fails with AttributeError on a body its lenient parser makes nothing of
                # (an empty error page): like a body that is not XML, the repository is not answering.
                raise SourceUnavailable(f"{self.url} answered with something that is not XML: {exc!r}"[:300]) from exc
            if root.tag != f"{OAI}OAI-PMH":
                raise SourceUnavailable(f"{self.url} answered with {root.tag[:80]!r}, not an OAI-PMH response")
            response_date = root.findtext(f"{OAI}responseDate")
            records = tuple(parse_record(e) for e in root.iterfind(f"{OAI}ListRecords/{OAI}record"))
            yield Page(response_date.strip() if response_date else None, records)

    def close(self) -> None:
        """Close the HTTP client."""
        self._scythe.close()
