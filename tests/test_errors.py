"""Every error path renders the one shape {"error": {"code", "message", "details"}} with the right status."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from conftest import FAKE_CALIBRATION
from deflect import errors
from deflect.api import create_app
from deflect.config import DEV_CUSTOMER_KEY, Settings
from deflect.domain.models import Answer, SourceHit
from deflect.errors import DeflectError, SourceError
from deflect.service import DeflectService
from deflect.testing import HashEmbedder, InMemoryIndex
from deflect.wiring import assemble

CUSTOMER = {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"}
ANSWERABLE = "How do I reset my password?"
SECRET = "secret-internal-detail-4242"

ERROR_CLASSES = sorted(
    (cls for _, cls in inspect.getmembers(errors, inspect.isclass) if issubclass(cls, DeflectError)),
    key=lambda cls: cls.__name__,
)


def make_error(cls: type[DeflectError]) -> DeflectError:
    if cls is SourceError:
        return SourceError("articles/broken.md", "bad front matter", 3)
    return cls("something went wrong", [{"field": "x"}])


@pytest.fixture
def client(settings: Settings, service: DeflectService) -> TestClient:
    return TestClient(create_app(settings, service))


def assert_error(response: Response, status: int, code: str) -> dict[str, Any]:
    """The response is exactly the one error shape with this status and code; returns the error object."""
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    assert "Traceback" not in response.text
    return error


# --- the error family -------------------------------------------------------------------------------------


def test_the_error_family_is_all_found() -> None:
    names = {cls.__name__ for cls in ERROR_CLASSES}
    assert {
        "DeflectError",
        "ValidationFailed",
        "Unauthorized",
        "NotFound",
        "ConfigError",
        "SourceError",
        "IndexUnavailable",
        "GeneratorUnavailable",
    } <= names


def test_every_error_class_has_a_distinct_code() -> None:
    codes = [cls.code for cls in ERROR_CLASSES]
    assert len(codes) == len(set(codes)), codes


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_class_has_a_code_and_an_http_status(cls: type[DeflectError]) -> None:
    assert isinstance(cls.code, str) and cls.code
    assert isinstance(cls.status, int) and 400 <= cls.status <= 599
    # Each subclass states its own code rather than inheriting internal_error by accident.
    if cls is not DeflectError:
        assert "code" in vars(cls) and "status" in vars(cls)


def test_source_error_names_path_and_line() -> None:
    exc = SourceError("articles/broken.md", "bad front matter", 3)

    assert exc.message == "articles/broken.md:3: bad front matter"
    assert exc.details == [{"path": "articles/broken.md", "line": 3}]
    assert SourceError("a.md", "empty file").message == "a.md: empty file"


# --- authentication ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}, {"X-API-Key": ""}],
    ids=["none", "basic-scheme", "empty-bearer", "empty-x-api-key"],
)
def test_missing_key_is_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/v1/ask", json={"question": ANSWERABLE}, headers=headers)

    error = assert_error(response, 401, "unauthorized")
    assert "missing" in error["message"]
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer not-a-key"}, {"X-API-Key": "not-a-key"}],
    ids=["bearer", "x-api-key"],
)
def test_unknown_key_is_401_with_www_authenticate(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/v1/ask", json={"question": ANSWERABLE}, headers=headers)

    error = assert_error(response, 401, "unauthorized")
    assert "unknown" in error["message"]
    assert "not-a-key" not in response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"


# --- request validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"question": ""}, "empty"),
        ({"question": "   \n\t "}, "empty"),
        ({"question": "x" * 2001}, "too_long"),
        ({"question": "  " + "x" * 2001 + "  "}, "too_long"),
    ],
    ids=["empty", "whitespace-only", "2001-chars", "2001-chars-padded"],
)
def test_unacceptable_question_text_is_422(client: TestClient, payload: dict[str, object], problem: str) -> None:
    response = client.post("/v1/ask", json=payload, headers=CUSTOMER)

    error = assert_error(response, 422, "validation_failed")
    assert error["details"][0]["field"] == "question"
    assert error["details"][0]["problem"] == problem


@pytest.mark.parametrize("question", ["x" * 2000, "  " + "x" * 2000 + "  "], ids=["2000-chars", "2000-chars-padded"])
def test_a_2000_character_question_is_accepted(client: TestClient, question: str) -> None:
    response = client.post("/v1/ask", json={"question": question}, headers=CUSTOMER)

    assert response.status_code == 200
    assert response.json()["question"] == "x" * 2000


def test_the_question_limit_comes_from_settings(settings: Settings) -> None:
    short = settings.model_copy(update={"max_question_chars": 10})
    service = assemble(short, InMemoryIndex(), HashEmbedder(), calibration=FAKE_CALIBRATION)
    service.ingest([short.kb_dir], short.kb_dir)
    client = TestClient(create_app(short, service))

    assert client.post("/v1/ask", json={"question": "x" * 10}, headers=CUSTOMER).status_code == 200
    assert_error(client.post("/v1/ask", json={"question": "x" * 11}, headers=CUSTOMER), 422, "validation_failed")


@pytest.mark.parametrize(
    "payload",
    [
        {"question": 42},
        {"question": 4.2},
        {"question": ["how", "do", "I"]},
        {"question": None},
        {"question": {"text": "hi"}},
        {"question": True},
        {},
        {"conversation_id": "thread-1"},
        {"question": ANSWERABLE, "audience": "agent"},
        {"question": ANSWERABLE, "extra": 1},
        {"question": ANSWERABLE, "conversation_id": 7},
        {"question": ANSWERABLE, "conversation_id": "c" * 201},
        [ANSWERABLE],
        ANSWERABLE,
    ],
    ids=[
        "int",
        "float",
        "list",
        "null",
        "object",
        "bool",
        "empty-body",
        "missing-question",
        "audience-field",
        "extra-field",
        "non-string-conversation-id",
        "long-conversation-id",
        "array-body",
        "string-body",
    ],
)
def test_invalid_body_is_422_in_the_error_shape(client: TestClient, payload: object) -> None:
    response = client.post("/v1/ask", json=payload, headers=CUSTOMER)

    error = assert_error(response, 422, "validation_failed")
    assert error["details"], "validation errors say what was wrong"
    for detail in error["details"]:
        assert set(detail) == {"field", "problem", "message"}


@pytest.mark.parametrize("field", ["question", "audience"])
def test_validation_details_name_the_field(client: TestClient, field: str) -> None:
    payload = {"question": 42} if field == "question" else {"question": ANSWERABLE, "audience": "agent"}

    error = assert_error(client.post("/v1/ask", json=payload, headers=CUSTOMER), 422, "validation_failed")

    assert [d["field"] for d in error["details"]] == [field]


@pytest.mark.parametrize(
    "content",
    [b'{"question": "hi"', b"not json at all", b"", b'{"question": "a"}}'],
    ids=["truncated", "not-json", "empty", "trailing-brace"],
)
def test_malformed_json_is_422(client: TestClient, content: bytes) -> None:
    response = client.post("/v1/ask", content=content, headers={**CUSTOMER, "Content-Type": "application/json"})

    assert_error(response, 422, "validation_failed")


# --- routing ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/v1/asks", "/v2/ask"])
def test_unknown_route_is_404(client: TestClient, path: str) -> None:
    assert_error(client.get(path, headers=CUSTOMER), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/ask"), ("PUT", "/v1/ask"), ("POST", "/healthz"), ("DELETE", "/readyz")]
)
def test_wrong_method_is_405(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, headers=CUSTOMER)

    assert_error(response, 405, "method_not_allowed")
    assert method not in response.headers["Allow"]


# --- failures inside the service --------------------------------------------------------------------------


class ExplodingGenerator:
    name = "exploding"

    def generate(self, question: str, sources: Sequence[SourceHit]) -> Answer:
        raise RuntimeError(f"generator blew up: {SECRET}")


class ExplodingIndex(InMemoryIndex):
    """Ingests normally, then fails on every search."""

    def query(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"index blew up: {SECRET}")


class RaisingGenerator:
    """Raises one chosen DeflectError."""

    name = "raising"

    def __init__(self, exc: DeflectError) -> None:
        self.exc = exc

    def generate(self, question: str, sources: Sequence[SourceHit]) -> Answer:
        raise self.exc


def test_unexpected_exception_is_500_internal_error_without_leaking(
    settings: Settings, make_service: Callable[..., DeflectService], caplog: pytest.LogCaptureFixture
) -> None:
    service = make_service(generator=ExplodingGenerator())
    client = TestClient(create_app(settings, service), raise_server_exceptions=False)

    response = client.post("/v1/ask", json={"question": ANSWERABLE}, headers=CUSTOMER)

    error = assert_error(response, 500, "internal_error")
    assert error["details"] == []
    for leak in (SECRET, "RuntimeError", "blew up", "Traceback", 'File "'):
        assert leak not in response.text
    # The operator still gets the exception in the log.
    assert any(r.exc_info and SECRET in str(r.exc_info[1]) for r in caplog.records)


def test_an_exploding_index_hands_off_without_leaking(
    settings: Settings, make_service: Callable[..., DeflectService], caplog: pytest.LogCaptureFixture
) -> None:
    # An index failure is an outage, not a bug to show: the ask escalates (tests/api/test_degraded.py).
    client = TestClient(create_app(settings, make_service(index=ExplodingIndex())), raise_server_exceptions=False)

    response = client.post("/v1/ask", json={"question": ANSWERABLE}, headers=CUSTOMER)

    assert response.status_code == 200
    assert response.json()["reasons"] == ["index_unavailable"]
    for leak in (SECRET, "RuntimeError", "blew up", "Traceback", 'File "'):
        assert leak not in response.text
    assert any(SECRET in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_each_deflect_error_renders_with_its_own_status_and_code(
    settings: Settings, make_service: Callable[..., DeflectService], cls: type[DeflectError]
) -> None:
    exc = make_error(cls)
    client = TestClient(
        create_app(settings, make_service(generator=RaisingGenerator(exc))), raise_server_exceptions=False
    )

    response = client.post("/v1/ask", json={"question": ANSWERABLE}, headers=CUSTOMER)

    error = assert_error(response, cls.status, cls.code)
    assert error["message"] == exc.message
    assert error["details"] == json.loads(json.dumps(exc.details))
    assert ("WWW-Authenticate" in response.headers) == (cls.status == 401)


def test_missing_calibration_is_a_config_error_not_a_crash(settings: Settings, tmp_path: Path) -> None:
    broken = settings.model_copy(update={"calibration_file": tmp_path / "missing.json"})
    service = assemble(broken, InMemoryIndex(), HashEmbedder())
    service.ingest([settings.kb_dir], settings.kb_dir)
    client = TestClient(create_app(broken, service), raise_server_exceptions=False)

    error = assert_error(client.post("/v1/ask", json={"question": ANSWERABLE}, headers=CUSTOMER), 500, "config_error")
    assert "missing.json" in error["message"]
