"""`deflect init DIR`: a project folder with settings, a kb and a data folder (deflect.project)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from deflect.cli import _errors, app, out


@app.command()
def init(
    folder: Annotated[Path, typer.Argument(help="The project folder to create (may exist; nothing is overwritten).")],
) -> None:
    """Create a project folder: deflect.env (commented settings), kb/ with an example article, config/, data/."""
    from deflect.project import create_project

    with _errors():
        written = create_project(folder)
    for item in written:
        out.print(f"{item.status:8} {escape(str(item.path))}", highlight=False)
    where = escape(str(folder))
    out.print(
        f"\nNext: put your documents in {where}/kb, then `deflect --project {where} ingest` "
        f"(or run `deflect ingest` from inside {where})."
    )
