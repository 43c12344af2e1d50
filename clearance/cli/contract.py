"""``clearance schemas``: the event contract as JSON Schemas and AsyncAPI."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def schemas() -> None:
    """The event contract."""


@schemas.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schemas_export(directory: Path) -> None:
    """Write one JSON Schema file per event type into DIRECTORY."""
    from schemas.export import export_schemas

    for path in export_schemas(directory):
        click.echo(str(path))


@schemas.command("asyncapi")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not to stdout.")
def schemas_asyncapi(output: Path | None) -> None:
    """Write the AsyncAPI 3.0 document of every topic, operation and message (JSON)."""
    from schemas.asyncapi import asyncapi_document, render

    text = render(asyncapi_document())
    if output is None:
        click.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        click.echo(str(output))


COMMANDS = [schemas]
