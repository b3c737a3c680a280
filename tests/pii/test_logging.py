"""PiiLogFilter: what reaches a handler has been scrubbed, whatever the logger was given."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from deflect.pii import PiiLogFilter


@pytest.fixture
def log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(PiiLogFilter(names=("Jane Doe",)))
    logger = logging.getLogger("deflect.test.pii")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_message_and_args_are_scrubbed(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log

    logger.info("resolved for %s <%s> from %s", "Jane Doe", "jane@example.com", "203.0.113.5")

    assert stream.getvalue() == "INFO resolved for [NAME] <[EMAIL]> from [IP]\n"


def test_data_split_between_format_and_args_is_found(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log

    logger.warning("contact %s@%s", "jane", "example.com")
    logger.warning("card %d", 4111111111111111)

    assert stream.getvalue() == "WARNING contact [EMAIL]\nWARNING card [CARD]\n"


def test_clean_records_keep_their_args() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d boards in %s", (3, "ws_42"), None)

    assert PiiLogFilter().filter(record) is True
    assert record.msg == "%d boards in %s" and record.args == (3, "ws_42")


def test_exception_text_is_scrubbed(log: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log

    try:
        raise ValueError("bad key qv_live_7Hd92KsLq0Pz4WmX8Rt3Vb for jane@example.com")
    except ValueError:
        logger.exception("webhook failed")

    output = stream.getvalue()
    assert "ValueError: bad key [API_KEY] for [EMAIL]" in output
    assert "qv_live_7Hd" not in output and "jane@" not in output


def test_a_malformed_call_is_kept_and_its_pieces_scrubbed() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s and %s for jane@example.com", ("one",), None)

    assert PiiLogFilter().filter(record) is True
    assert record.msg == "%s and %s for [EMAIL]"
    assert record.args == ("one",)


def test_stack_info_is_scrubbed() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None, sinfo="Stack: jane@example.com")

    PiiLogFilter().filter(record)

    assert record.stack_info == "Stack: [EMAIL]"
