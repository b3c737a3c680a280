"""Detectors: each finds one kind of personal data or secret in raw text and validates what it finds.

A detector is a pure function `text -> Iterator[Finding]`; overlapping findings are merged later. Patterns only
propose candidates: cards must pass Luhn, IBANs mod 97 and their country's length, IP addresses must parse, and
the ambiguous shapes (a bare run of digits, a value after the word `key`) need the words around them to agree.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator

from deflect.pii.checksums import IBAN_LENGTHS, iban_valid, luhn_valid
from deflect.pii.findings import Finding, PiiKind

Detector = Callable[[str], Iterator[Finding]]

# --- context -----------------------------------------------------------------------------------------------------

# The last of these words before a run of digits says what the digits are: "call me on ..." or "order ...".
_CONTEXT = re.compile(
    r"(?<![A-Za-z])(?:"
    r"(?P<phone>phone|telephone|tel|mobile|cell|cellphone|call(?:ed|ing)?|ring|text(?:ed)?|sms|whats\s?app|fax"
    r"|landline|dial(?:led)?|reach\s+(?:me|us|him|her|them)|contact\s+number|hotline|extension|ext)"
    r"|(?P<id>order|invoice|ticket|case|ref|reference|tracking|transaction|receipt|po|sku|serial|id|build"
    r"|version|release|workspace|account|job|batch|request|esc|confirmation|booking|member|#)"
    r")(?![A-Za-z])",
    re.IGNORECASE,
)


def _nearest_context(text: str, start: int, window: int = 40) -> str | None:
    """'phone' or 'id' for the nearest context word before `start`, if one is within `window` characters."""
    last = None
    for m in _CONTEXT.finditer(text, max(0, start - window), start):
        last = m
    return last.lastgroup if last else None


# A token that holds a digit, directly before `start` with one separator: the number is the tail of a longer code
# (an IBAN's groups, a ticket's parts), not a number of its own.
_TAIL_OF_CODE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]*\d[A-Za-z0-9]*[ .\-]$")


def _follows_code(text: str, start: int) -> bool:
    return bool(_TAIL_OF_CODE.search(text, max(0, start - 40), start))


def _digits(s: str) -> int:
    return sum(c.isdigit() for c in s)


_PLACEHOLDER_WORDS = re.compile(r"x{4}|\*{2}|\.{3}|…|your|example|here|redacted|placeholder|dummy|changeme", re.I)


def _placeholder(value: str) -> bool:
    """A documentation stand-in such as `xxxxxxxx`, `********` or `YOUR_API_KEY`, not a real secret."""
    return len(set(value.lower())) <= 3 or bool(_PLACEHOLDER_WORDS.search(value))


def _mixed(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isalpha() for c in value)


# --- email -------------------------------------------------------------------------------------------------------

# Every character the local part may hold is also in the look-behinds, so a match only starts at a word's start
# and a long run without an @ is scanned once. An apostrophe may sit inside the local part (o'brien@...).
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])(?<![A-Za-z0-9]')[A-Za-z0-9][A-Za-z0-9._%+\-']*@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}(?![A-Za-z0-9\-])"
)


_URL_USER_BEFORE = re.compile(r"://[^\s:/@]*:?$")


def find_emails(text: str) -> Iterator[Finding]:
    """Email addresses (not the password@host of a URL's user:password@host)."""
    for m in _EMAIL.finditer(text):
        if not _URL_USER_BEFORE.search(text, max(0, m.start() - 80), m.start()):
            yield Finding(m.start(), m.end(), PiiKind.EMAIL)


# --- phone -------------------------------------------------------------------------------------------------------

_NUMBER_BEFORE = r"(?<![\w+\-.$€£#/])"
_NUMBER_AFTER = r"(?![\w]|[.\-/]\d)"
# +CC then groups, with spaces, dots, dashes and a bracketed area or trunk code: +1 (202) 555-0143, +44 (0)20 ...
_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .\-]?(?:\(\d{1,4}\)|\d{1,6})){1,7}" + _NUMBER_AFTER)
# North American: (202) 555-0143, 202-555-0143, 202.555.0143, 1-800-555-0199; the area code never starts 0 or 1.
_NANP = re.compile(
    _NUMBER_BEFORE + r"(?:1[ .\-])?(?:\([2-9]\d{2}\)[ .\-]?|[2-9]\d{2}[ .\-])\d{3}[ .\-]\d{4}" + _NUMBER_AFTER
)
# National with a trunk 0: 020 7946 0958, 07700 900123, (030) 901820-12, 01 23 45 67 89.
_TRUNK = re.compile(_NUMBER_BEFORE + r"(?:\(0\d{1,4}\)|0\d{1,4})(?:[ .\-]\d{2,8}){1,4}" + _NUMBER_AFTER)
# Any run of 7 to 15 digits with separators: a phone number only when a phone word comes right before it.
_LOOSE = re.compile(_NUMBER_BEFORE + r"\(?\d[\d ()\-.]{5,20}\d" + _NUMBER_AFTER)
# 2026-04-12, 12/04/2026, 2025-2026: what a phone word followed by a date ("call on 2026-04-12 10:30") looks like.
_STARTS_WITH_DATE = re.compile(
    r"\(?(?:(?:19|20)\d{2}[\-/.]\d{1,2}[\-/.]\d{1,2}|\d{1,2}[\-/.]\d{1,2}[\-/.](?:19|20)\d{2}"
    r"|(?:19|20)\d{2}\s*[\-/]\s*(?:19|20)\d{2})(?!\d)"
)


def find_phones(text: str) -> Iterator[Finding]:
    """Phone numbers: international (+CC) anywhere; national shapes unless ids are being talked about; bare runs
    of digits only after a phone word. Dates, versions, prices and counts have none of these shapes."""
    for m in _INTL.finditer(text):
        # E.164 allows 15 digits (16 with a bracketed trunk 0): digits past that belong to the next number.
        end = m.end()
        groups = list(re.finditer(r"\(?\d+\)?", m.group()))
        while _digits(text[m.start() : end]) > 16 and len(groups) > 1:
            groups.pop()
            end = m.start() + groups[-1].end()
        if 8 <= _digits(text[m.start() : end]) <= 16:
            yield Finding(m.start(), end, PiiKind.PHONE)
    for pattern in (_NANP, _TRUNK):
        for m in pattern.finditer(text):
            if not 9 <= _digits(m.group()) <= 13 or _follows_code(text, m.start()):
                continue
            if _nearest_context(text, m.start()) != "id":
                yield Finding(m.start(), m.end(), PiiKind.PHONE)
    for m in _LOOSE.finditer(text):
        candidate = m.group().rstrip(" -.(")
        if not 7 <= _digits(candidate) <= 15 or _STARTS_WITH_DATE.match(candidate) or _follows_code(text, m.start()):
            continue
        if _nearest_context(text, m.start()) == "phone":
            yield Finding(m.start(), m.start() + len(candidate), PiiKind.PHONE)


# --- payment cards -------------------------------------------------------------------------------------------------

# Runs of digit groups joined by single spaces, dashes or dots; a card is a run (or the run less its trailing
# groups, which drops an expiry date written after it) of 13-19 digits that starts with 2-6 and passes Luhn.
_DIGIT_RUN = re.compile(r"(?<![\w+\-.$€£#/,])\d+(?:[ \-.]\d+)*(?![\w]|[.,]\d)")


def _card_at(groups: list[re.Match[str]], first: int) -> int | None:
    """The index past the last group of the longest card that starts at group `first`, if any."""
    if len(groups) - first > 1 and any(len(g.group()) < 3 for g in groups[first : first + 3]):
        return None  # a card's leading groups have 4 digits (4-6-5 for Amex); 12 34 56 is something else
    for end in range(len(groups), first, -1):
        digits = "".join(g.group() for g in groups[first:end])
        if len(digits) < 13:
            return None
        if len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits):
            return end
    return None


def find_cards(text: str) -> Iterator[Finding]:
    """Payment card numbers (Luhn-valid, 13-19 digits, grouped or not), also inside a longer run of groups
    (a phone number then a card, with only a space between)."""
    for m in _DIGIT_RUN.finditer(text):
        groups = list(re.finditer(r"\d+", m.group()))
        if len(groups) == 1 and _nearest_context(text, m.start()) == "id":
            continue  # an unbroken run after "order" or "ticket" is that id, whatever its checksum
        first = 1 if _follows_code(text, m.start()) else 0
        while first < len(groups):
            # Past the run's start, a card begins only at a group of four or more digits.
            end = _card_at(groups, first) if first == 0 or len(groups[first].group()) >= 4 else None
            if end is None:
                first += 1
                continue
            yield Finding(m.start() + groups[first].start(), m.start() + groups[end - 1].end(), PiiKind.CARD)
            first = end


# --- IBAN ----------------------------------------------------------------------------------------------------------

_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})\d{2}")


def find_ibans(text: str) -> Iterator[Finding]:
    """IBANs, compact or in groups split by spaces or dashes, that have their country's length and pass mod 97."""
    for m in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(m.group(1).upper())
        if length is None:
            continue
        i, count, after_space = m.end(), 4, False
        while count < length and i < len(text):
            char = text[i]
            if char.isascii() and char.isalnum():
                count, after_space = count + 1, False
            elif char in " -" and not after_space:
                after_space = True
            else:
                break
            i += 1
        complete = count == length and not after_space and (i == len(text) or not text[i].isalnum())
        if complete and iban_valid(text[m.start() : i].replace("-", " ")):
            yield Finding(m.start(), i, PiiKind.IBAN)


# --- keys and tokens -----------------------------------------------------------------------------------------------

# Credentials with a recognisable prefix: this product's keys first, then widely used formats.
_PREFIXED_KEY = re.compile(
    r"(?<![A-Za-z0-9_])(?P<prefix>"
    r"qv_(?:pat|live)_|(?:sk|rk)_(?:live|test)_|sk-(?:proj-|ant-)?|gh[pousr]_|github_pat_|glpat-|xox[abposr]-"
    r"|xapp-|whsec_|AIza|AKIA|ASIA"
    r")(?P<body>[A-Za-z0-9_\-+/=]+)"
)
_MIN_BODY = {"AKIA": 16, "ASIA": 16, "AIza": 35, "gh": 30, "github_pat_": 30, "sk-": 20, "glpat-": 20}
_JWT = re.compile(r"(?<![A-Za-z0-9_\-])eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}")
_BEARER = re.compile(r"(?<![A-Za-z0-9])(?:Bearer|Basic)\s+(?P<value>[A-Za-z0-9\-._~+/]{12,}=*)")
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.DOTALL)
# A secret named by the word before it: password=..., "client_secret": "...", the token is ..., DB_PASSWORD: ...
_NAMED_SECRET = re.compile(
    r"(?<![A-Za-z0-9])(?P<word>pass(?:word|wd|phrase)|pwd|pin|secret|token|api[_\-]?key|apikey|access[_\-]?key"
    r"|private[_\-]?key|key|session|cookie|sid)(?![A-Za-z0-9_\-])[\"']?\s*(?P<sep>=>|[:=]|\bis\b|\bwas\b|)\s*[\"'`]?"
    r"(?P<value>[^\s\"'`,;:<>\[\]()]{4,})",
    re.IGNORECASE,
)


def _body_ok(prefix: str, body: str) -> bool:
    minimum = _MIN_BODY.get(prefix, _MIN_BODY.get(prefix[:2], 12))
    if prefix in ("AKIA", "ASIA") and not (len(body) == 16 and body.isupper() and body.isalnum()):
        return False
    # A real key's random body has a digit all but ~1% of the time; a body of letters alone is prose or a name
    # glued to the prefix ("qv_live_keys_for_production").
    return len(body) >= minimum and any(c.isdigit() for c in body) and not _placeholder(body)


def find_keys(text: str) -> Iterator[Finding]:
    """API keys with a known prefix (qv_pat_, qv_live_, sk_live_, ghp_, xoxb-, AKIA, ...)."""
    for m in _PREFIXED_KEY.finditer(text):
        body = m.group("body").rstrip(".-=")
        prefix = m.group("prefix")
        if prefix in ("AKIA", "ASIA"):
            body = body[:16] if re.fullmatch(r"[A-Z0-9]{16}", body[:16]) and not body[16:17].isalnum() else ""
        if _body_ok(prefix, body):
            yield Finding(m.start(), m.start("body") + len(body), PiiKind.API_KEY)


# The password half of user:password credentials: in a URL's userinfo, or after curl's -u / --user.
_USERINFO = re.compile(r"(?<![\w])[a-z][a-z0-9+.\-]*://[^\s:/@]+:(?P<value>[^\s/@]+)@")
_CURL_USER = re.compile(r"(?<!\S)(?:-u|--user)[ =]['\"]?[^\s:'\"]+:(?P<value>[^\s'\"]+)")


def find_tokens(text: str) -> Iterator[Finding]:
    """JWTs, bearer and basic credentials, user:password pairs, private keys in PEM, and secrets named by the
    word before them."""
    for pattern in (_USERINFO, _CURL_USER):
        for m in pattern.finditer(text):
            if not _placeholder(m.group("value")):
                yield Finding(m.start("value"), m.end("value"), PiiKind.TOKEN)
    for m in _JWT.finditer(text):
        if any(c.isdigit() for c in m.group()):
            yield Finding(m.start(), m.end(), PiiKind.TOKEN)
    for m in _PEM.finditer(text):
        yield Finding(m.start(), m.end(), PiiKind.TOKEN)
    for m in _BEARER.finditer(text):
        value = m.group("value").rstrip(".")
        if not _placeholder(value) and any(c.isdigit() for c in value):
            yield Finding(m.start("value"), m.start("value") + len(value), PiiKind.TOKEN)
    for m in _NAMED_SECRET.finditer(text):
        finding = _named_secret(m)
        if finding is not None:
            yield finding


def _named_secret(m: re.Match[str]) -> Finding | None:
    word, sep = m.group("word").lower(), m.group("sep").lower()
    password_like = word.startswith(("pass", "pwd", "pin"))
    # A trailing full stop ends the sentence; a password may well end in "!" or "?", so only words lose those.
    value = m.group("value").rstrip("." if password_like else ".!?")
    if len(value) < 4 or _placeholder(value):
        return None
    assigned = sep in (":", "=", "=>")
    if password_like:
        # A password is whatever was assigned: after "=" always (that is config, not prose), after ":" unless it
        # reads like prose ("Password: must be 12 characters").
        if word == "pin":
            ok = assigned and value.isdigit()  # "pin the task" is an everyday verb
        elif sep in ("=", "=>"):
            ok = True
        elif assigned:
            ok = any(c.isdigit() or not c.isalnum() or c.isupper() for c in value[1:]) or not value[0].isalpha()
        else:
            ok = sep in ("is", "was") and len(value) >= 6 and any(c.isdigit() for c in value)
        kind = PiiKind.TOKEN
    else:
        # "token", "secret", "key" and "session" are everyday words: only a random-looking value counts.
        ok = _mixed(value) and len(value) >= (12 if assigned else 20)
        kind = PiiKind.API_KEY if word.endswith("key") else PiiKind.TOKEN
    return Finding(m.start("value"), m.start("value") + len(value), kind) if ok else None


# --- IP addresses --------------------------------------------------------------------------------------------------

_IPV4 = re.compile(r"(?<![\w.])(?P<addr>\d{1,3}(?:\.\d{1,3}){3})(?:/(?P<prefix>\d{1,2}))?(?![\w]|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?P<addr>[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3})(?:/(?P<prefix>\d{1,3}))?"
    r"(?![\w:]|\.\d)"
)
_VERSION_WORD = re.compile(
    r"(?i)(?<![A-Za-z])(?:version|ver\.?|build|release|firmware|kernel|chrome|firefox|safari|edge|android|ios|macos|windows"
    r"|app|v)\s*$"
)


_IP_FORMS: tuple[tuple[re.Pattern[str], Callable[[str], ipaddress.IPv4Address | ipaddress.IPv6Address], int], ...] = (
    (_IPV4, ipaddress.IPv4Address, 32),
    (_IPV6, ipaddress.IPv6Address, 128),
)


def _addressable(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address that can point at a customer's machine: not loopback, 0.0.0.0, multicast or a netmask."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not (addr.is_loopback or addr.is_unspecified or addr.is_multicast or addr.is_reserved)


def find_ips(text: str) -> Iterator[Finding]:
    """Single IPv4 and IPv6 addresses. A CIDR range (a prefix shorter than the address) is a network, such as
    the vendor's published webhook ranges, not one machine, and is left alone; so are four-part versions."""
    for pattern, parse, host_bits in _IP_FORMS:
        for m in pattern.finditer(text):
            prefix = m.group("prefix")
            if prefix is not None and int(prefix) < host_bits:
                continue
            if _VERSION_WORD.search(text, max(0, m.start() - 12), m.start()) or not any(map(str.isdigit, m["addr"])):
                continue
            try:
                addr = parse(m.group("addr"))
            except ValueError:
                continue
            if _addressable(addr):
                yield Finding(m.start(), m.end(), PiiKind.IP)


# --- names ---------------------------------------------------------------------------------------------------------

# Given names and surnames that are also everyday words: matched only as capitalised in the packet, so a customer
# called Will Page does not turn "will" and "page" into [NAME] everywhere.
COMMON_WORDS = frozenset(
    [
        "will",
        "may",
        "mark",
        "bill",
        "grant",
        "rose",
        "june",
        "april",
        "august",
        "faith",
        "hope",
        "joy",
        "sky",
        "summer",
        "dawn",
        "art",
        "chase",
        "hunter",
        "king",
        "long",
        "young",
        "white",
        "black",
        "brown",
        "green",
        "page",
        "wade",
        "ray",
        "read",
        "reed",
        "bell",
        "cook",
        "frank",
        "glen",
        "guy",
        "hall",
        "hill",
        "lane",
        "miles",
        "penny",
        "price",
        "rich",
        "sage",
        "sandy",
        "star",
        "stone",
        "storm",
        "west",
        "wood",
        "ward",
        "field",
        "case",
        "carter",
        "baker",
        "short",
        "little",
        "key",
        "lee",
    ]
)
# Particles of surnames ("van", "de") are never matched alone.
PARTICLES = frozenset(
    ["al", "bin", "da", "de", "del", "della", "der", "di", "du", "el", "la", "le", "st", "van", "von"]
)


def _name_patterns(names: Iterable[str], case_sensitive: bool) -> list[re.Pattern[str]]:
    patterns: list[re.Pattern[str]] = []
    seen: set[tuple[str, bool]] = set()
    for name in names:
        parts = name.split()
        if not parts:
            continue
        everyday = all(p.lower() in COMMON_WORDS for p in parts)
        wanted = [(r"\s+".join(re.escape(p) for p in parts), not everyday)]
        if len(parts) > 1:
            for part in parts:
                bare = part.strip(".,")
                if len(bare) < 2 or bare.lower() in PARTICLES:
                    continue
                wanted.append((re.escape(bare), bare.lower() not in COMMON_WORDS))
        for body, insensitive in wanted:
            if (body, insensitive) not in seen:
                seen.add((body, insensitive))
                flags = re.IGNORECASE if insensitive and not case_sensitive else 0
                patterns.append(re.compile(r"(?<!\w)" + body + r"(?!\w)", flags))
    return patterns


def name_detector(names: Iterable[str], case_sensitive: bool = False) -> Detector:
    """Whole-word, case-insensitive matches of each given name and of each part of it; a part that is also an
    everyday word (COMMON_WORDS), or a whole name made only of such parts, must match its capitalisation, and so
    must every name with `case_sensitive` (names found in the text itself, as written there)."""
    patterns = _name_patterns(names, case_sensitive)

    def find_names(text: str) -> Iterator[Finding]:
        for pattern in patterns:
            for m in pattern.finditer(text):
                yield Finding(m.start(), m.end(), PiiKind.NAME)

    return find_names


DETECTORS: tuple[Detector, ...] = (find_emails, find_phones, find_cards, find_ibans, find_keys, find_tokens, find_ips)
