"""The verification service: public keys, certificate checks and the page a QR code opens.

``GET /.well-known/jwks.json``, the issuer's DID document (``/.well-known/did.json``
or ``/<path>/did.json``, per did:web), its status lists (``GET /status/{n}``),
``POST /verify``, ``GET /c/{number}?t={token}`` and ``GET /healthz``, over the
certificate register (read only) and a JWK Set of public keys: the service
holds no private key. Every answer to bad input is a short 4xx with a reason,
never a stack trace. The page of a certificate needs the certificate's token:
a wrong or missing token, and an unknown number, get the same "not found".
No answer redirects anywhere, so nothing is built from the Host header.
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

from clearance.documents.did import did_document, did_document_path, did_web
from clearance.documents.wording import LANGUAGES, date_text, say
from clearance.domain.page_token import MAX_TOKEN_LENGTH
from clearance.settings import Settings
from clearance.signing.keys import KeyRing
from clearance.signing.public import JwksFile, PublicKeys, ring_public_keys
from clearance.store.engine import Database, make_session_factory
from clearance.verification import register, status_lists
from clearance.verification.offline import MalformedJson, UnreadableCertificate, parse_json, read_presented
from clearance.verification.offline import verify_presented as check_proof

log = structlog.get_logger("clearance.verification")

# A certificate is about 1 KB, its credential form about 3 KB; anything near this is not one.
MAX_BODY_BYTES = 8 * 1024
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


def public_keys_of(settings: Settings) -> PublicKeys:
    """The public keys the service verifies against: CLEARANCE_JWKS_FILE, else those of CLEARANCE_KEY_DIR."""
    if settings.jwks_file is not None:
        return JwksFile(settings.jwks_file)
    log.warning("verifier_reads_private_key_directory", hint="set CLEARANCE_JWKS_FILE")
    return ring_public_keys(KeyRing(settings.key_dir))


def create_app(settings: Settings, engine: Engine | None = None, public_keys: PublicKeys | None = None) -> FastAPI:
    """The verification service over ``settings``' database and its public keys (see :func:`public_keys_of`)."""
    own_engine = engine is None
    database = Database(settings.database_url) if engine is None else None
    engine = database.engine if database is not None else engine
    assert engine is not None
    sessions = make_session_factory(engine)
    keys = public_keys if public_keys is not None else public_keys_of(settings)
    issuer_did = did_web(settings.verify_base_url)
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
        openapi_url=None,
        lifespan=lifespan,
        # Starlette's slash redirect builds its Location from the Host header (and keeps the token).
        redirect_slashes=False,
    )

    def readable(text: str | None, limit: int) -> bool:
        # No number or token has control characters (PostgreSQL would refuse a NUL rather than find nothing).
        return bool(text) and len(text) <= limit and text.isprintable()  # type: ignore[arg-type]

    def lookup(number: str) -> register.Record | None:
        if not readable(number, MAX_NUMBER_LENGTH):
            return None
        with sessions() as session:
            return register.find(session, number)

    def lookup_page(number: str, token: str | None) -> register.Record | None:
        if not readable(number, MAX_NUMBER_LENGTH) or not readable(token, MAX_TOKEN_LENGTH):
            return None
        assert token is not None
        with sessions() as session:
            return register.find_by_token(session, number, token)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.error, exc.detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Carries the exception's headers: a 405 says which methods are allowed (Allow).
        response = _error(exc.status_code, str(exc.detail).lower(), str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

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

    @app.api_route("/healthz", methods=["GET", "HEAD"])
    def healthz() -> JSONResponse:
        """Whether the service can reach its register."""
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return JSONResponse({"status": "unavailable", "database": type(exc).__name__}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.api_route("/.well-known/jwks.json", methods=["GET", "HEAD"])
    def jwks() -> JSONResponse:
        """The public keys that are not retired, as a JWK Set."""
        return JSONResponse(keys(), headers={"Cache-Control": "public, max-age=300"})

    def did_json() -> JSONResponse:
        """The issuer's DID document: every key of the JWK Set under assertionMethod."""
        return JSONResponse(did_document(issuer_did, keys()), headers={"Cache-Control": "public, max-age=300"})

    for path in sorted({"/.well-known/did.json", did_document_path(settings.verify_base_url)}):
        app.add_api_route(path, did_json, methods=["GET", "HEAD"])

    @app.api_route("/status/{list_number}", methods=["GET", "HEAD"])
    def status_list(list_number: int) -> JSONResponse:
        """A signed Bitstring Status List as the signing side last published it."""
        if not 0 <= list_number < 1_000_000:
            raise ApiError(404, "not found", "no such status list")
        with sessions() as session:
            signed = status_lists.stored(session, list_number)
            current = signed is not None and status_lists.is_current(session, list_number, settings.status_list_bits)
        if signed is None:
            raise ApiError(404, "not found", "this status list has not been published yet")
        if not current:
            log.warning("status_list_stale", list_number=list_number, hint="run clearance certificate status-list")
        return JSONResponse(signed, headers={"Cache-Control": "public, max-age=60"})

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
        jwks = keys()
        # A credential counts only as this issuer's: signed by a key of its own DID document.
        verdict = await run_in_threadpool(check_proof, presented, jwks, did_document(issuer_did, jwks))
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

    @app.api_route("/c/{number:path}", methods=["GET", "HEAD"], response_class=HTMLResponse)
    def certificate_page(number: str, t: str | None = None) -> HTMLResponse:
        """The human page of a certificate; needs its token."""
        record = lookup_page(number, t)
        if record is None:
            log.info("verification_page", found=False)
            notice = {lang: (say("not_found", lang), say("not_found_detail", lang)) for lang in LANGUAGES}
            return render(404, state="not-found", notice=notice, rows=[])
        state, reason = register.standing(record, keys())
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
