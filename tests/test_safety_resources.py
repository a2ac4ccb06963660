"""Crisis resources: one vetted entry per country, fresh, with a fallback that never guesses."""

import datetime as dt

from llumi.safety.resources import country_code, load_resources

REQUIRED = {"US": "988", "CA": "988", "GB": "116 123", "IE": "116 123", "AU": "13 11 14", "NZ": "1737"}
EMERGENCY = {"US": "911", "CA": "911", "GB": "999", "IE": "112", "AU": "000", "NZ": "111"}


def test_every_required_country_has_a_complete_entry():
    res = load_resources()
    for code, number in REQUIRED.items():
        r = res.countries[code]
        assert number in [c.value for c in r.channels]
        assert r.emergency == EMERGENCY[code]
        assert r.service and r.source.startswith("https://")
        assert {c.type for c in r.channels} <= {"call", "text", "chat"}


def test_no_entry_is_older_than_its_allowed_age():
    res = load_resources()
    assert res.stale(dt.date.today()) == [], "re-verify these entries against their source and update `verified`"


def test_staleness_is_detected():
    res = load_resources()
    later = max(r.verified for r in res.countries.values()) + dt.timedelta(days=res.max_age_days + 1)
    assert res.stale(later) == sorted(res.countries)


def test_locale_selection_and_fallback():
    res = load_resources()
    assert country_code("en-GB") == "GB" and country_code("en_us") == "US" and country_code("uk") == "GB"
    assert res.for_locale("en-NZ").code == "NZ"
    fb = res.for_locale("fr-FR")
    assert "local emergency services" in fb.line() and "findahelpline.com" in fb.line()
    assert res.for_locale(None) is fb


def test_vetted_numbers_and_links():
    res = load_resources()
    assert {"988", "116123", "131114", "1737", "911", "999", "112", "000", "111"} <= res.vetted_numbers()
    assert "988lifeline.org" in res.vetted_urls() and "findahelpline.com" in res.vetted_urls()
