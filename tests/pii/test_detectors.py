"""Each detector on what it must find, and on the look-alikes it must leave alone."""

from __future__ import annotations

import pytest

from deflect.pii import PiiKind, scrub


def kinds(text: str, names: tuple[str, ...] = ()) -> list[PiiKind]:
    return [f.kind for f in scrub(text, names).findings]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail ana@example.com now", "mail [EMAIL] now"),
        ("<ana.b+tag@sub.example.co.uk>", "<[EMAIL]>"),
        ("ANA@EXAMPLE.ORG.", "[EMAIL]."),
        ("it's o'neil@example.ie", "it's [EMAIL]"),
        ("mailto:ana@example.com", "mailto:[EMAIL]"),
    ],
)
def test_emails(text: str, expected: str) -> None:
    assert scrub(text).text == expected


@pytest.mark.parametrize("text", ["user@localhost", "@channel please look", "a @ b", "email: none given"])
def test_email_look_alikes(text: str) -> None:
    assert scrub(text).text == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +1 (202) 555-0143 today", "call [PHONE] today"),
        ("+44 20 7946 0958", "[PHONE]"),
        ("+44 (0)20 7946 0958", "[PHONE]"),
        ("+33 1 99 00 12 34", "[PHONE]"),
        ("+12025550143", "[PHONE]"),
        ("Office 202-555-0178.", "Office [PHONE]."),
        ("(312) 555-0196", "[PHONE]"),
        ("1-800-555-0199", "[PHONE]"),
        ("desk 020 7946 0321", "desk [PHONE]"),
        ("07700 900123", "[PHONE]"),
        ("my cell is 2025550164", "my cell is [PHONE]"),
        ("phone: 555-0147", "phone: [PHONE]"),
    ],
)
def test_phones(text: str, expected: str) -> None:
    assert scrub(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "released 2026-04-12 10:30:00",
        "on 12/04/2026 and 04.12.2026",
        "version 5.2.1, build 2026.04.2",
        "order #1029384756",
        "order 202-555-0143",  # the id word wins over the shape
        "ticket 48213, case 00123456",
        "costs $1,299.00 or 1 299,00 €",
        "we have 2 500 000 tasks and 1 048 576 rows",
        "+15% usage, +3 seats",
        "SSO-102 and E1042 at 10:30:45",
        "call us between 2025-2026",
        "timestamp 1712345678901",
        "workspace 123e4567-e89b-12d3-a456-426614174000",
        "see https://help.quiverly.example/a/2025550143",
    ],
)
def test_phone_look_alikes(text: str) -> None:
    assert PiiKind.PHONE not in kinds(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111 1111 1111 1111 please", "card [CARD] please"),
        ("4111-1111-1111-1111", "[CARD]"),
        ("4111.1111.1111.1111", "[CARD]"),
        ("5555555555554444", "[CARD]"),
        ("Amex 3782 822463 10005", "Amex [CARD]"),
        ("Visa 4222222222222", "Visa [CARD]"),
        ("4111 1111 1111 1111 12 27", "[CARD] 12 27"),  # the expiry after it is not part of the number
    ],
)
def test_cards(text: str, expected: str) -> None:
    assert scrub(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # fails Luhn
        "1234 5678 9012 3456",
        "0000 0000 0000 0000",  # passes Luhn, no card starts with 0
        "Visa ****1111",
        "order 4539148803436467",  # a Luhn-valid run that an id word names
        "12 34 56 78 90 12 34 56",
    ],
)
def test_card_look_alikes(text: str) -> None:
    assert PiiKind.CARD not in kinds(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IBAN GB82 WEST 1234 5698 7654 32.", "IBAN [IBAN]."),
        ("DE89370400440532013000", "[IBAN]"),
        ("nl91abna0417164300 lower case", "[IBAN] lower case"),
        ("GB82-WEST-1234-5698-7654-32", "[IBAN]"),
    ],
)
def test_ibans(text: str, expected: str) -> None:
    assert scrub(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "GB82 WEST 1234 5698 7654 33",  # checksum
        "DE89 3704 0044 0532 0130 01",
        "GB82 WEST 1234 5698 7654 32X",  # runs on past the country's length
        "SSO-102 QV-PRO-2026-12",
    ],
)
def test_iban_look_alikes(text: str) -> None:
    assert scrub(text).text == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key qv_live_7Hd92KsLq0Pz4WmX8Rt3Vb here", "key [API_KEY] here"),
        ("qv_pat_Zk3m9QpX2wLr7TbN5vC8hJ", "[API_KEY]"),
        ("sk_live_51Hx8kT2eZvKYlo2C9f3mQ7rP", "[API_KEY]"),
        ("ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s01", "[API_KEY]"),
        ("xoxb-2038475610-9182736450-Kq8ZpL3mN7vR2tW5yB1cD4fG", "[API_KEY]"),
        ("id AKIAZ7Q3M9X2L4P8R6T1.", "id [API_KEY]."),
        ("api_key: 9c1f7e2ab8d34c6f91e0a5b7d2c84f13", "api_key: [API_KEY]"),
        ("Authorization: Bearer qv_live_Ab12Cd34Ef56Gh78Ij90", "Authorization: Bearer [API_KEY]"),
    ],
)
def test_api_keys(text: str, expected: str) -> None:
    assert scrub(text).text == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bearer 3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e", "Bearer [TOKEN]"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlF", "jwt [TOKEN]"),
        ("password=hunter2", "password=[TOKEN]"),
        ("DB_PASSWORD=correcthorse", "DB_PASSWORD=[TOKEN]"),
        ('{"client_secret": "Tq8vZ2mK9xL4pR7wN3bY6cH1"}', '{"client_secret": "[TOKEN]"}'),
        ("my password is Winter2026!", "my password is [TOKEN]"),
        ("the refresh token 8a7f6e5d4c3b2a1908f7e6d5c4b3a291 fails", "the refresh token [TOKEN] fails"),
        (
            "git clone https://deploy:Xk92mQ@git.example.com/r.git",
            "git clone https://deploy:[TOKEN]@git.example.com/r.git",
        ),
        ("curl -u admin:Adm1n!2026 https://x.example", "curl -u admin:[TOKEN] https://x.example"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----", "[TOKEN]"),
    ],
)
def test_tokens(text: str, expected: str) -> None:
    assert scrub(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "Use qv_pat_ keys for scripts and qv_live_ keys in production.",
        'curl -H "Authorization: Bearer qv_live_xxxxxxxxxxxxxxxx"',
        "Authorization: Bearer <your token>",
        "Bearer YOUR_API_KEY",
        "Bearer authentication is required",
        "The token expired after 3600 seconds.",
        "Password must be at least 12 characters.",
        "Password: must contain a digit",
        "password: ********",
        "Rotate your API keys every 90 days; the secret is shown once.",
        "The key is in the top-left corner.",
        "request id 9f86d081884c7d659a2feaa0c55ad015",
        "AKIAIOSFODNN7EXAMPLE",
        "401 invalid_api_key",
    ],
)
def test_key_and_token_look_alikes(text: str) -> None:
    assert scrub(text).text == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from 203.0.113.45 today", "from [IP] today"),
        ("host 198.51.100.23:8443", "host [IP]:8443"),
        ("ip=10.12.0.7,", "ip=[IP],"),
        ("dev box 10.0.0.5 and prev 10.0.0.6", "dev box [IP] and prev [IP]"),
        ("single host 192.0.2.10/32", "single host [IP]"),
        ("2001:db8:85a3::8a2e:370:7334", "[IP]"),
        ("https://[2001:db8::42]:443/x", "https://[[IP]]:443/x"),
        ("2001:0db8:0000:0000:0000:ff00:0042:8329.", "[IP]."),
        ("mapped ::ffff:192.0.2.128", "mapped [IP]"),
    ],
)
def test_ips(text: str, expected: str) -> None:
    assert scrub(text).text == expected


@pytest.mark.parametrize(
    "text",
    [
        "version 5.2.1 and 2026.04.2",
        "webhooks come from 198.51.100.0/24 and 2001:db8:1234::/48",  # vendor ranges: networks, not people
        "bind 0.0.0.0:8080 or 127.0.0.1 or ::1",
        "mask 255.255.255.0",
        "Chrome 124.0.6367.91",
        "version 10.4.2.1",
        "999.1.1.1 is not an address",
        "at 10:30:45",
        "fingerprint 3A:7F:91:0C:2B:DE",
        "std::vector and Foo::Bar",
    ],
)
def test_ip_look_alikes(text: str) -> None:
    assert PiiKind.IP not in kinds(text)


def test_customer_names_case_insensitive_whole_word() -> None:
    names = ("Jane Doe",)

    assert (
        scrub("Jane Doe called; JANE said doe's form failed.", names).text
        == "[NAME] called; [NAME] said [NAME]'s form failed."
    )
    assert scrub("Janet from Doesburg: janes", names).text == "Janet from Doesburg: janes"


def test_names_that_are_everyday_words_keep_their_capitals() -> None:
    names = ("Will Page",)

    assert scrub("Will Page said he will page the team.", names).text == "[NAME] said he will page the team."


def test_name_particles_and_initials_are_not_matched_alone() -> None:
    assert scrub("J. van der Berg: de facto van", ("J. van der Berg",)).text == "[NAME]: de facto van"


def test_no_names_given_finds_no_names_the_text_does_not_show_as_a_persons() -> None:
    # A surname alone is nobody the text introduces (deflect.pii.people finds those: tests/pii/test_people.py).
    assert PiiKind.NAME not in kinds("Doe called about Okafor Street")
