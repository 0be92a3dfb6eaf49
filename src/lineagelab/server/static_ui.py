"""The built viewer (``ui/`` -> ``server/static/``), served by the local server or inlined into one HTML file.

The offline export inlines the script, the stylesheet and the lineage bundle, and carries a Content-Security-Policy
that forbids every network request: the file opens from disk and nothing leaves the page.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

STATIC = Path(__file__).with_name("static")
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
       "connect-src 'none'; font-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'")
_DATA_TAG = '<script type="application/json" id="lineagelab-data"></script>'
_EXTRA_TAG = '<script type="application/json" id="lineagelab-extra"></script>'


class ViewerNotBuilt(RuntimeError):
    def __init__(self) -> None:
        super().__init__(f"the viewer is not built ({STATIC} is missing): run ./scripts/setup.sh "
                         "(it runs `npm ci && npm run build` in ui/)")


def asset(name: str) -> bytes:
    path = STATIC / name
    if name not in ("index.html", "viewer.js", "viewer.css") or not path.is_file():
        raise ViewerNotBuilt() if not (STATIC / "index.html").is_file() else FileNotFoundError(name)
    return path.read_bytes()


def json_for_script(doc: Any) -> str:
    """JSON safe inside a <script> element: no `</script>`, no `<!--`, no line separators breaking it."""
    text = orjson.dumps(doc).decode()
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def standalone_html(bundle: dict[str, Any]) -> str:
    """One self-contained page: the viewer and ``bundle``; it makes no request."""
    page = asset("index.html").decode()
    js = asset("viewer.js").decode().replace("</script", "<\\/script")
    css = asset("viewer.css").decode().replace("</style", "<\\/style")
    page, n_js = re.subn(r'<script type="module" crossorigin src="\./viewer\.js"></script>',
                         lambda _m: f'<script type="module">{js}</script>', page)
    page, n_css = re.subn(r'<link rel="stylesheet" crossorigin href="\./viewer\.css">',
                          lambda _m: f"<style>{css}</style>", page)
    if n_js != 1 or n_css != 1 or _DATA_TAG not in page or _EXTRA_TAG not in page:
        raise RuntimeError("the built viewer's index.html does not have the expected asset tags; rebuild ui/")
    extra = {k: bundle[k] for k in ("details", "events") if k in bundle}
    graph = {k: v for k, v in bundle.items() if k not in extra}
    page = page.replace(_DATA_TAG, f'<script type="application/json" id="lineagelab-data">'
                                   f"{json_for_script(graph)}</script>", 1)
    page = page.replace(_EXTRA_TAG, f'<script type="application/json" id="lineagelab-extra">'
                                    f"{json_for_script(extra)}</script>", 1)
    return page.replace("<head>", f'<head>\n<meta http-equiv="Content-Security-Policy" content="{CSP}">', 1)
