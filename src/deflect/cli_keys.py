"""`deflect keys ...`: API keys and widget ids in the database (settings.database_url), stored as a hash only.

The secret is printed by `create`, `create-widget` and `rotate`, once; nothing can show it again.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from deflect.cli import _errors, _settings, app, err, out
from deflect.domain.keys import KeyRecord, Role
from deflect.keys import Issued, KeyRing

keys_app = typer.Typer(no_args_is_help=True, help="Create, list, rotate and revoke API keys and widget ids.")
app.add_typer(keys_app, name="keys")

Actor = Annotated[str | None, typer.Option("--actor", help="Who is acting (audit log); default cli:<your user name>.")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Origin = Annotated[
    list[str] | None,
    typer.Option("--origin", help="A site origin the widget may run on, e.g. https://help.example.com (repeat it)."),
]


def _ring() -> KeyRing:
    from deflect.wiring import build_store

    return KeyRing(build_store(_settings()))


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


def _view(record: KeyRecord) -> dict[str, object]:
    return record.model_dump(mode="json", exclude={"secret_hash"}) | {"active": record.active}


def _print_issued(issued: Issued, as_json: bool) -> None:
    if as_json:
        print(json.dumps(_view(issued.record) | {"secret": issued.secret}, indent=2))
        return
    what = "widget id" if issued.record.role is None else f"{issued.record.role.value} API key"
    out.print(f"{what} {issued.record.id} ({escape(issued.record.label)}):")
    print(issued.secret)  # plain, on its own line, for copying and for scripts
    err.print("Store it now: deflect keeps only its hash and cannot show it again.", style="yellow")


@keys_app.command("create")
def create(
    role: Annotated[Role, typer.Option(help="customer, agent or admin.")],
    label: Annotated[str, typer.Option(help="Who or what holds it, e.g. 'help center backend'.")],
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Create an API key with a role; prints its secret once."""
    with _errors():
        issued = _ring().create(role, label, _actor(actor))
    _print_issued(issued, as_json)


@keys_app.command("create-widget")
def create_widget(
    label: Annotated[str, typer.Option(help="The site, e.g. 'docs.example.com'.")],
    origin: Origin = None,
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Create a widget id for some site origins (none: it works nowhere until `deflect keys origins`)."""
    with _errors():
        issued = _ring().create_widget(label, origin or [], _actor(actor))
    _print_issued(issued, as_json)
    if not issued.record.origins and not as_json:
        err.print("No origins: the widget is refused everywhere until you add some.", style="yellow")


@keys_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Also revoked keys.")] = False,
    as_json: Json = False,
) -> None:
    """Keys and widget ids, oldest first (no secrets: they are not stored)."""
    with _errors():
        found = _ring().list(include_revoked=all_)
    if as_json:
        print(json.dumps([_view(k) for k in found], indent=2))
        return
    table = Table(title=f"{len(found)} keys")
    for col in ("id", "kind", "role", "label", "hint", "origins", "created", "state"):
        table.add_column(col, no_wrap=col in {"id", "hint"})  # ids are what the other commands take: keep whole
    for k in found:
        state = "active" if k.active else f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "revoked"
        table.add_row(
            k.id,
            k.kind.value,
            k.role.value if k.role else "",
            escape(k.label),
            k.hint + "…",
            " ".join(k.origins),
            f"{k.created_at:%Y-%m-%d %H:%M}",
            state,
        )
    out.print(table)


@keys_app.command("rotate")
def rotate(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_...), from `deflect keys list`.")],
    actor: Actor = None,
    as_json: Json = False,
) -> None:
    """Give a key a new secret (printed once); the old secret is refused at once."""
    with _errors():
        issued = _ring().rotate(key_id, _actor(actor))
    _print_issued(issued, as_json)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_...), from `deflect keys list`.")],
    actor: Actor = None,
) -> None:
    """Refuse a key from now on, in every server process."""
    with _errors():
        record = _ring().revoke(key_id, _actor(actor))
    out.print(f"{record.id} ({escape(record.label)}) revoked at {record.revoked_at:%Y-%m-%d %H:%M:%S} UTC")


@keys_app.command("origins")
def origins(
    key_id: Annotated[str, typer.Argument(help="The widget's id (key_...), from `deflect keys list`.")],
    origin: Origin = None,
    clear: Annotated[bool, typer.Option("--clear", help="Allow no origin at all.")] = False,
    actor: Actor = None,
) -> None:
    """Replace a widget id's allowed origins."""
    if not origin and not clear:
        err.print("[red]error[/red] (validation_failed): give --origin (one or more) or --clear")
        raise typer.Exit(2)
    with _errors():
        record = _ring().set_origins(key_id, [] if clear else origin or [], _actor(actor))
    out.print(f"{record.id} may run on: {' '.join(record.origins) or '(nowhere)'}")
