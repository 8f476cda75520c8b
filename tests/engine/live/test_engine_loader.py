"""The shared engines' loader: `loaded()` answers only once the models are in memory."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from opencharacters.engine.live import engines as engines_module
from opencharacters.engine.live.engines import EngineLoader
from opencharacters.engine_settings import EngineSettings

pytestmark = pytest.mark.unit


async def test_loaded_is_none_until_the_engines_are_in_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = asyncio.Event()
    loop = asyncio.get_running_loop()
    shared: Any = object()

    def load(_settings: EngineSettings, _models_first: bool) -> Any:
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result()
        return shared

    monkeypatch.setattr(engines_module, "_load", load)
    loader = EngineLoader(EngineSettings())
    assert loader.loaded() is None, "not started"
    loader.warm()
    await asyncio.sleep(0.05)
    assert loader.loaded() is None, "still loading"
    release.set()
    assert await loader.get() is shared
    assert loader.loaded() is shared


async def test_loaded_is_none_when_loading_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    def load(_settings: EngineSettings, _models_first: bool) -> Any:
        raise RuntimeError("no model file")

    monkeypatch.setattr(engines_module, "_load", load)
    loader = EngineLoader(EngineSettings())
    with pytest.raises(RuntimeError):
        await loader.get()
    assert loader.loaded() is None
