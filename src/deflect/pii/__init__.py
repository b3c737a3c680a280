"""PII scrubbing: emails, phone numbers, cards, IBANs, keys and tokens, IP addresses and customer names.

Pure and offline: validated patterns (Luhn, mod 97, address parsing) rather than a model, so it runs anywhere
the service runs. Used on resolutions, stored questions and logs (issue 5). See eval/pii/README.md for what it
finds and misses on the labelled set.
"""

from deflect.pii.checksums import iban_valid, luhn_valid
from deflect.pii.findings import PRIORITY, Finding, PiiKind, Scrubbed, merge
from deflect.pii.logging import PiiLogFilter
from deflect.pii.scrubber import find_pii, scrub, scrub_text

__all__ = [
    "PRIORITY",
    "Finding",
    "PiiKind",
    "PiiLogFilter",
    "Scrubbed",
    "find_pii",
    "iban_valid",
    "luhn_valid",
    "merge",
    "scrub",
    "scrub_text",
]
