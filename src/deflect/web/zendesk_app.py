"""The Zendesk ticket-sidebar app, packaged for upload: the zip Zendesk's Admin Center takes as a private app.

Zendesk reads `manifest.json` at the root of the zip (what `zcli apps:package` builds from an app folder), with
`translations/en.json` and the two logos in `assets/`. The app is a remote one: its sidebar location is deflect's
own panel URL, which Zendesk frames with `?origin=&app_guid=` (docs/web.md). Building the zip here means nobody
edits files inside the installed package, and the URL in it is checked before an admin uploads it.
"""

from __future__ import annotations

import io
import json
import zipfile
from importlib import resources
from urllib.parse import urlsplit

from deflect.errors import ValidationFailed

# The files of the app folder (src/deflect/web/zendesk/), as they go into the zip.
_FILES = ("manifest.json", "translations/en.json", "assets/logo.png", "assets/logo-small.png")
# Zendesk loads a remote app's URL in the agent's browser inside its https page: anything but https is blocked as
# mixed content, except a deflect on the agent's own machine while trying it out (`zcli apps:server` serves
# http://localhost the same way).
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def panel_url(base: str) -> str:
    """The sidebar URL for a deflect served at `base` (`https://deflect.example.com`, with or without a path)."""
    parts = urlsplit(base.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed(
            f"--url must be deflect's address, like https://deflect.example.com (got {base!r})",
            [{"field": "url", "problem": "not_a_url"}],
        )
    if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise ValidationFailed(
            f"Zendesk frames the app inside its https page, so an http address is blocked: give deflect's https "
            f"address (got {base!r}; http is accepted only for localhost)",
            [{"field": "url", "problem": "not_https"}],
        )
    if parts.query or parts.fragment:
        raise ValidationFailed(
            f"--url takes deflect's address without ?query or #fragment (got {base!r})",
            [{"field": "url", "problem": "has_query"}],
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/panel?host=zendesk"


def build(base_url: str, author_name: str, author_email: str) -> bytes:
    """The app's zip: the packaged app folder with the sidebar URL and author set."""
    url = panel_url(base_url)
    folder = resources.files("deflect.web").joinpath("zendesk")
    manifest = json.loads(folder.joinpath("manifest.json").read_text(encoding="utf-8"))
    manifest["location"]["support"]["ticket_sidebar"]["url"] = url
    manifest["author"] = {**manifest["author"], "name": author_name, "email": author_email}
    translations = json.loads(folder.joinpath("translations/en.json").read_text(encoding="utf-8"))
    translations["app"]["installation_instructions"] = (
        f"This app shows deflect ({url}) beside each ticket. Add your Zendesk address (https://SUBDOMAIN.zendesk.com) "
        "to DEFLECT_PANEL_ORIGINS on the deflect server, and give each agent an agent key."
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in _FILES:
            if name == "manifest.json":
                data = (json.dumps(manifest, indent=2) + "\n").encode()
            elif name == "translations/en.json":
                data = (json.dumps(translations, indent=2) + "\n").encode()
            else:
                data = folder.joinpath(name).read_bytes()
            zf.writestr(name, data)
    return buffer.getvalue()
