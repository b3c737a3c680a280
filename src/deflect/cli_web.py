"""`deflect zendesk-app`: the agent panel as a Zendesk private app, ready to upload (deflect.web.zendesk_app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from deflect.cli import _errors, app, err, out


@app.command("zendesk-app")
def zendesk_app(
    url: Annotated[
        str, typer.Option("--url", help="deflect's address as agents reach it, e.g. https://deflect.example.com")
    ],
    output: Annotated[Path, typer.Option("--out", "-o", help="The zip to write.")] = Path("deflect-zendesk.zip"),
    author_name: Annotated[str, typer.Option(help="Shown in Zendesk's app list.")] = "Your support team",
    author_email: Annotated[str, typer.Option(help="Shown in Zendesk's app list.")] = "support@example.com",
) -> None:
    """Build the Zendesk ticket-sidebar app (a zip to upload as a private app) pointing at your deflect."""
    from deflect.web.zendesk_app import build, panel_url

    with _errors():
        data = build(url, author_name, author_email)
    output.write_bytes(data)
    out.print(f"wrote {escape(str(output))} ({len(data):,} bytes): sidebar URL {escape(panel_url(url))}")
    err.print(
        "Next: Zendesk Admin Center > Apps and integrations > Zendesk Support apps > Upload private app, and add your "
        "Zendesk address (https://SUBDOMAIN.zendesk.com) to DEFLECT_PANEL_ORIGINS on the deflect server.",
        highlight=False,
    )
