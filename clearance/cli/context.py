"""What every sub-command shares, passed through click's context: the settings, read once.

Where the settings point when nothing is configured is decided here, once for every command:

* **The demo's home.** ``clearance demo`` leaves its database and keys in ``./clearance-demo``.
  When that folder holds a database and neither ``CLEARANCE_DATABASE_URL`` nor
  ``CLEARANCE_KEY_DIR`` is set (environment or ``.env``), every command uses the demo's
  database and keys, and says so on stderr. So the commands a newcomer types after the demo
  read what the demo left, and nothing looks for keys where there are none.
* **Read-only commands create nothing.** A command that only reads refuses a SQLite file that
  does not exist, instead of letting SQLite create an empty ``clearance.db`` behind it.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.engine import make_url

from clearance.observability.logging import configure_logging, quiet_libraries
from clearance.settings import Settings

DEMO_HOME = Path("clearance-demo")
DEMO_DATABASE = "clearance.db"
DEMO_KEYS = "keys"
DEMO_TRUST = "trust.toml"

# The commands that may bring a database into being (they migrate it), and those that never open one;
# every other command reads the database, and must find it.
_CREATES_DATABASE = frozenset({"run", "db upgrade", "serve", "demo"})
_NO_DATABASE = frozenset({"verify", "keys jwks", "keys rotate", "keys retire", "schemas export", "schemas asyncapi"})


def demo_home(cwd: Path | None = None) -> Path | None:
    """``./clearance-demo`` when a demo has left its database there, else None."""
    home = (cwd or Path.cwd()) / DEMO_HOME
    return home if (home / DEMO_DATABASE).is_file() else None


def resolve_settings(cwd: Path | None = None) -> tuple[Settings, Path | None]:
    """The settings of the environment, pointed at the demo's home when nothing else is configured.

    Returns the settings and the demo home they use (None when they use the configured or default store).
    """
    settings = Settings()
    home = demo_home(cwd)
    if home is None or {"database_url", "key_dir"} & settings.model_fields_set:
        return settings, None
    relative = home.relative_to(cwd or Path.cwd())
    update: dict[str, object] = {
        "database_url": f"sqlite:///{relative / DEMO_DATABASE}",
        "key_dir": relative / DEMO_KEYS,
    }
    if "trust_file" not in settings.model_fields_set and (home / DEMO_TRUST).is_file():
        update["trust_file"] = relative / DEMO_TRUST  # the producers the demo bound to their topics
    return settings.model_copy(update=update), relative


def sqlite_file(database_url: str) -> Path | None:
    """The file a SQLite URL names (None for another database or an in-memory one)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


class CliContext:
    """Settings from the environment (or the demo's home), read and logging configured on first use."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self.demo_home: Path | None = None

    @property
    def loaded(self) -> Settings | None:
        """The settings if a command has read them already (for redacting an error), else None."""
        return self._settings

    @property
    def settings(self) -> Settings:
        """The settings, with logging configured by them."""
        if self._settings is None:
            self._settings, self.demo_home = resolve_settings()
            configure_logging(self._settings.log_format, self._settings.log_level, secrets=self._settings.secrets())
            if _command_name(click.get_current_context()) != "run":
                quiet_libraries()  # the running service keeps kafka-python's warnings in its log
            if self.demo_home is not None:
                click.echo(
                    f"(using the demo's database and keys in {self.demo_home}/: "
                    "CLEARANCE_DATABASE_URL and CLEARANCE_KEY_DIR are not set)",
                    err=True,
                )
        return self._settings


def _command_name(ctx: click.Context) -> str:
    """The sub-command being run without the program's name, e.g. ``db upgrade``."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(reversed(names))


def current_settings() -> Settings:
    """The settings of the command being run, from click's context.

    A command that reads the database gets a clear error, and no empty file, when its SQLite file does not exist.
    """
    ctx = click.get_current_context()
    settings = ctx.ensure_object(CliContext).settings
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists() and _command_name(ctx) not in _CREATES_DATABASE | _NO_DATABASE:
        raise click.ClickException(
            f"no database at {path}: nothing has run here yet. Run `clearance demo` first (it leaves its "
            "database in ./clearance-demo, which commands run in this folder then use), or set "
            "CLEARANCE_DATABASE_URL to the service's database"
        )
    return settings
