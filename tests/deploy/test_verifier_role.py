"""deploy/README.md's read-only role for the public verifier, run on a real PostgreSQL.

The SQL block is taken from the README as an operator would paste it (role and database renamed
for the test); the role then serves a real certificate page and can change nothing.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from services import fresh_postgres_database, postgres_admin_engine
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from validators import ROOT

from clearance.config.policy_file import load_policy
from clearance.demo.eventfactory import EventFactory, topic_of
from clearance.services.batch import handle_batch
from clearance.services.results import Context
from clearance.settings import Settings
from clearance.signing.keys import KeyRing
from clearance.store.engine import make_engine, make_session_factory
from clearance.store.migrate import upgrade
from clearance.store.unit_of_work import SqlUnitOfWork
from clearance.verification import register
from clearance.verification.letters import verification_url
from clearance.web.app import create_app
from schemas.registry import parse_event

pytestmark = pytest.mark.postgres


def _readme_sql() -> str:
    text_ = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    section = text_[text_.index("### A read-only database role for the public verifier") :]
    [sql] = re.findall(r"```sql\n(.*?)```", section, flags=re.S)[:1]
    return sql


def _issue_one(url: str, keys: Path) -> str:
    """Clear one student through the real handler; the certificate's number."""
    t0 = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
    library, desk, registrar = (
        EventFactory(source, lambda: t0) for source in ("urn:library:central", "urn:repository:etd", "urn:registrar:ft")
    )
    envelopes = [
        library.patron_linked("central", "P-1", "2019100123"),
        desk.deposit_submitted("DEP-1", "2019100123", "Analisis Debit Sungai"),
        desk.deposit_accepted("DEP-1", "2019100123"),
        registrar.application_submitted("APP-1", "2019100123", full_name="Siti", faculty="Teknik", program="Sipil"),
    ]
    events = [parse_event(json.dumps(e).encode(), topic_of(e)) for e in envelopes]
    key = KeyRing(keys).signing_key(create=True)
    policy = load_policy(None)
    decided_at = t0 + timedelta(hours=1)
    context = Context(policy=lambda: policy, signing_key=lambda: key, clock=lambda: decided_at, issuer="urn:x")
    engine = make_engine(url)
    with SqlUnitOfWork(make_session_factory(engine)) as uow:
        result = handle_batch(uow, events, [], context)
        uow.commit()
    engine.dispose()
    [number] = result.issued
    return number


def test_the_readme_s_verifier_role_serves_certificates_and_changes_nothing(tmp_path: Path) -> None:
    role = f"verify_{uuid.uuid4().hex[:10]}"
    try:
        with fresh_postgres_database() as admin_url:
            upgrade(admin_url)
            number = _issue_one(admin_url, tmp_path / "keys")
            database = make_url(admin_url).database
            sql = _readme_sql().replace("clearance_verify", role)
            sql = sql.replace("DATABASE clearance", f'DATABASE "{database}"')
            admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                for statement in filter(None, (s.strip() for s in sql.split(";"))):
                    connection.execute(text(statement))
            admin.dispose()

            role_url = (
                make_url(admin_url).set(username=role, password="choose-one").render_as_string(hide_password=False)
            )
            settings = Settings(database_url=role_url, key_dir=tmp_path / "keys", verify_base_url="http://verify.test")
            with TestClient(create_app(settings)) as client:
                assert client.get("/healthz").json() == {"status": "ok"}
                engine = make_engine(role_url)
                with make_session_factory(engine)() as session:
                    record = register.find(session, number)
                    assert record is not None and register.numbers(session) == [number]
                url = urlsplit(verification_url(settings, record))
                page = client.get(f"{url.path}?{url.query}")
                assert page.status_code == 200 and number in page.text

                with engine.connect() as connection:
                    for forbidden in (
                        "SELECT count(*) FROM loans",
                        "SELECT count(*) FROM applications",
                        "UPDATE certificates SET revoked_at = NULL",
                        "DELETE FROM certificates",
                        "CREATE TABLE mine (x int)",
                    ):
                        with pytest.raises(DBAPIError, match=r"permission denied|read-only transaction"):
                            connection.execute(text(forbidden))
                        connection.rollback()
                engine.dispose()
    finally:
        with postgres_admin_engine().connect() as connection:
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
