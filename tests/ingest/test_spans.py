"""Finding a link's sentence (plain text) in a chunk (Markdown), and embedding sentences with the chunks."""

from __future__ import annotations

from collections.abc import Sequence

from deflect.ingest.spans import Letters, embed_with_sentences, locate
from deflect.testing import HashEmbedder


def test_a_sentence_is_found_through_the_chunks_markdown() -> None:
    chunk = "# Locking\n\nFrob waits. You can change *how long* with `frob_set_timeout()`.\n\nRetries follow."
    start, end = Letters(chunk).find("You can change how long with frob_set_timeout() .")  # type: ignore[misc]
    assert chunk[start:end] == "You can change *how long* with `frob_set_timeout"
    assert Letters(chunk).find("Retries  follow.") == (chunk.index("Retries"), chunk.index("follow") + 6)


def test_a_markdown_links_target_is_not_part_of_the_text() -> None:
    chunk = 'See [the timeout page](timeouts.md#set "Timeouts") for details. Then [restart](<run.md>) it.'
    span = Letters(chunk).find("See the timeout page for details.")
    assert (
        span is not None
        and chunk[span[0] : span[1]] == 'See [the timeout page](timeouts.md#set "Timeouts") for details'
    )
    assert Letters(chunk).find("Then restart it.") is not None
    assert Letters(chunk).find("timeouts md set") is None  # the target's words are not the chunk's


def test_no_span_for_a_sentence_the_text_does_not_hold() -> None:
    letters = Letters("Install frob from the archive.")
    assert letters.find("Install frob from the network.") is None
    assert letters.find("install frob") is None  # letters keep their case: the two come from one page
    assert letters.find(" ... ") is None  # nothing to find
    assert locate("from the archive", [Letters("Other."), letters]) == (1, (13, 29))


class Recording(HashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.seen.append(list(texts))
        return super().embed(texts)


class Plain:
    """An embedder that cannot pool parts of a text (as e5's)."""

    def __init__(self) -> None:
        self.inner = Recording()
        self.seen = self.inner.seen

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.inner.embed(texts)

    def embed_questions(self, texts: Sequence[str]) -> list[list[float]]:
        return self.inner.embed(texts)


SOURCES = [["Chunk one. Link here.", "Chunk one, part two."], ["Chunk two."]]
WORDS = HashEmbedder()


def test_sentences_are_pooled_from_their_sources_chunks() -> None:
    embedder = Recording()
    vectors, said = embed_with_sentences(embedder, SOURCES, {"Link here.": 0, "Not in any chunk.": 1})
    assert vectors == WORDS.embed(["Chunk one. Link here.", "Chunk one, part two.", "Chunk two."])
    assert said["Link here."] == WORDS.embed(["Link here"])[0]
    assert said["Not in any chunk."] == WORDS.embed(["Not in any chunk."])[0]
    # One call: the chunks, and the sentence no chunk holds embedded alone beside them.
    assert embedder.seen == [[*SOURCES[0], *SOURCES[1], "Not in any chunk."]]


def test_a_sentence_is_looked_for_only_in_its_own_sources_chunks() -> None:
    embedder = Recording()
    _, said = embed_with_sentences(embedder, SOURCES, {"Link here.": 1})
    assert embedder.seen[-1][-1] == "Link here."  # source 1 does not hold it: embedded alone


def test_without_the_texts_vectors_only_the_chunks_holding_a_sentence_are_embedded() -> None:
    embedder = Recording()
    vectors, said = embed_with_sentences(embedder, SOURCES, {"Link here.": 0}, texts_wanted=False)
    assert vectors == [] and embedder.seen == [["Chunk one. Link here."]] and set(said) == {"Link here."}


def test_a_span_the_model_cannot_read_is_embedded_alone_after() -> None:
    class Truncating(Recording):
        def embed_spans(self, texts, spans):  # type: ignore[no-untyped-def]
            vectors, _ = super().embed_spans(texts, spans)
            return vectors, [[None for _ in wanted] for wanted in spans]

    embedder = Truncating()
    _, said = embed_with_sentences(embedder, SOURCES, {"Link here.": 0})
    assert embedder.seen[-1] == ["Link here."] and said["Link here."] == WORDS.embed(["Link here."])[0]


def test_an_embedder_that_cannot_pool_embeds_the_sentences_in_the_same_call() -> None:
    embedder = Plain()
    vectors, said = embed_with_sentences(embedder, SOURCES, {"Link here.": 0})
    assert len(vectors) == 3 and embedder.seen == [[*SOURCES[0], *SOURCES[1], "Link here."]]
    assert said["Link here."] == WORDS.embed(["Link here."])[0]
    embedder.seen.clear()
    vectors, said = embed_with_sentences(embedder, SOURCES, {"Link here.": 0}, texts_wanted=False)
    assert vectors == [] and embedder.seen == [["Link here."]]
