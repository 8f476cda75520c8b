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
    from opencharacters.api.preflight import StartupProblem
    from opencharacters.logs import configure_logging

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
    configure_logging(log_level, settings.log_format)
    if ssl_certfile is not None and settings.public_url is None:
        https_url = "https://" + settings.resolved_public_url.removeprefix("http://")
        settings = load_settings(**given, public_url=https_url)
    try:
        app = create_app(settings)
    except StartupProblem as problem:
        raise click.ClickException(str(problem)) from None
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        # JSON lines: uvicorn's own records go through the root handler too.
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
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
@click.option(
    "--advertise-address",
    help="The IP address callers' media reaches this worker at, offered in its WHIP answers "
    "(OPENCHARACTERS_MEDIA_ADVERTISE_ADDRESS); with --host 0.0.0.0 also the internal URL's host.",
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
    advertise_address: str | None,
    data_dir: Path | None,
    worker_id: str | None,
    parent_pid: int | None,
    log_level: str,
) -> None:
    """Run a media worker: it claims sessions from the database and runs their calls.

    Start it with the API's database (OPENCHARACTERS_DATABASE_URL), data directory and secret
    key; SIGTERM ends its calls (FAILED, SERVER_SHUTDOWN) and stops it."""
    import asyncio
    import faulthandler

    from opencharacters.logs import configure_logging
    from opencharacters.worker.process import MediaWorkerProcess

    faulthandler.enable()  # a crash in native media code leaves its Python stack in the log

    settings = load_settings(data_dir=data_dir, media_advertise_address=advertise_address)
    configure_logging(log_level, settings.log_format)
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


@main.group()
def orgs() -> None:
    """Organizations and their limits (works while the server runs)."""


LIMIT_OPTIONS = {
    "max_concurrent_sessions": "Sessions active at once",
    "max_sessions_per_day": "Sessions created in any 24 hours",
    "max_session_minutes_per_month": "Minutes of calls per UTC calendar month",
    "max_avatar_videos_per_day": "Avatar videos made or queued in any 24 hours",
}


def _limit_value(value: str, option: str) -> int | None:
    """'default' -> None (the server's setting applies); a whole number -> that limit."""
    if value == "default":
        return None
    if not value.isdigit():
        raise click.BadParameter(
            f"{value!r} is neither a whole number nor 'default'", param_hint=option
        )
    return int(value)


@orgs.command("list")
@data_dir_option
def orgs_list(data_dir: Path | None) -> None:
    """List organizations and their own limits ('-' means the server default)."""
    from sqlalchemy import select

    from opencharacters.store.tables import Organization

    database = _database(data_dir)
    with database.session() as db:
        rows = list(db.scalars(select(Organization).order_by(Organization.name)))
    database.dispose()
    header = "  ".join(f"{name.upper():>30}" for name in LIMIT_OPTIONS)
    click.echo(f"{'ORGANIZATION':20}  {header}")
    for org in rows:
        values = "  ".join(
            f"{'-' if getattr(org, name) is None else getattr(org, name):>30}"
            for name in LIMIT_OPTIONS
        )
        click.echo(f"{org.name:20}  {values}")


@orgs.command("limits")
@data_dir_option
@click.argument("org")
@click.option("--max-concurrent-sessions", help=LIMIT_OPTIONS["max_concurrent_sessions"])
@click.option("--max-sessions-per-day", help=LIMIT_OPTIONS["max_sessions_per_day"])
@click.option(
    "--max-session-minutes-per-month", help=LIMIT_OPTIONS["max_session_minutes_per_month"]
)
@click.option("--max-avatar-videos-per-day", help=LIMIT_OPTIONS["max_avatar_videos_per_day"])
def orgs_limits(data_dir: Path | None, org: str, **given: str | None) -> None:
    """Show or set ORG's limits: a whole number, or 'default' for the server's setting
    (OPENCHARACTERS_MAX_*_PER_ORG; unset means unlimited). The organization is made if new."""
    from opencharacters.store.accounts import get_or_create_org
    from opencharacters.store.limits import LIMIT_NAMES, effective_limits, server_defaults

    changes = {
        name: _limit_value(value, f"--{name.replace('_', '-')}")
        for name, value in given.items()
        if value is not None
    }
    settings = load_settings(data_dir=data_dir)
    database = _database(data_dir)
    with database.session() as db:
        row = get_or_create_org(db, org)
        for name, value in changes.items():
            setattr(row, name, value)
        db.flush()
        own = {name: getattr(row, name) for name in LIMIT_OPTIONS}
        limits = effective_limits(row, server_defaults(settings))
    database.dispose()
    click.echo(f"Limits of organization {org!r}:")
    for name, wire in LIMIT_NAMES.items():
        value = getattr(limits, name)
        shown = "unlimited" if value is None else str(value)
        source = "server default" if own[name] is None else "set for this organization"
        click.echo(f"  {wire:28} {shown:>10}  ({source})")


main.add_command(models)
main.add_command(voices)
main.add_command(animate)
main.add_command(call)
