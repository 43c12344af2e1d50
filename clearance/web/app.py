"""The verification service: public keys, certificate checks and the page a QR code opens.

``GET /.well-known/jwks.json``, ``POST /verify``, ``GET /c/{number}?t={token}``
and ``GET /healthz``, over the service's database and key directory. Every
answer to bad input is a short 4xx with a reason, never a stack trace. The page
of a certificate needs the certificate's token: a wrong or missing token, and an
unknown number, get the same "not found".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from clearance.documents.wording import LANGUAGES, date_text, say
from clearance.domain.page_token import tokens_match
from clearance.settings import Settings
from clearance.signing.keys import KeyRing
from clearance.store.engine import Database, make_session_factory
from clearance.verification import register
from clearance.verification.offline import MalformedJson, UnreadableCertificate, parse_json, read_presented
from clearance.verification.offline import verify_presented as check_proof

log = structlog.get_logger("clearance.verification")

# A certificate is about 1 KB, its credential form about 2 KB; anything near this is not one.
MAX_BODY_BYTES = 64 * 1024
MAX_NUMBER_LENGTH = 200
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}
_ROWS = ("full_name", "student_id", "faculty", "program", "degree_level", "graduation_period", "number")


class ApiError(Exception):
    """An answer to bad input: a status, a short error code and a reason."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


def _error(status: int, error: str, detail: Any) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


async def _body(request: Request) -> bytes:
    """The request body, refused past MAX_BODY_BYTES whether or not a Content-Length announced it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "too large", f"a certificate is at most {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "too large", f"a certificate is at most {MAX_BODY_BYTES} bytes")
    return bytes(body)


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The verification service over ``settings``' database and key directory."""
    own_engine = engine is None
    database = Database(settings.database_url) if engine is None else None
    engine = database.engine if database is not None else engine
    assert engine is not None
    sessions = make_session_factory(engine)
    ring = KeyRing(settings.key_dir)
    pages = Environment(loader=PackageLoader("clearance.web"), autoescape=select_autoescape(default=True))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if own_engine:
            engine.dispose()

    app = FastAPI(
        title="Library clearance certificate verification",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )

    def lookup(number: str) -> register.Record | None:
        # No number has control characters (PostgreSQL would refuse a NUL rather than find nothing).
        if not number or len(number) > MAX_NUMBER_LENGTH or not number.isprintable():
            return None
        with sessions() as session:
            return register.find(session, number)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.error, exc.detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail).lower(), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"loc": e.get("loc"), "msg": e.get("msg")} for e in exc.errors()]
        return _error(422, "invalid request", jsonable_encoder(problems))

    @app.exception_handler(SQLAlchemyError)
    async def _database_error(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.error("verification_database_error", path=request.url.path, error=type(exc).__name__)
        return _error(503, "unavailable", "the certificate register cannot be reached; try again later")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("verification_failed", path=request.url.path, error=type(exc).__name__, exc_info=exc)
        return _error(500, "internal error", "the request could not be answered")

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """Whether the service can reach its register."""
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return JSONResponse({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/.well-known/jwks.json")
    def jwks() -> JSONResponse:
        """The public keys that are not retired, as a JWK Set."""
        return JSONResponse(ring.jwks(), headers={"Cache-Control": "public, max-age=300"})

    @app.post("/verify")
    async def verify(request: Request) -> JSONResponse:
        """Check a certificate (event data, CloudEvent or credential) and say where it stands now."""
        # Any declared type is read as JSON (curl's default is form-encoded), but a form upload is refused plainly.
        if request.headers.get("content-type", "").lower().startswith("multipart/"):
            raise ApiError(415, "unsupported media type", "send the certificate itself as the JSON body")
        body = await _body(request)
        try:
            presented = read_presented(parse_json(body))
        except MalformedJson as exc:
            raise ApiError(400, "malformed", str(exc)) from None
        except UnreadableCertificate as exc:
            raise ApiError(422, "not a certificate", str(exc)) from None
        verdict = check_proof(presented, ring.jwks())
        number = verdict.certificate.get("number")
        record = await run_in_threadpool(lookup, number) if verdict.valid and isinstance(number, str) else None
        answer = register.answer(verdict, record)
        log.info(
            "certificate_checked",
            certificate_number=number if isinstance(number, str) else None,
            student_id=verdict.certificate.get("student_id") if verdict.valid else None,
            form=verdict.form,
            valid=answer["valid"],
            status=answer["status"],
            reason=answer["reason"],
        )
        return JSONResponse(answer)

    def render(status: int, **values: Any) -> HTMLResponse:
        page = pages.get_template("certificate.html").render(
            university=settings.university_name,
            library=settings.library_name,
            offline={lang: say("offline", lang) for lang in LANGUAGES},
            **values,
        )
        return HTMLResponse(page, status_code=status, headers=_PAGE_HEADERS)

    @app.get("/c/{number:path}", response_class=HTMLResponse)
    def certificate_page(number: str, t: str | None = None) -> HTMLResponse:
        """The human page of a certificate; needs its token."""
        record = lookup(number)
        if record is None or not tokens_match(record.verification_token, t):
            log.info("verification_page", found=False)
            notice = {lang: (say("not_found", lang), say("not_found_detail", lang)) for lang in LANGUAGES}
            return render(404, state="not-found", notice=notice, rows=[])
        state, reason = register.standing(record, ring.jwks())
        log.info(
            "verification_page",
            found=True,
            certificate_number=record.number,
            student_id=record.certificate.get("student_id"),
            standing=state,
        )
        return render(200, state=state, notice=_notice(state, reason, record, settings), rows=_rows(record, settings))

    return app


def _notice(state: str, reason: str, record: register.Record, settings: Settings) -> dict[str, tuple[str, str]]:
    values = {"library": settings.library_name}
    notice = {}
    for lang in LANGUAGES:
        if state == "valid":
            notice[lang] = (say("valid", lang), say("valid_detail", lang, **values))
        elif state == "revoked":
            assert record.revoked_at is not None
            when = date_text(record.revoked_at, lang, settings.timezone)
            notice[lang] = (say("revoked", lang), say("revoked_detail", lang, when=when, reason=reason))
        else:
            notice[lang] = (say("invalid", lang), say("invalid_detail", lang, reason=reason))
    return notice


def _rows(record: register.Record, settings: Settings) -> list[dict[str, str]]:
    certificate = record.certificate
    rows = [
        {"id": say(f, "id"), "en": say(f, "en"), "value": str(certificate.get(f, "")), "value_en": ""} for f in _ROWS
    ]
    issued = datetime.fromisoformat(certificate["issued_at"])
    issued_id, issued_en = (date_text(issued, lang, settings.timezone) for lang in LANGUAGES)
    rows.append({"id": say("issued", "id"), "en": say("issued", "en"), "value": issued_id,
                 "value_en": issued_en if issued_en != issued_id else ""})  # fmt: skip
    rows.append({"id": say("key", "id"), "en": say("key", "en"), "value": record.key_id, "value_en": ""})
    return rows
