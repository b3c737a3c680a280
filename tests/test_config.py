"""Settings: safe defaults in development, unsafe ones refused, env parsing; the calibration file's errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from deflect.answer.confidence import Calibration
from deflect.config import (
    DEV_AGENT_KEY,
    DEV_CUSTOMER_KEY,
    DEV_WIDGET_ID,
    MASK,
    PORT_RANGE,
    SECRET,
    TARGET_RISK_RANGE,
    Settings,
    hide_password,
)
from deflect.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No DEFLECT_* variable or `.env` file from the developer's machine leaks into these tests."""
    for name in list(os.environ):
        if name.startswith("DEFLECT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def load(**kwargs: object) -> Settings:
    return Settings(_env_file=None, **kwargs)  # type: ignore[call-arg]


def test_defaults_are_valid_in_development() -> None:
    settings = load()

    assert settings.env == "development"
    assert settings.customer_api_keys == [DEV_CUSTOMER_KEY]
    assert settings.agent_api_keys == [DEV_AGENT_KEY]
    assert settings.chunk_overlap < settings.chunk_size
    assert settings.max_question_chars == 2000
    assert settings.chroma_path == Path(".data") / "chroma"


def test_the_development_widget_is_allowed_on_the_port_served(monkeypatch: pytest.MonkeyPatch) -> None:
    # /demo embeds the development widget from its own origin: an origin on another port is refused (403).
    assert load(port=9123).widgets == {DEV_WIDGET_ID: ["http://localhost:9123", "http://127.0.0.1:9123"]}
    monkeypatch.setenv("DEFLECT_PORT", "8137")
    assert Settings(_env_file=None).widgets[DEV_WIDGET_ID] == ["http://localhost:8137", "http://127.0.0.1:8137"]  # type: ignore[call-arg]
    mine = {"wid_shop": ["https://shop.example"]}
    assert load(port=9123, widgets=mine).widgets == mine  # configured widgets are kept as they are


def test_the_env_file_is_read_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DEFLECT_PORT=9999\n", encoding="utf-8")

    assert Settings().port == 9999


def test_production_refuses_the_development_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFLECT_ENV", "production")

    with pytest.raises(ValidationError, match="development API keys"):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "keys",
    [
        {"customer_api_keys": ["prod-c"]},  # agent key left at the dev default
        {"agent_api_keys": ["prod-a"]},  # customer key left at the dev default
        {"customer_api_keys": ["prod-c", DEV_CUSTOMER_KEY], "agent_api_keys": ["prod-a"]},
        {"customer_api_keys": ["prod-c"], "agent_api_keys": [DEV_CUSTOMER_KEY]},
    ],
    ids=["dev-agent", "dev-customer", "dev-among-others", "dev-key-in-other-list"],
)
def test_production_refuses_any_development_key(keys: dict[str, list[str]]) -> None:
    with pytest.raises(ValidationError, match="development API keys"):
        load(env="production", **keys)


def test_production_accepts_its_own_keys() -> None:
    settings = load(
        env="production", customer_api_keys=["prod-c"], agent_api_keys=["prod-a"], admin_api_keys=["prod-x"]
    )

    assert settings.env == "production"


def test_comma_separated_keys_from_env_parse_to_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFLECT_AGENT_API_KEYS", "agent-one, agent-two,,agent-three ,")
    monkeypatch.setenv("DEFLECT_CUSTOMER_API_KEYS", "cust-one")

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.agent_api_keys == ["agent-one", "agent-two", "agent-three"]
    assert settings.customer_api_keys == ["cust-one"]


def test_env_vars_set_other_fields(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEFLECT_KB_DIR", str(tmp_path / "kb"))
    monkeypatch.setenv("DEFLECT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DEFLECT_CHUNK_SIZE", "120")

    settings = Settings(_env_file=None)  # type: ignore[call-arg]

    assert settings.kb_dir == tmp_path / "kb"
    assert settings.chroma_path == tmp_path / "data" / "chroma"
    assert settings.chunk_size == 120


@pytest.mark.parametrize(
    ("customer", "agent"),
    [(["shared"], ["shared"]), (["c1", "shared"], ["shared", "a1"])],
    ids=["only-key", "among-others"],
)
def test_a_key_in_both_lists_is_refused(customer: list[str], agent: list[str]) -> None:
    with pytest.raises(ValidationError, match="only one role"):
        load(customer_api_keys=customer, agent_api_keys=agent)


def test_a_key_in_both_lists_from_env_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFLECT_CUSTOMER_API_KEYS", "c1,shared")
    monkeypatch.setenv("DEFLECT_AGENT_API_KEYS", "shared")

    with pytest.raises(ValidationError, match="only one role"):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(("size", "overlap"), [(200, 200), (100, 150)], ids=["equal", "larger"])
def test_chunk_overlap_must_be_smaller_than_chunk_size(size: int, overlap: int) -> None:
    with pytest.raises(ValidationError, match="chunk_overlap must be smaller than chunk_size"):
        load(chunk_size=size, chunk_overlap=overlap)


def test_chunk_overlap_just_below_chunk_size_is_accepted() -> None:
    assert load(chunk_size=100, chunk_overlap=99).chunk_overlap == 99


@pytest.mark.parametrize(
    "bad",
    [
        {"env": "staging"},
        {"chunk_size": 10},
        {"fusion_bm25_weight": 1.5},
        {"answer_max_sources": 0},
        {"generator": "gpt"},
        {"chroma_mode": "cloud"},
        {"confidence_threshold": 1.2},
        {"max_question_chars": 0},
    ],
    ids=lambda bad: next(iter(bad)),
)
def test_out_of_range_values_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        load(**bad)


def test_bad_settings_are_one_config_error_line_each_naming_the_variable_and_where_it_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "deflect.env").write_text("DEFLECT_ANCHOR_WEIGHT=lots\nDEFLECT_CHUNK_SIZE=300\n", encoding="utf-8")
    monkeypatch.setenv("DEFLECT_CHUNK_SIZE", "abc")  # the environment overrides the file

    with pytest.raises(ConfigError) as caught:
        Settings.load(tmp_path)

    lines = caught.value.message.splitlines()
    assert len(lines) == 2
    size = next(line for line in lines if line.startswith("DEFLECT_CHUNK_SIZE:"))
    weight = next(line for line in lines if line.startswith(f"DEFLECT_ANCHOR_WEIGHT (in {tmp_path / 'deflect.env'}):"))
    assert "valid integer" in size and "'abc'" in size
    assert "valid number" in weight and "'lots'" in weight


def test_a_setting_that_is_not_json_is_a_config_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFLECT_WIDGETS", "wid_a")

    with pytest.raises(ConfigError, match=r"^DEFLECT_WIDGETS: not valid JSON"):
        Settings.load()


def test_a_rule_across_settings_is_reported_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFLECT_CHUNK_OVERLAP", "300")

    with pytest.raises(ConfigError, match=r"^invalid settings: chunk_overlap must be smaller than chunk_size$"):
        Settings.load()


@pytest.mark.parametrize("field", ["port", "chroma_port"])
def test_a_port_is_a_tcp_port(field: str) -> None:
    low, high = PORT_RANGE
    assert (low, high) == (1, 65535)
    assert [getattr(load(**{field: port}), field) for port in (low, high)] == [low, high]
    for port in (low - 1, high + 1, 99999):
        with pytest.raises(ValidationError):
            load(**{field: port})


def test_the_target_risk_takes_the_range_of_the_target_risk_flags() -> None:
    low, high = TARGET_RISK_RANGE
    assert [load(target_risk=risk).target_risk for risk in (low, high)] == [low, high]
    for risk in (low / 2, high + 0.01):
        with pytest.raises(ValidationError):
            load(target_risk=risk)


def test_unknown_env_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFLECT_NOT_A_SETTING", "x")

    assert Settings(_env_file=None).env == "development"  # type: ignore[call-arg]


def test_every_setting_is_documented() -> None:
    assert all(field.description for field in Settings.model_fields.values())


# --- secrets -------------------------------------------------------------------------------------------------

SECRET_LIKE = re.compile(r"key|secret|token|password|credential", re.IGNORECASE)
DATABASE_PASSWORD = "sentinel-database-password"


def secret_settings() -> list[str]:
    return [name for name, field in Settings.model_fields.items() if SECRET in field.metadata]


def with_every_secret(settings: Settings) -> tuple[Settings, list[str]]:
    """`settings` with a recognisable value in every secret setting and a password in the database URL, and those
    values (what must never be shown)."""
    values: dict[str, object] = {
        name: [f"sentinel-{name}"] if isinstance(getattr(settings, name), list) else f"sentinel-{name}"
        for name in secret_settings()
    }
    values["database_url"] = f"postgresql+psycopg://deflect:{DATABASE_PASSWORD}@127.0.0.1:1/deflect"
    shown = settings.model_dump() | values
    secrets = [f"sentinel-{name}" for name in secret_settings()] + [DATABASE_PASSWORD]
    return Settings(_env_file=None, **shown), secrets  # type: ignore[call-arg]


def test_every_secret_like_setting_is_marked_secret() -> None:
    # The guard for the next setting: named like a credential, it must carry the mark that hides it.
    named = {name for name in Settings.model_fields if SECRET_LIKE.search(name)}
    assert named
    assert named <= set(secret_settings())


def test_redacted_settings_show_no_secret_and_every_other_setting() -> None:
    settings, secrets = with_every_secret(load())
    shown = settings.redacted()
    text = repr(shown) + repr(settings) + str(settings)

    assert not [secret for secret in secrets if secret in text]
    assert set(shown) == set(Settings.model_fields)
    assert all(shown[name] == MASK for name in secret_settings())
    assert shown["database_url"] == f"postgresql+psycopg://deflect:{MASK}@127.0.0.1:1/deflect"
    assert shown["chunk_size"] == str(settings.chunk_size)


def test_unset_secrets_show_as_unset() -> None:
    shown = load(widget_identity_secret=None).redacted()

    assert shown["widget_identity_secret"] == "None"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:pw@db:5432/deflect", f"postgresql://app:{MASK}@db:5432/deflect"),
        ("postgresql://app:p%40ss@db/deflect?sslmode=require", f"postgresql://app:{MASK}@db/deflect?sslmode=require"),
        (
            "postgresql://app@db/deflect?password=pw&sslmode=require",
            f"postgresql://app@db/deflect?password={MASK}&sslmode=require",
        ),
        ("http://user:pw@127.0.0.1:11434", f"http://user:{MASK}@127.0.0.1:11434"),
        ("sqlite:////srv/deflect/deflect.db", "sqlite:////srv/deflect/deflect.db"),
        ("postgresql://app@db/deflect", "postgresql://app@db/deflect"),
        ("http://[not a url", "http://[not a url"),
    ],
)
def test_a_url_s_password_is_hidden(url: str, shown: str) -> None:
    assert hide_password(url) == shown


# --- the calibration file ----------------------------------------------------------------------------------


def test_missing_calibration_file_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "calibration.json"

    with pytest.raises(ConfigError) as caught:
        Calibration.load(path)

    assert str(path) in caught.value.message
    assert "not found" in caught.value.message
    assert "deflect calibrate" in caught.value.message
    assert caught.value.code == "config_error"


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        '{"embedder": "x"}',
        '{"embedder": "x", "weights": {}, "bias": 0, "threshold": 2, "relevance_floor": 0}',
    ],
    ids=["not-json", "not-an-object", "missing-fields", "threshold-out-of-range"],
)
def test_malformed_calibration_file_is_a_config_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "calibration.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigError, match="is invalid") as caught:
        Calibration.load(path)

    assert str(path) in caught.value.message


def test_the_shipped_calibration_file_loads() -> None:
    cal = Calibration.load(REPO / "eval" / "calibration.json")

    assert 0.0 <= cal.threshold <= 1.0
    assert set(cal.weights) == {"top_dense", "top_score", "margin", "overlap"}


def test_calibration_round_trips_through_save(tmp_path: Path) -> None:
    cal = Calibration(embedder="e", weights={"top_dense": 2.0}, bias=-1.0, threshold=0.4, relevance_floor=0.2)
    path = tmp_path / "sub" / "calibration.json"

    cal.save(path)

    assert Calibration.load(path) == cal
    assert not path.with_suffix(".tmp").exists()


@pytest.mark.parametrize("name", ["x", "ab", "-bad", "bad-", "has space", "a" * 513])
def test_invalid_chroma_collection_name_is_a_settings_error(name: str) -> None:
    with pytest.raises(ValidationError):
        Settings(chroma_collection=name, _env_file=None)  # type: ignore[call-arg]


def test_valid_chroma_collection_name_accepted() -> None:
    assert Settings(chroma_collection="kb.v2_prod-1", _env_file=None).chroma_collection == "kb.v2_prod-1"  # type: ignore[call-arg]


def test_an_admin_key_that_is_also_an_agent_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="only one role"):
        Settings(agent_api_keys=["shared"], admin_api_keys=["shared"], _env_file=None)  # type: ignore[call-arg]


def test_production_refuses_the_dev_admin_key() -> None:
    with pytest.raises(ValidationError, match="development API keys"):
        Settings(env="production", customer_api_keys=["c1"], agent_api_keys=["a1"], _env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "origin", ["https://acme.zendesk.com; script-src *", "'unsafe-inline'", "*", "acme.zendesk.com", "https://a/b"]
)
def test_panel_origins_are_origins_not_csp_text(origin: str) -> None:
    # They are written into the panel's CSP frame-ancestors: anything else could rewrite the policy.
    with pytest.raises(ValidationError):
        Settings(panel_origins=[origin], _env_file=None)  # type: ignore[call-arg]


def test_panel_origins_accept_hosts_ports_and_subdomain_wildcards() -> None:
    origins = ["https://acme.zendesk.com", "http://localhost:3000", "https://*.zendesk.com"]
    assert Settings(panel_origins=origins, _env_file=None).panel_origins == origins  # type: ignore[call-arg]


def test_the_product_name_is_the_setting_when_set(tmp_path: Path) -> None:
    assert load(product_name="  Acme   Cloud ", kb_dir=tmp_path / "fish" / "html").product == "Acme Cloud"


def test_a_project_names_its_product_after_its_folder(tmp_path: Path) -> None:
    (tmp_path / "lanterns").mkdir()
    (tmp_path / "lanterns" / "deflect.env").write_text("DEFLECT_KB_DIR=kb\n", encoding="utf-8")
    assert Settings.load(tmp_path / "lanterns").product == "lanterns"


@pytest.mark.parametrize(
    ("kb_dir", "product"),
    [
        ("/usr/share/doc/fish/html", "fish"),  # a tool's HTML manual: the folder names the format, its parent the tool
        ("/srv/docs/borg/docs/_build/html", "borg"),
        ("/srv/acme-help", "acme-help"),
        ("/kb", "kb"),  # nothing but generic names: the KB folder's own
    ],
)
def test_outside_a_project_the_product_is_named_after_the_kb_folder(kb_dir: str, product: str) -> None:
    assert load(kb_dir=Path(kb_dir)).product == product


def test_a_relative_kb_folder_named_kb_takes_the_working_directory_s_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "quarry").mkdir()
    monkeypatch.chdir(tmp_path / "quarry")
    assert load().product == "quarry"


def test_the_product_name_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEFLECT_PRODUCT_NAME", "Quiverly")
    assert Settings(_env_file=None).product == "Quiverly"  # type: ignore[call-arg]


def test_an_overlong_product_name_is_refused() -> None:
    with pytest.raises(ValidationError):
        load(product_name="x" * 101)
