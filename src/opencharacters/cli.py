"""The `opencharacters` command line."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="opencharacters")
def main() -> None:
    """OpenCharacters: self-hosted real-time conversational avatars."""
