"""The dashboard's static files at /ui/ (no auth: they hold no data; the page asks for a key).

Every asset ships inside this package (wafermon_gateway/ui/static), so the dashboard works with no
internet access. Unknown paths under /ui/ are 404s in the gateway's JSON error shape.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "ui" / "static"
router = APIRouter(include_in_schema=False)


@router.get("/ui")
async def ui_root() -> Response:
    return RedirectResponse("/ui/", status_code=308)


class _Static(StaticFiles):
    async def get_response(self, path: str, scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        # The page is small and changes with the gateway: revalidate rather than serve stale code.
        response.headers.setdefault("Cache-Control", "no-cache")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/ui", _Static(directory=STATIC, html=True), name="ui")
