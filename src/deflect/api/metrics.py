"""GET /metrics in Prometheus' text format (prometheus-client): request latency per route, decisions by reason,
escalations by priority, escalations customers withdrew because a page solved them, retrieval stage times
(embedding, dense, keyword), index and keyword-index size, knowledge waiting to be indexed, the answer threshold and
how many desk questions its calibration was fitted on.

Each app has its own registry (no process-wide globals: tests build many apps). Counts are per process; several
workers behind one address would each report their own (Prometheus' multiprocess mode is not set up here).
/metrics needs no key, like /healthz: it carries counts, never questions or answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deflect.domain.escalation import OTHER_PAGE, Escalation
from deflect.domain.models import AskResult
from deflect.service import DeflectService

log = logging.getLogger(__name__)

# Asks take tens of milliseconds to a few seconds (a model on two cores); the defaults stop at 10 s.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Sizes(Collector):
    """Gauges read at scrape time: chunks in the vector and keyword indexes, resolutions waiting to be indexed.
    A part that fails is left out of that scrape (an absent series, not a made-up zero)."""

    def __init__(self, svc: DeflectService) -> None:
        self._svc = svc

    def collect(self) -> Iterator[GaugeMetricFamily]:
        readers = {
            "deflect_index_chunks": ("Chunks in the vector index.", self._svc.index.count),
            "deflect_keyword_chunks": ("Chunks in the keyword index.", self._keyword_count),
            "deflect_answer_threshold": ("The answer threshold in force.", lambda: self._svc.rules.answer_threshold),
            "deflect_calibration_traffic_cases": (
                "Desk questions labelled by votes or resolutions that the calibration in force was fitted on.",
                lambda: self._svc.calibration.notes.get("traffic_cases"),
            ),
            "deflect_knowledge_pending": (
                "Resolutions not yet searchable (up to 1000 counted).",
                lambda: len(self._svc.desk.store.pending_knowledge(limit=1000)),
            ),
        }
        for name, (doc, read) in readers.items():
            try:
                value = read()
            except Exception as exc:  # a scrape must not fail because one part is down
                log.warning("metrics: %s unavailable: %s", name, exc)
                continue
            if isinstance(value, int | float):  # a calibration note could be text: not a gauge's value
                yield GaugeMetricFamily(name, doc, value=float(value))

    def _keyword_count(self) -> int | None:
        keyword = self._svc.retriever.keyword
        return keyword.count() if keyword is not None else None


class _Timing:
    """ASGI middleware: one latency observation per HTTP request, labelled by route template (not raw path, so
    ids do not explode the series), method and status."""

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self._histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            self._histogram.labels(
                route=getattr(route, "path", "unmatched"), method=scope["method"], status=str(status)
            ).observe(time.perf_counter() - started)


def install_metrics(app: FastAPI, svc: DeflectService) -> CollectorRegistry:
    """Add the timing middleware, count every ask's decision, and serve GET /metrics; the app's registry."""
    registry = CollectorRegistry()
    latency = Histogram(
        "deflect_request_duration_seconds",
        "HTTP request latency by route template, method and status.",
        ["route", "method", "status"],
        buckets=BUCKETS,
        registry=registry,
    )
    decisions = Counter(
        "deflect_decisions_total",
        "Ask decisions by reason (`answered` for an answer; an escalation counts once per reason).",
        ["decision", "reason"],
        registry=registry,
    )
    escalations = Counter(
        "deflect_escalations_total", "Escalations created by asks, by priority.", ["priority"], registry=registry
    )
    self_served = Counter(
        "deflect_self_served_total",
        "Escalations the customer withdrew because a page solved them (deflected after escalation), by whether "
        "the page was one deflect suggested.",
        ["page"],
        registry=registry,
    )
    stages = Histogram(
        "deflect_retrieval_stage_seconds",
        "Time of each retrieval stage: question embedding, dense kNN, keyword search, anchors of the candidates.",
        ["stage"],
        buckets=BUCKETS,
        registry=registry,
    )
    registry.register(_Sizes(svc))

    def observe(result: AskResult) -> None:
        for reason in result.reasons or ["answered"]:
            decisions.labels(decision=result.decision.value, reason=reason).inc()
        if result.escalation_id:
            escalations.labels(priority=result.priority or "unknown").inc()

    def withdrawn(escalation: Escalation) -> None:
        self_served.labels(page="other" if escalation.self_served_page == OTHER_PAGE else "suggested").inc()

    svc.observers.append(observe)
    svc.desk.self_served_observers.append(withdrawn)
    svc.retriever.stage_observers.append(lambda stage, seconds: stages.labels(stage=stage).observe(seconds))
    app.add_middleware(_Timing, histogram=latency)

    @app.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return registry
