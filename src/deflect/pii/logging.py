"""A logging filter that scrubs personal data and secrets from records before any handler writes them.

Install it on the handlers (a filter on a logger sees only records logged on that very logger, not those that
propagate to it from child loggers):

    for handler in logging.getLogger().handlers:
        handler.addFilter(PiiLogFilter())
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from deflect.pii.scrubber import scrub


class PiiLogFilter(logging.Filter):
    """Replaces a record's message (with its args merged in), exception text and stack with their scrubbed text.

    The message is scrubbed after `%`-formatting, so data split between the format string and its args (say
    `"%s@%s"`) is still found; when anything is found, `args` are dropped and `msg` holds the scrubbed text.
    The filter never drops a record.
    """

    def __init__(self, names: Iterable[str] = (), name: str = "") -> None:
        super().__init__(name)
        self.names = tuple(names)

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub `record` in place; always keep it."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: scrub the pieces and let the handler report the format error
            record.msg = self._scrub(record.msg)
            if isinstance(record.args, tuple):
                record.args = tuple(self._scrub(a) for a in record.args)
            return True
        scrubbed = scrub(message, self.names)
        if scrubbed.changed:
            record.msg, record.args = scrubbed.text, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, self.names).text
        if record.stack_info:
            record.stack_info = scrub(record.stack_info, self.names).text
        return True

    def _scrub(self, value: object) -> object:
        return scrub(value, self.names).text if isinstance(value, str) else value
