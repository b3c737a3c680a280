"""Luhn and mod-97: the checks that tell a card or an IBAN from any other run of digits."""

from __future__ import annotations

import pytest

from deflect.pii import iban_valid, luhn_valid


@pytest.mark.parametrize(
    "number",
    ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117", "4222222222222", "79927398713"],
)
def test_luhn_accepts_valid_numbers(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4111111111111112", "1234567890123456", "79927398710", "", "4111 1111", "١٢٣"])
def test_luhn_rejects_wrong_checksums_and_non_digits(number: str) -> None:
    assert not luhn_valid(number)


def test_luhn_catches_every_single_digit_error() -> None:
    number = "4012888888881881"
    for i, digit in enumerate(number):
        for other in "0123456789":
            if other != digit:
                assert not luhn_valid(number[:i] + other + number[i + 1 :])


@pytest.mark.parametrize(
    "iban",
    [
        "GB82 WEST 1234 5698 7654 32",
        "DE89370400440532013000",
        "de89 3704 0044 0532 0130 00",
        "FR14 2004 1010 0505 0001 3M02 606",
        "NO93 8601 1117 947",
        "MT84 MALT 0110 0001 2345 MTLC AST0 01S",
    ],
)
def test_iban_accepts_valid_ibans(iban: str) -> None:
    assert iban_valid(iban)


@pytest.mark.parametrize(
    "iban",
    [
        "GB82 WEST 1234 5698 7654 33",  # checksum
        "GB28 WEST 1234 5698 7654 32",  # transposed check digits
        "GB82 WEST 1234 5698 7654 3",  # a digit short for GB
        "DE89 3704 0044 0532 0130 000",  # a digit long for DE
        "ZZ82 WEST 1234 5698 7654 32",  # no such country
        "GBAB WEST 1234 5698 7654 32",  # check digits must be digits
        "GB82-WEST",
        "",
    ],
)
def test_iban_rejects_invalid_ibans(iban: str) -> None:
    assert not iban_valid(iban)
