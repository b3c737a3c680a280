"""GET /metrics: Prometheus text a scraper can parse, with latency per route template, decisions by reason,
escalations by priority and index sizes that follow what the app did."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from deflect.api import create_app
from deflect.config import DEV_AGENT_KEY, DEV_CUSTOMER_KEY, Settings
from deflect.service import DeflectService

CUSTOMER = {"Authorization": f"Bearer {DEV_CUSTOMER_KEY}"}
AGENT = {"Authorization": f"Bearer {DEV_AGENT_KEY}"}


def scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_follow_asks_escalations_and_routes(settings: Settings, service: DeflectService) -> None:
    client = TestClient(create_app(settings, service))
    answered = client.post("/v1/ask", json={"question": "How do I reset my password?"}, headers=CUSTOMER).json()
    escalated = client.post("/v1/ask", json={"question": "What is the weather on Mars tomorrow?"}, headers=CUSTOMER)
    escalated = escalated.json()
    assert answered["decision"] == "answer" and escalated["decision"] == "escalate"
    assert client.get(f"/v1/escalations/{escalated['escalation_id']}", headers=AGENT).status_code == 200
    assert client.get("/no/such/page").status_code == 404

    samples = scrape(client)

    def value(name: str, **labels: str) -> float | None:
        return samples.get((name, frozenset(labels.items())))

    assert value("deflect_request_duration_seconds_count", route="/v1/ask", method="POST", status="200") == 2
    assert value("deflect_request_duration_seconds_sum", route="/v1/ask", method="POST", status="200") > 0  # type: ignore[operator]
    detail = "/v1/escalations/{escalation_id}"  # the template: ids do not become series
    assert value("deflect_request_duration_seconds_count", route=detail, method="GET", status="200") == 1
    assert value("deflect_request_duration_seconds_count", route="unmatched", method="GET", status="404") == 1
    assert value("deflect_decisions_total", decision="answer", reason="answered") == 1
    for reason in escalated["reasons"]:
        assert value("deflect_decisions_total", decision="escalate", reason=reason) == 1
    assert value("deflect_escalations_total", priority=escalated["priority"]) == 1
    assert value("deflect_index_chunks") == service.index.count() > 0
    assert value("deflect_keyword_chunks") == service.index.count()
    assert value("deflect_knowledge_pending") == 0
    assert value("deflect_answer_threshold") == service.rules.answer_threshold
    # the fixed test calibration says nothing of traffic: the series is absent rather than a made-up zero
    assert value("deflect_calibration_traffic_cases") is None
    for stage in ("embed", "dense", "keyword"):  # both asks went through each stage (fusion weight 0.1 here)
        assert value("deflect_retrieval_stage_seconds_count", stage=stage) >= 2  # type: ignore[operator]
    assert not any("Mars" in str(key) for key in samples)  # counts only, never the questions


def test_each_app_counts_its_own_requests(settings: Settings, service: DeflectService) -> None:
    first, second = TestClient(create_app(settings, service)), TestClient(create_app(settings, service))
    first.post("/v1/ask", json={"question": "How do I reset my password?"}, headers=CUSTOMER)

    key = (
        "deflect_request_duration_seconds_count",
        frozenset({"route": "/v1/ask", "method": "POST", "status": "200"}.items()),
    )
    assert scrape(first)[key] == 1
    assert key not in scrape(second)
