"""Extension: the 30 preset voices with signed preview URLs (Runway's SDK has no preset listing;
the portal and users picking a voice need one)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Response

from opencharacters.api.auth import Caller, api_caller
from opencharacters.api.context import Services, services
from opencharacters.domain.errors import Forbidden, NotFound
from opencharacters.domain.voices import PRESET_VOICES, PRESETS_BY_ID

router = APIRouter(tags=["voice presets (extension)"])
PURPOSE = "preset-preview"


def preview_url(svc: Services, preset_id: str) -> str:
    expires = svc.signer.expiry()
    query = urlencode(
        {"expires": expires, "signature": svc.signer.signature(PURPOSE, preset_id, expires)}
    )
    return f"{svc.signer.base_url}/v1/voice_presets/{preset_id}/preview?{query}"


@router.get("/v1/voice_presets", summary="List the preset voices with preview URLs (extension)")
def list_voice_presets(
    _: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return {
        "data": [
            {
                "id": voice.id,
                "name": voice.name,
                "description": voice.description,
                "gender": voice.gender,
                "previewUrl": preview_url(svc, voice.id),
            }
            for voice in PRESET_VOICES
        ]
    }


@router.api_route(
    "/v1/voice_presets/{presetId}/preview",
    methods=["GET", "HEAD"],
    summary="A preset's preview as 16-bit PCM WAV, behind a signed URL (extension)",
    response_class=Response,
)
async def voice_preset_preview(
    presetId: str,
    expires: str = Query(...),
    signature: str = Query(...),
    svc: Services = Depends(services),
) -> Response:
    if presetId not in PRESETS_BY_ID:
        raise NotFound(f"Preset voice {presetId[:64]!r} not found.")
    if not svc.signer.verify(PURPOSE, presetId, expires, signature):
        raise Forbidden("This link is invalid or has expired; list the presets again.")
    from opencharacters.speech.previews import render_preset_preview

    audio = await asyncio.to_thread(render_preset_preview, presetId, svc.settings.engines)
    return Response(
        audio, media_type="audio/wav", headers={"Cache-Control": "private, max-age=3600"}
    )
