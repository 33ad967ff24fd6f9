"""A minimal, independent Binance REST client for testing the simulator: stdlib HTTP and
HMAC-SHA256 exactly as Binance documents them (PROTOCOLS.md 2.1), sharing no code with it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any

from tradewire import Credentials


@dataclass
class Reply:
    status: int
    body: Any
    #: Case-insensitive, as HTTP header names are (hyper sends them lower-case).
    headers: Message


class BinanceRest:
    def __init__(self, base: str, credentials: Credentials | None = None, clock_offset_ms: int = 0) -> None:
        self.base = base
        self.credentials = credentials
        self.clock_offset_ms = clock_offset_ms

    def request(
        self, method: str, path: str, params: dict[str, Any] | None = None, *, signed: bool = False, **kw: Any
    ) -> Reply:
        params = dict(params or {})
        headers: dict[str, str] = {}
        if self.credentials is not None:
            headers["X-MBX-APIKEY"] = kw.pop("api_key", self.credentials.api_key)
        if signed:
            params.setdefault("timestamp", int(time.time() * 1000) + self.clock_offset_ms)
            query = urllib.parse.urlencode(params)
            secret = kw.pop("secret", self.credentials.api_secret if self.credentials else "")
            signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
            query += f"&signature={signature}"
        else:
            query = urllib.parse.urlencode(params)
        url = f"{self.base}{path}" + (f"?{query}" if query else "")
        request = urllib.request.Request(url, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=kw.pop("timeout", 10)) as response:
                return Reply(response.status, json.loads(response.read() or b"null"), response.headers)
        except urllib.error.HTTPError as err:
            raw = err.read()
            return Reply(err.code, json.loads(raw) if raw else None, err.headers)
