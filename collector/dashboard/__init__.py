"""The web dashboard: static pages that render the reports API in the browser.

Decides nothing and holds no data: `routes()` serves the page shell for every dashboard path and
the static files (the page script, its style sheet, and uPlot, vendored so it works offline).
Must not: import any other part of the collector; it reads the reports API like any client.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


async def _page(request: Request) -> Response:
    return FileResponse(STATIC / "dashboard.html", headers=SECURITY_HEADERS)


async def _home(request: Request) -> Response:
    return RedirectResponse("/dashboard/", status_code=302)


def routes() -> list[BaseRoute]:
    """Return the dashboard's routes: `/`, `/dashboard/...` and `/dashboard/static/...`."""
    return [
        Route("/", _home, methods=["GET"]),
        Route("/dashboard", _home, methods=["GET"]),
        Mount("/dashboard/static", app=StaticFiles(directory=STATIC), name="dashboard-static"),
        Route("/dashboard/", _page, methods=["GET"]),
        Route("/dashboard/methodology", _page, methods=["GET"]),
        Route("/dashboard/country/{cc}", _page, methods=["GET"]),
        Route("/dashboard/country/{cc}/domain/{domain}", _page, methods=["GET"]),
    ]
