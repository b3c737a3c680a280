import gc
import threading

from deflect.ingest.collector import fewer_collections


def test_settings_restored_and_objects_unfrozen_after_the_parse() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() != before
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_nested_and_concurrent_parses_share_one_pause() -> None:
    before = gc.get_threshold()
    inside = threading.Event()
    release = threading.Event()

    def other() -> None:
        with fewer_collections():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=other)
    with fewer_collections():
        worker.start()
        assert inside.wait(5)
        with fewer_collections():
            pass
        assert gc.get_threshold() != before  # the other parse is still running
    assert gc.get_threshold() != before
    release.set()
    worker.join(5)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_garbage_frozen_during_the_parse_is_collected_after_it() -> None:
    import weakref

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    del a, b  # a cycle: only the collector frees it, and it is alive (frozen) when the parse starts
    with fewer_collections():
        gc.collect()
        assert ref() is not None  # frozen: not walked while pages are parsed
    gc.collect()
    assert ref() is None
