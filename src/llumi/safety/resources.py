"""Vetted crisis resources (``resources.yaml``): one entry per country, a fallback that never guesses.

The output guard lets a phone number, short code or link through only when it is listed here, so a
hallucinated hotline can never reach a person in crisis.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from llumi.errors import ConfigError

RESOURCES_FILE = Path(__file__).with_name("resources.yaml")
ALIASES = {"UK": "GB", "EN": None}


@dataclass(frozen=True)
class Channel:
    type: str  # call | text | chat
    value: str


@dataclass(frozen=True)
class Resource:
    code: str
    country: str
    service: str
    channels: tuple[Channel, ...]
    emergency: str
    source: str
    verified: _dt.date
    emergency_alt: str | None = None

    def line(self) -> str:
        """One sentence a supporter or a draft can show, e.g. 'Samaritans: call 116 123 (UK)'."""
        how: dict[str, list[str]] = {}
        for c in self.channels:
            how.setdefault(c.value, []).append(c.type)
        parts = []
        for value, types in how.items():
            verbs = [t for t in types if t in ("call", "text")]
            if verbs:
                parts.append(f"{' or '.join(verbs)} {value}")
            else:
                parts.append(f"chat at {value}")
        emergency = self.emergency + (f" or {self.emergency_alt}" if self.emergency_alt else "")
        return (f"{self.service} ({self.country}): {', '.join(parts)}, any time. "
                f"In an emergency, call {emergency}.")

    def to_dict(self) -> dict:
        return {
            "code": self.code, "country": self.country, "service": self.service,
            "channels": [{"type": c.type, "value": c.value} for c in self.channels],
            "emergency": self.emergency, "emergency_alt": self.emergency_alt,
            "source": self.source, "verified": self.verified.isoformat(), "line": self.line(),
        }


@dataclass(frozen=True)
class Fallback:
    text: str
    directory_url: str

    def line(self) -> str:
        return self.text


@dataclass(frozen=True)
class Resources:
    countries: dict[str, Resource]
    fallback: Fallback
    max_age_days: int

    def for_locale(self, locale: str | None) -> Resource | Fallback:
        """The entry for a locale ('en-GB', 'en_US', 'NZ', 'uk'); the fallback when there is none."""
        code = country_code(locale)
        return self.countries.get(code, self.fallback) if code else self.fallback

    def vetted_numbers(self) -> set[str]:
        """Digits of every listed number (lines and emergency numbers)."""
        out = set()
        for r in self.countries.values():
            out.update(_digits(c.value) for c in r.channels if c.type in ("call", "text"))
            out.add(_digits(r.emergency))
            if r.emergency_alt:
                out.add(_digits(r.emergency_alt))
        return out

    def vetted_urls(self) -> set[str]:
        """Host + path of every listed link (the fallback directory included), without scheme or www."""
        urls = {url_key(self.fallback.directory_url)}
        for r in self.countries.values():
            urls.add(url_key(r.source))
            urls.update(url_key(c.value) for c in r.channels if c.type == "chat")
        return urls

    def stale(self, today: _dt.date | None = None, max_age_days: int | None = None) -> list[str]:
        """Codes of entries verified longer ago than the allowed age."""
        today = today or _dt.date.today()
        limit = self.max_age_days if max_age_days is None else max_age_days
        return sorted(c for c, r in self.countries.items() if (today - r.verified).days > limit)


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def url_key(url: str) -> str:
    u = re.sub(r"^[a-z]+://", "", url.strip().lower())
    u = re.sub(r"^www\.", "", u)
    return u.rstrip("/.")


def country_code(locale: str | None) -> str | None:
    """'en-GB' -> 'GB', 'en_us' -> 'US', 'uk' -> 'GB', 'nz' -> 'NZ'; None when no country is named."""
    if not locale:
        return None
    parts = [p for p in re.split(r"[-_.@]", locale.strip()) if p]
    candidates = parts[1:] + parts[:1] if len(parts) > 1 else parts
    for p in candidates:
        p = p.upper()
        if p in ALIASES:
            if ALIASES[p]:
                return ALIASES[p]
            continue
        if len(p) == 2 and p.isalpha():
            return p
    return None


@functools.lru_cache(maxsize=4)
def load_resources(path: str | None = None) -> Resources:
    """Read and validate the resources file (cached)."""
    p = Path(path) if path else RESOURCES_FILE
    try:
        raw = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"crisis resources file {p} cannot be read: {e}") from None
    countries = {}
    for code, entry in (raw.get("countries") or {}).items():
        missing = [k for k in ("country", "service", "channels", "emergency", "source", "verified") if not entry.get(k)]
        if missing:
            raise ConfigError(f"{p}: entry {code} lacks {', '.join(missing)}")
        verified = entry["verified"]
        if isinstance(verified, str):
            verified = _dt.date.fromisoformat(verified)
        countries[code.upper()] = Resource(
            code=code.upper(), country=entry["country"], service=entry["service"],
            channels=tuple(Channel(c["type"], str(c["value"])) for c in entry["channels"]),
            emergency=str(entry["emergency"]), source=entry["source"], verified=verified,
            emergency_alt=str(entry["emergency_alt"]) if entry.get("emergency_alt") else None,
        )
    fb = raw.get("fallback") or {}
    if not fb.get("text") or not fb.get("directory_url"):
        raise ConfigError(f"{p}: the fallback needs `text` and `directory_url`")
    return Resources(countries, Fallback(" ".join(fb["text"].split()), fb["directory_url"]), int(raw.get("max_age_days", 365)))
