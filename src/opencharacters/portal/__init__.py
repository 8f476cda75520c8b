"""Browser-side files shipped with the server: the JavaScript client and the demo call page
(`static/`, served under /sdk/ by opencharacters.api.routers.sdk)."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable


def static_path(name: str) -> Traversable:
    return resources.files(__name__).joinpath("static", name)
