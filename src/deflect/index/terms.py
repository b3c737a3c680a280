"""The terms keyword search matches on: words of two or more letters or digits, lower-cased, English stop words
dropped, Snowball-stemmed (so "resetting" meets "reset").

Every keyword index stores these terms and queries with them, so SQLite and PostgreSQL match the same words and
rank the same way the former bm25s index did (same token pattern, stop words and stemmer).
"""

from __future__ import annotations

import re
import threading

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_STOP = frozenset(STOPWORDS_EN)


_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    # A Stemmer keeps a cache and is not safe to share between threads: one per thread.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def terms(text: str) -> list[str]:
    """The stemmed terms of `text`, in order, repeats kept (term frequency counts)."""
    words = [w for w in _TOKEN.findall(text.lower()) if w not in _STOP]
    return list(_stemmer().stemWords(words)) if words else []


def query_terms(text: str) -> list[str]:
    """The distinct stemmed terms of a query, in order of first appearance."""
    return list(dict.fromkeys(terms(text)))
