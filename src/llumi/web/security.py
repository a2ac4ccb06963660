"""Password hashing, rate limits, request-size limits, security headers and the bind-address rule."""

from __future__ import annotations

import ipaddress
import threading
import time

from llumi.errors import ConfigError

_hasher = None
_DUMMY = None


def _ph():
    global _hasher, _DUMMY
    if _hasher is None:
        from argon2 import PasswordHasher

        _hasher = PasswordHasher()
        _DUMMY = _hasher.hash("not a real password")
    return _hasher


def hash_password(password: str) -> str:
    return _ph().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """argon2 check; with no stored hash, checks against a dummy so a missing user costs the same time."""
    from argon2.exceptions import InvalidHashError, VerificationError

    ph = _ph()
    try:
        return ph.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, users: int, allow_remote: bool = False) -> None:
    """Refuse a non-loopback address unless authentication is configured (a user exists) or the
    operator says so explicitly; every route needs a signed-in user or an API key either way."""
    if is_loopback(host):
        return
    if users == 0 and not allow_remote:
        raise ConfigError(
            f"refusing to listen on {host}: no user exists yet, so nobody could sign in safely. Create one "
            "first (`llumi users add NAME --role admin`), or listen on 127.0.0.1 (the default)"
        )


class RateLimiter:
    """A token bucket per principal (a user or an API key): ``rate`` requests per minute, bursts up to
    ``burst``. In memory: limits reset when the server restarts. ``rate <= 0`` turns limits off."""

    def __init__(self, per_minute: float, burst: int | None = None):
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, int(per_minute // 6) or 1))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, principal: str) -> tuple[bool, float]:
        """(allowed, seconds until a token is free)."""
        if self.rate <= 0:
            return True, 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(principal, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[principal] = (tokens - 1, now)
                return True, 0.0
            self._buckets[principal] = (tokens, now)
            return False, (1 - tokens) / self.rate


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]


class GuardMiddleware:
    """Pure ASGI: security headers on every response, and 413 for a body over ``max_body`` bytes
    (by Content-Length at once, or counted while a chunked body arrives)."""

    def __init__(self, app, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def send_wrapper(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [h for h in message.get("headers", []) if h[0].lower() not in {k for k, _ in HEADERS}]
                headers += HEADERS
                if not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_body
                except ValueError:
                    too_big = True
                if too_big:
                    return await _too_large(send_wrapper, self.max_body)
        if scope["method"] in ("GET", "HEAD", "OPTIONS") or any(n == b"content-length" for n, _ in scope["headers"]):
            return await self.app(scope, receive, send_wrapper)
        # A body without Content-Length (chunked): read it here, up to the limit, then replay it.
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_body:
                return await _too_large(send_wrapper, self.max_body)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send_wrapper)


async def _too_large(send, limit: int) -> None:
    import json

    body = json.dumps({"error": {"message": f"request body is over the limit of {limit} bytes",
                                 "type": "invalid_request_error", "code": "request_too_large"}}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
