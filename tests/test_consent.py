"""Tests for the consent value object (no Home Assistant)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.printernizer_stats.consent import (
    CONF_CONSENT_DAY,
    CONF_CONSENT_VERSION,
    CONF_SHARE,
    CONSENT_VERSION,
    Consent,
)

DAY = date(2026, 3, 10)
TODAY = date(2026, 6, 1)


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations() -> None:
    """Override the package-wide fixture: these tests need no Home Assistant."""


def _options(
    share: object = True, version: object = CONSENT_VERSION, day: object = "2026-03-10"
) -> dict[str, Any]:
    return {CONF_SHARE: share, CONF_CONSENT_VERSION: version, CONF_CONSENT_DAY: day}


def test_consent_current_version_allows_reports() -> None:
    """Ticked for the current disclosure version: opted in and current."""
    consent = Consent.from_options(_options())
    assert consent == Consent(True, CONSENT_VERSION, DAY)
    assert consent.opted_in
    assert consent.current


def test_consent_old_version_pauses() -> None:
    """Consent to an older disclosure keeps the choice but allows no report."""
    consent = Consent.from_options(_options(version=CONSENT_VERSION - 1))
    assert consent.opted_in
    assert not consent.current


def test_consent_empty_options_mean_no_consent() -> None:
    """No options: neither opted in nor current, no first day."""
    consent = Consent.from_options({})
    assert consent == Consent()
    assert not consent.opted_in
    assert not consent.current
    assert consent.first_day is None


def test_consent_first_day_is_the_day_after() -> None:
    """Events earlier on the consent day never go out: reports start the next day."""
    assert Consent.from_options(_options()).first_day == date(2026, 3, 11)
    assert Consent(True, CONSENT_VERSION, date(2026, 12, 31)).first_day == date(
        2027, 1, 1
    )


@pytest.mark.parametrize(
    ("options", "opted_in"),
    [
        (_options(share="yes"), False),
        (_options(share=1), False),
        (_options(share=None), False),
        (_options(share=False), False),
        (_options(day=None), False),
        (_options(day=20260310), False),
        (_options(day="2026-13-01"), False),
        (_options(day="yesterday"), False),
        (_options(day="9999-12-31"), False),
        (_options(day=DAY), False),
        (_options(version="2"), True),
        (_options(version=True), True),
        (_options(version=float(CONSENT_VERSION)), True),
        (_options(version=None), True),
    ],
)
def test_consent_malformed_options_mean_no_consent(
    options: dict[str, Any], opted_in: bool
) -> None:
    """Anything malformed means no consent to the current version."""
    consent = Consent.from_options(options)
    assert not consent.current
    assert consent.opted_in is opted_in


def test_consent_answered_again_keeps_the_original_day() -> None:
    """Agreeing again to the same version keeps the first consent day."""
    consent = Consent.from_options(_options())
    options = consent.answered(True, TODAY)
    assert options == _options()
    assert Consent.from_options(options) == consent


@pytest.mark.parametrize(
    "consent",
    [
        Consent(),
        Consent(True, CONSENT_VERSION - 1, DAY),
        Consent(False, None, None),
        Consent(True, CONSENT_VERSION, None),
    ],
)
def test_consent_answered_new_agreement_uses_today(consent: Consent) -> None:
    """A new agreement (none before, or to an older version) starts today."""
    options = consent.answered(True, TODAY)
    assert options == _options(day=TODAY.isoformat())
    again = Consent.from_options(options)
    assert again.current
    assert again.first_day == date(2026, 6, 2)


@pytest.mark.parametrize(
    "consent", [Consent(), Consent.from_options(_options()), Consent(True, 1, DAY)]
)
def test_consent_answered_decline_clears(consent: Consent) -> None:
    """Declining clears the version and the day."""
    options = consent.answered(False, TODAY)
    assert options == _options(share=False, version=None, day=None)
    assert Consent.from_options(options) == Consent()


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.dates().map(date.isoformat),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([CONF_SHARE, CONF_CONSENT_VERSION, CONF_CONSENT_DAY, "x"]),
        _VALUES,
    ),
    st.dates(max_value=date(9000, 1, 1)),
    st.booleans(),
)
def test_consent_any_options_are_read_safely(
    options: dict[str, Any], today: date, share: bool
) -> None:
    """Any options are read without error; current needs all three facts exactly."""
    consent = Consent.from_options(options)
    if consent.current:
        assert options[CONF_SHARE] is True
        assert options[CONF_CONSENT_VERSION] == CONSENT_VERSION
        assert consent.day == date.fromisoformat(options[CONF_CONSENT_DAY])
    if consent.day is not None:
        assert consent.first_day is not None
        assert consent.first_day > consent.day
    answered = Consent.from_options(consent.answered(share, today))
    assert answered.current is share
    if share:
        assert answered.day == (consent.day if consent.current else today)
