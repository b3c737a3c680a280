"""A customer asks a public article's own title: it should be answered, citing that article first.

The cheapest sanity check of confidence on a KB: if deflect cannot answer its own headlines, it is too timid."""

from __future__ import annotations

from deflect.domain.models import Audience, Decision
from deflect.service import DeflectService


def titles_answered(service: DeflectService) -> dict[str, float | int | None]:
    """Share of public article titles that, asked verbatim as a customer, are answered citing their own article."""
    titles = {
        c.source_id: c.title for c in service.index.chunks(frozenset({"public"})) if c.kind == "article" and c.title
    }
    own = 0
    for source_id, title in sorted(titles.items()):
        result = service.ask(title, Audience.CUSTOMER)
        if result.decision is Decision.ANSWER and result.citations and result.citations[0].source_id == source_id:
            own += 1
    return {"titles_asked": len(titles), "titles_answered_own": own / len(titles) if titles else None}
