"""The `opencharacters` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from opencharacters.animation.cli import animate
from opencharacters.client.cli import call
from opencharacters.settings import Settings
from opencharacters.speech.cli import models, voices


def load_settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@click.group()
@click.version_option(package_name="opencharacters")
def main() -> None:
    """OpenCharacters: self-hosted real-time conversational avatars."""


@main.command()
@click.option("--host", help="Interface to listen on (OPENCHARACTERS_HOST, default 127.0.0.1)")
@click.option("--port", type=int, help="Port (OPENCHARACTERS_PORT, default 8000)")
@click.option("--data-dir", type=click.Path(path_type=Path), help="OPENCHARACTERS_DATA_DIR")
@click.option(
    "--dev-key-file",
    is_flag=True,
    default=None,
    help="Keep the first start's API key in the data directory and print it on every start.",
)
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--ssl-certfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve HTTPS with this certificate (PEM); browsers allow the microphone only on "
    "https:// or localhost.",
)
@click.option(
    "--ssl-keyfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The certificate's private key (PEM).",
)
@click.option(
    "--media-workers",
    type=click.IntRange(0, 64),
    help="Media-worker processes to start and supervise (OPENCHARACTERS_MEDIA_WORKERS, "
    "default 1). 0: the API alone; workers started elsewhere with `opencharacters worker` "
    "(same database and data directory) run the calls.",
)
def serve(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    dev_key_file: bool | None,
    log_level: str,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
    media_workers: int | None,
) -> None:
    """Run the API server and its media workers, with the developer portal at /portal."""
    import uvicorn

    from opencharacters.api.app import create_app

    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise click.UsageError("--ssl-certfile and --ssl-keyfile go together")
    given = {
        "host": host,
        "port": port,
        "data_dir": data_dir,
        "dev_key_file": dev_key_file,
        "media_workers": media_workers,
    }
    settings = load_settings(**given)
    if ssl_certfile is not None and settings.public_url is None:
        https_url = "https://" + settings.resolved_public_url.removeprefix("http://")
        settings = load_settings(**given, public_url=https_url)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
    )


@main.command()
@click.option(
    "--slots",
    type=click.IntRange(1, 256),
    help="Calls it runs at once (default OPENCHARACTERS_SESSION_CAPACITY: half the cores).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface of its internal endpoint (API processes forward offers and control there).",
)
@click.option("--port", type=int, default=0, show_default=True, help="0: any free port")
@click.option(
    "--advertise-url",
    help="The internal endpoint's URL as API processes reach it (default http://HOST:PORT).",
)
@click.option("--data-dir", type=click.Path(path_type=Path), help="OPENCHARACTERS_DATA_DIR")
@click.option("--worker-id", hidden=True)
@click.option("--parent-pid", type=int, hidden=True)
@click.option("--log-level", default="info", show_default=True)
def worker(
    slots: int | None,
    host: str,
    port: int,
    advertise_url: str | None,
    data_dir: Path | None,
    worker_id: str | None,
    parent_pid: int | None,
    log_level: str,
) -> None:
    """Run a media worker: it claims sessions from the database and runs their calls.

    Start it with the API's database (OPENCHARACTERS_DATABASE_URL), data directory and secret
    key; SIGTERM ends its calls (FAILED, SERVER_SHUTDOWN) and stops it."""
    import asyncio
    import logging

    from opencharacters.worker.process import MediaWorkerProcess

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = load_settings(data_dir=data_dir)
    process = MediaWorkerProcess(
        settings,
        slots=slots or settings.session_capacity,
        host=host,
        port=port,
        advertise_url=advertise_url,
        worker_id=worker_id,
        parent_pid=parent_pid,
    )
    asyncio.run(process.run())


@main.group()
def keys() -> None:
    """Manage API keys (works while the server runs)."""


def _database(data_dir: Path | None) -> Any:
    from opencharacters.store.db import Database

    settings = load_settings(data_dir=data_dir)
    settings.ensure_data_dir()
    database = Database(settings.resolved_database_url)
    database.migrate()
    return database


data_dir_option = click.option(
    "--data-dir", type=click.Path(path_type=Path), help="OPENCHARACTERS_DATA_DIR"
)


@keys.command("create")
@data_dir_option
@click.option("--org", default="default", show_default=True, help="Organization (made if new)")
@click.option("--name", help="A label for the key")
def keys_create(data_dir: Path | None, org: str, name: str | None) -> None:
    """Create a key; it is printed once, alone on the last line."""
    from opencharacters.store.accounts import create_key

    database = _database(data_dir)
    with database.session() as db:
        key, row = create_key(db, org, name)
        click.echo(
            f"Created key {row.id} for organization {org!r}. Keep it now; only its hash is stored:"
        )
    database.dispose()
    click.echo(key)


@keys.command("list")
@data_dir_option
@click.option("--org", help="Only this organization's keys")
def keys_list(data_dir: Path | None, org: str | None) -> None:
    """List keys (prefixes only)."""
    from opencharacters.store.accounts import list_keys

    database = _database(data_dir)
    with database.session() as db:
        rows = list_keys(db, org)
    database.dispose()
    click.echo(f"{'ID':36}  {'PREFIX':10}  {'ORGANIZATION':20}  {'CREATED':20}  STATUS")
    for row in rows:
        status = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        created = f"{row.created_at:%Y-%m-%d %H:%M:%S}"
        click.echo(f"{row.id:36}  {row.prefix:10}  {row.organization:20}  {created:20}  {status}")


@keys.command("revoke")
@data_dir_option
@click.argument("key_id")
def keys_revoke(data_dir: Path | None, key_id: str) -> None:
    """Revoke a key by its id or prefix."""
    from opencharacters.store.accounts import revoke_key

    database = _database(data_dir)
    with database.session() as db:
        row = revoke_key(db, key_id)
        revoked = row.id if row else None
    database.dispose()
    if revoked is None:
        raise click.ClickException(f"no single key matches {key_id!r}")
    click.echo(f"Revoked key {revoked}.")


main.add_command(models)
main.add_command(voices)
main.add_command(animate)
main.add_command(call)
