"""Which route a request is for, before routing: the body gate and the 405 answer need it.

Built from the routers' own APIRoute objects (what the app includes), so it does not depend on
how FastAPI arranges included routers internally."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match
from starlette.types import Scope


class RouteIndex:
    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self.routes = [route for route in routes if isinstance(route, APIRoute)]

    def route_for(self, scope: Scope) -> APIRoute | None:
        """The route that will answer this request, or None (404 or 405)."""
        for route in self.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return route
        return None

    def allowed_methods(self, scope: Scope) -> list[str]:
        """The methods of the path this request is routed to, sorted (HEAD with GET). Routes are
        one per method; the first route whose template matches decides which template that is
        (/v1/voices/preview, not /v1/voices/{id}). Undocumented routes are left out."""
        matching = [route for route in self.routes if route.matches(scope)[0] != Match.NONE]
        if not matching:
            return []
        template = matching[0].path
        same = [route for route in matching if route.path == template]
        documented = [route for route in same if route.include_in_schema] or same
        methods: set[str] = set()
        for route in documented:
            methods |= route.methods or set()
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)
