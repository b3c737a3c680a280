"""The Zendesk app zip: what Zendesk's upload reads (manifest.json at the root, translations, logos), pointing at the
deflect address given, and refused when that address could not work in Zendesk's https page."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from deflect.errors import ValidationFailed
from deflect.web.zendesk_app import build, panel_url


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_the_zip_holds_the_app_at_its_root_pointing_at_the_address_given() -> None:
    files = unzip(build("https://help.acme.example/deflect/", "Acme Support", "support@acme.example"))

    assert set(files) == {"manifest.json", "translations/en.json", "assets/logo.png", "assets/logo-small.png"}
    manifest = json.loads(files["manifest.json"])
    sidebar = manifest["location"]["support"]["ticket_sidebar"]
    assert sidebar["url"] == "https://help.acme.example/deflect/panel?host=zendesk"
    assert manifest["author"]["name"] == "Acme Support" and manifest["author"]["email"] == "support@acme.example"
    assert manifest["private"] is True and manifest["frameworkVersion"] == "2.0"
    instructions = json.loads(files["translations/en.json"])["app"]["installation_instructions"]
    assert "https://help.acme.example/deflect/panel" in instructions and "deflect.example" not in instructions
    assert files["assets/logo.png"].startswith(b"\x89PNG") and files["assets/logo-small.png"].startswith(b"\x89PNG")


@pytest.mark.parametrize("url", ["http://localhost:8080", "http://127.0.0.1:8080/"])
def test_http_is_taken_for_a_deflect_on_the_agent_s_own_machine(url: str) -> None:
    assert panel_url(url).startswith("http://") and panel_url(url).endswith(":8080/panel?host=zendesk")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://deflect.acme.example", "not_https"),
        ("deflect.acme.example", "not_a_url"),
        ("ftp://deflect.acme.example", "not_a_url"),
        ("https://", "not_a_url"),
        ("https://deflect.acme.example/?host=zendesk", "has_query"),
    ],
)
def test_an_address_zendesk_could_not_frame_is_refused(url: str, problem: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build(url, "a", "b@c.example")
    assert caught.value.details[0]["problem"] == problem
