"""Small waits the call objects share."""

from __future__ import annotations

import asyncio


async def connected_before_end(
    connected: asyncio.Event, ended: asyncio.Event, timeout_s: float
) -> bool:
    """Waits until the call connects, ends, or `timeout_s` passes; True only for connected and
    not ended."""
    waits = {asyncio.ensure_future(connected.wait()), asyncio.ensure_future(ended.wait())}
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when="FIRST_COMPLETED")
    finally:
        for wait in waits:
            wait.cancel()
    return connected.is_set() and not ended.is_set()
