"""Browser-side files shipped with the server: the JavaScript client and the demo call page
(`static/`, served under /sdk/ by opencharacters.api.routers.sdk), and third-party browser code
installed from npm at set-up (`vendor/`, see scripts/setup-web.sh), never committed."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable


def static_path(name: str) -> Traversable:
    return resources.files(__name__).joinpath("static", name)


LIVEKIT_CLIENT = ("livekit-client", "dist", "livekit-client.esm.mjs")
"""LiveKit's browser client as one self-contained ES module (the pinned npm package's build)."""


def vendor_path(*parts: str) -> Traversable:
    return resources.files(__name__).joinpath("vendor", "node_modules", *parts)
