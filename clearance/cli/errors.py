"""The command line's one error boundary: an expected failure becomes one line, never a traceback.

Expected failures are the ones an operator causes and can fix: a database that is missing, empty or
unreachable; a policy file that is missing, unreadable or wrong; a key directory that cannot be used;
a broker that does not answer; a setting with a bad value; a file that is not there. Each becomes a
:class:`click.ClickException` whose message says what is wrong and what to do (exit code 1). Anything
else is a bug and keeps its traceback. Every message is scrubbed of passwords.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from zoneinfo import ZoneInfoNotFoundError

import click
from alembic.util.exc import CommandError as MigrationError
from kafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from clearance.config.trust_file import TrustFileError
from clearance.demo.broker import BrokerError
from clearance.domain.policy import PolicyError
from clearance.settings import Settings
from clearance.signing.keys import KeyRingError
from clearance.store.engine import StoreInUse, normalise_url
from consumers.watermarks import BrokerUnavailable

_REDACTED = "***"
# user:password@ in any URL a library message may quote.
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")

EXPECTED: tuple[type[BaseException], ...] = (
    SQLAlchemyError,
    PolicyError,
    TrustFileError,
    KeyRingError,
    StoreInUse,
    BrokerUnavailable,
    BrokerError,
    KafkaError,
    ValidationError,
    ZoneInfoNotFoundError,
    MigrationError,
    OSError,
)


def environment_secrets(environ: os._Environ[str] | dict[str, str] | None = None) -> list[str]:
    """Passwords the environment configures, found even when the settings themselves do not load."""
    env = os.environ if environ is None else environ
    found = [env.get("CLEARANCE_KAFKA_SASL_PASSWORD", "")]
    try:
        found.append(str(make_url(env.get("CLEARANCE_DATABASE_URL", "")).password or ""))
    except ArgumentError:
        pass
    return [s for s in found if s]


def redact(message: str, secrets: Iterable[str]) -> str:
    """``message`` with every secret and every URL's password replaced by ``***``."""
    # As in the log's redactor, a secret under 4 characters would garble every word; a URL's is caught below.
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        message = message.replace(secret, _REDACTED)
    return _URL_PASSWORD.sub(rf"\1{_REDACTED}@", message)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _database(settings: Settings | None) -> str:
    if settings is None:
        return "the database"
    try:
        return make_url(normalise_url(settings.database_url)).render_as_string(hide_password=True)
    except ArgumentError:
        return "the database"


def describe(exc: BaseException, settings: Settings | None) -> str:
    """One line for an expected failure: what is wrong, and what to do about it."""
    if isinstance(exc, SQLAlchemyError):
        return _describe_database(exc, settings)
    if isinstance(exc, PolicyError):
        where = f" {settings.policy_file}" if settings is not None and settings.policy_file else ""
        return f"policy file{where}: {_first_line(exc)}; fix it, or unset CLEARANCE_POLICY_FILE for the built-in policy"
    if isinstance(exc, TrustFileError):
        return f"{_first_line(exc)}; `clearance trust check FILE` shows what it says"
    if isinstance(exc, ValidationError):
        return _describe_settings(exc)
    if isinstance(exc, ZoneInfoNotFoundError):
        # The settings' time zone check lets zoneinfo's own error through, outside pydantic's.
        return f"bad setting CLEARANCE_TIMEZONE: {_first_line(exc)}; give an IANA zone such as Asia/Jakarta"
    if isinstance(exc, MigrationError):
        return f"database migration: {_first_line(exc)}; `clearance db upgrade` without --revision goes to the latest"
    if isinstance(exc, KeyRingError):
        return f"signing keys: {_first_line(exc)}"
    if isinstance(exc, StoreInUse):
        return str(exc)
    if isinstance(exc, BrokerError):
        return f"the embedded broker (Tansu) did not start: {_first_line(exc)}"
    if isinstance(exc, BrokerUnavailable | KafkaError):
        servers = settings.kafka_bootstrap_servers if settings is not None else "the broker"
        return (
            f"no answer from the broker at {servers} ({_first_line(exc)}); "
            "start it or set CLEARANCE_KAFKA_BOOTSTRAP_SERVERS"
        )
    if isinstance(exc, OSError):
        return _describe_os_error(exc, settings)
    return _first_line(exc)


def _describe_database(exc: SQLAlchemyError, settings: Settings | None) -> str:
    where = _database(settings)
    detail = _first_line(exc)
    if "no such table" in detail or ("relation" in detail and "does not exist" in detail):
        return (
            f"the database at {where} has no clearance tables ({detail}); "
            "create them with `clearance db upgrade`, or point CLEARANCE_DATABASE_URL at the service's database"
        )
    if "file is not a database" in detail:
        return f"{where} is not a SQLite database ({detail}); point CLEARANCE_DATABASE_URL at the service's database"
    return f"cannot read the database at {where}: {detail}; check that it runs, and CLEARANCE_DATABASE_URL"


def _describe_settings(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = "_".join(str(part) for part in error.get("loc", ())).upper()
        problems.append(f"CLEARANCE_{field}: {error.get('msg', 'invalid')}")
    return f"bad setting {'; '.join(problems)}; fix it in the environment or .env"


def expected(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure an operator causes and can fix (not a bug)."""
    if isinstance(exc, ValidationError):
        return exc.title == Settings.__name__  # the settings; any other model failing is a bug
    return isinstance(exc, EXPECTED)


def _describe_os_error(exc: OSError, settings: Settings | None) -> str:
    target = exc.filename or ""
    what = exc.strerror or _first_line(exc)
    hint = ""
    if settings is not None and target:
        if str(settings.key_dir) in str(target):
            hint = "; CLEARANCE_KEY_DIR must be a directory this user can read and write"
        elif settings.policy_file is not None and str(settings.policy_file) == str(target):
            hint = "; fix CLEARANCE_POLICY_FILE, or unset it for the built-in policy"
    return f"{target}: {what}{hint}" if target else f"{what}{hint}"


class BoundaryGroup(click.Group):
    """A click group that turns expected failures of any sub-command into one line (exit 1), passwords hidden."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = redact(exc.message, _secrets(ctx))
            raise
        except EXPECTED as exc:
            if not expected(exc):
                raise
            settings = _loaded_settings(ctx)
            message = redact(describe(exc, settings), _secrets(ctx))
            raise click.ClickException(message) from None


def _loaded_settings(ctx: click.Context) -> Settings | None:
    loaded = getattr(ctx.obj, "loaded", None)
    return loaded if isinstance(loaded, Settings) else None


def _secrets(ctx: click.Context) -> list[str]:
    settings = _loaded_settings(ctx)
    return environment_secrets() + (settings.secrets() if settings is not None else [])
