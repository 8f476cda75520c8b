"""Extension: the nine preset characters (Runway's SDK names them but offers no listing; the
portal's gallery and users choosing one need their names, looks and voices)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from opencharacters.api.auth import Caller, api_caller
from opencharacters.api.context import Services, services
from opencharacters.domain.errors import NotFound
from opencharacters.domain.preset_characters import PRESET_CHARACTERS, PRESET_CHARACTERS_BY_ID
from opencharacters.store.responses import voice_json
from opencharacters.store.tables import Avatar

router = APIRouter(tags=["avatar presets (extension)"])


def _preset_json(svc: Services, preset_id: str) -> dict[str, Any]:
    preset = PRESET_CHARACTERS_BY_ID[preset_id]
    svc.presets.ensure(preset_id)  # the first call prepares the image (0.1-0.3 s)
    with svc.db.session() as db:
        row = db.get(Avatar, preset.avatar_id)
        assert row is not None
        return {
            "type": "runway-preset",
            "presetId": preset.id,
            "name": preset.name,
            "role": preset.role,
            "personality": preset.personality,
            "startScript": preset.start_script,
            "voice": voice_json(row.voice),
            "referenceImageUri": svc.blob_url(row.reference_preview_blob),
            "processedImageUri": svc.blob_url(row.processed_preview_blob),
            "editable": False,
        }


@router.get("/v1/avatar_presets", summary="List the preset characters (extension)")
async def list_avatar_presets(
    _: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    items = [await asyncio.to_thread(_preset_json, svc, p.id) for p in PRESET_CHARACTERS]
    return {"data": items}


@router.get("/v1/avatar_presets/{presetId}", summary="Retrieve a preset character (extension)")
async def retrieve_avatar_preset(
    presetId: Annotated[str, Path(max_length=64, description="A preset id")],
    _: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    if presetId not in PRESET_CHARACTERS_BY_ID:
        raise NotFound(
            f"Preset {presetId[:64]!r} not found; one of: {', '.join(PRESET_CHARACTERS_BY_ID)}."
        )
    return await asyncio.to_thread(_preset_json, svc, presetId)
