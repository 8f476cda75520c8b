"""The `opencharacters` command line."""

from __future__ import annotations

import click

from opencharacters.speech.cli import models, voices


@click.group()
@click.version_option(package_name="opencharacters")
def main() -> None:
    """OpenCharacters: self-hosted real-time conversational avatars."""


main.add_command(models)
main.add_command(voices)
