"""The page's proof of work: challenges issued, solved and checked (fake time, small bits)."""

from __future__ import annotations

import hashlib
from itertools import count

import pytest
from hypothesis import given
from hypothesis import strategies as st

from knock.core.pow import (
    MAX_BITS,
    MAX_NONCE_DIGITS,
    MESSAGES,
    Challenge,
    Passed,
    Problem,
    Refused,
    check,
    issue,
    leading_zero_bits,
    solve,
)

KEY = b"k" * 32
NOW = 1_800_000_000.0
BITS = 8


def solved(bits: int = BITS, ttl: float = 300.0) -> tuple[Challenge, str]:
    challenge = issue(KEY, NOW, bits, ttl)
    return challenge, solve(challenge.text, bits)


def zeros(text: str, nonce: str) -> int:
    return leading_zero_bits(hashlib.sha256(f"{text}:{nonce}".encode()).digest())


def test_a_solved_challenge_passes_and_names_its_id_and_expiry() -> None:
    challenge, nonce = solved()
    assert check(KEY, challenge.text, nonce, NOW + 1, BITS) == Passed(
        challenge.challenge_id, challenge.expires_at
    )
    assert challenge.expires_at == int(NOW + 300)
    assert challenge.bits == BITS
    assert zeros(challenge.text, nonce) >= BITS


def test_a_challenge_is_url_safe_text_that_says_what_it_is() -> None:
    challenge = issue(KEY, NOW, 20, token=bytes(range(16)))
    challenge_id, expiry, bits, signature = challenge.text.split(".")
    assert (challenge_id, int(expiry), int(bits)) == ("AAECAwQFBgcICQoLDA0ODw", NOW + 300, 20)
    assert challenge.challenge_id == challenge_id
    assert len(signature) == 43
    assert challenge.text.replace(".", "").replace("-", "").replace("_", "").isalnum()
    assert issue(KEY, NOW, 20, token=bytes(range(16))) == challenge  # no hidden state
    assert issue(KEY, NOW, 20).challenge_id != issue(KEY, NOW, 20).challenge_id


def test_the_solution_is_the_first_good_nonce_counting_from_zero() -> None:
    challenge, nonce = solved()
    assert all(zeros(challenge.text, str(n)) < BITS for n in range(int(nonce)))
    later = solve(challenge.text, BITS, start=int(nonce) + 1)
    assert int(later) > int(nonce) and zeros(challenge.text, later) >= BITS


def test_a_nonce_that_falls_short_is_refused() -> None:
    challenge, nonce = solved()
    wrong = next(str(n) for n in range(10_000) if zeros(challenge.text, str(n)) < BITS)
    assert check(KEY, challenge.text, wrong, NOW, BITS) == Refused(Problem.BAD)


def test_an_expired_challenge_is_refused_even_when_solved() -> None:
    challenge, nonce = solved(ttl=60)
    assert isinstance(check(KEY, challenge.text, nonce, NOW + 59, BITS), Passed)
    assert check(KEY, challenge.text, nonce, NOW + 60, BITS) == Refused(Problem.EXPIRED)
    assert check(KEY, challenge.text, nonce, NOW + 86400, BITS) == Refused(Problem.EXPIRED)


@pytest.mark.parametrize("field", [0, 1, 2, 3])
def test_any_change_to_a_challenge_breaks_its_signature(field: int) -> None:
    challenge, _ = solved()
    parts = challenge.text.split(".")
    # Later expiry, fewer bits, another id, another signature: each must be refused.
    parts[field] = {0: "A" * 22, 1: str(int(NOW) + 10**6), 2: "0", 3: "B" * 43}[field]
    forged = ".".join(parts)
    assert check(KEY, forged, solve(forged, BITS), NOW, 0) == Refused(Problem.BAD)


def test_a_challenge_signed_with_another_key_is_refused() -> None:
    challenge = issue(b"another key", NOW, BITS)
    nonce = solve(challenge.text, BITS)
    assert check(KEY, challenge.text, nonce, NOW, BITS) == Refused(Problem.BAD)


def test_a_challenge_for_fewer_bits_than_the_setting_now_asks_is_refused() -> None:
    challenge, nonce = solved(bits=4)
    assert isinstance(check(KEY, challenge.text, nonce, NOW, 4), Passed)
    assert check(KEY, challenge.text, nonce, NOW, 5) == Refused(Problem.OUTDATED)
    # The setting lowered after issue: the challenge's own bits still have to be met.
    assert isinstance(check(KEY, challenge.text, nonce, NOW, 0), Passed)


def test_a_challenge_is_held_to_its_own_bits_not_the_lower_setting() -> None:
    challenge = issue(KEY, NOW, 12)
    weak = next(str(n) for n in count() if 2 <= zeros(challenge.text, str(n)) < 12)
    assert check(KEY, challenge.text, weak, NOW, 2) == Refused(Problem.BAD)
    assert isinstance(check(KEY, challenge.text, solve(challenge.text, 12), NOW, 2), Passed)


@pytest.mark.parametrize(
    "nonce", ["-1", "1.0", "0x10", " 1 2", "١٢", "１２", "1" * (MAX_NONCE_DIGITS + 1), "1e3"]
)
def test_a_nonce_must_be_a_few_ascii_digits(nonce: str) -> None:
    challenge = issue(KEY, NOW, 0)  # every digit string solves it
    assert isinstance(check(KEY, challenge.text, "1" * MAX_NONCE_DIGITS, NOW, 0), Passed)
    assert check(KEY, challenge.text, nonce, NOW, 0) == Refused(Problem.BAD)


@pytest.mark.parametrize(
    ("text", "nonce"), [("", "1"), (None, "1"), ("x.1.2.3", ""), ("x.1.2.3", None), (" ", " ")]
)
def test_no_challenge_or_no_nonce_means_the_script_did_not_run(
    text: str | None, nonce: str | None
) -> None:
    refused = check(KEY, text, nonce, NOW, BITS)
    assert refused == Refused(Problem.MISSING)
    assert isinstance(refused, Refused) and "JavaScript" in refused.message


def test_surrounding_whitespace_is_forgiven() -> None:
    challenge, nonce = solved()
    assert isinstance(check(KEY, f" {challenge.text}\n", f"{nonce} ", NOW, BITS), Passed)


def test_every_problem_has_a_sentence_for_the_person() -> None:
    assert set(MESSAGES) == set(Problem)
    assert Refused(Problem.EXPIRED).message == "The page waited too long; reload it and try again."
    assert all(message.endswith(".") for message in MESSAGES.values())


@pytest.mark.parametrize("bits", [-1, MAX_BITS + 1])
def test_bits_outside_the_range_are_a_programming_error(bits: int) -> None:
    with pytest.raises(ValueError, match="bits"):
        issue(KEY, NOW, bits)
    with pytest.raises(ValueError, match="bits"):
        solve("x", bits)


def test_an_empty_key_or_a_short_token_is_refused_at_issue() -> None:
    with pytest.raises(ValueError, match="key"):
        issue(b"", NOW, BITS)
    with pytest.raises(ValueError, match="random bytes"):
        issue(KEY, NOW, BITS, token=b"short")


def test_leading_zero_bits_are_counted_across_bytes() -> None:
    assert leading_zero_bits(bytes([0, 0, 0x1F, 0xFF])) == 19
    assert leading_zero_bits(bytes([0x80, 0])) == 0
    assert leading_zero_bits(bytes(4)) == 32


@given(text=st.one_of(st.none(), st.text()), nonce=st.one_of(st.none(), st.text()))
def test_check_answers_any_text_without_raising(text: str | None, nonce: str | None) -> None:
    result = check(KEY, text, nonce, NOW, BITS)
    assert isinstance(result, Refused)


@given(
    position=st.integers(min_value=0),
    replacement=st.characters(),
    nonce=st.text(alphabet="0123456789", min_size=1, max_size=MAX_NONCE_DIGITS),
    now=st.floats(allow_nan=True, allow_infinity=True),
    bits=st.integers(min_value=-(2**70), max_value=2**70),
)
def test_a_changed_challenge_never_passes_and_never_raises(
    position: int, replacement: str, nonce: str, now: float, bits: int
) -> None:
    text = issue(KEY, NOW, 0, token=bytes(16)).text
    index = position % len(text)
    changed = text[:index] + replacement + text[index + 1 :]
    result = check(KEY, changed, nonce, now, bits)
    assert isinstance(result, Refused) or changed == text
