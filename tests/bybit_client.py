"""A minimal, independent Bybit v5 REST client for testing the simulator: stdlib HTTP and the
X-BAPI-* header signing as Bybit documents it (PROTOCOLS.md 2.3), sharing no code with it."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message
from typing import Any

from tradewire import Credentials


def sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class BybitRest:
    def __init__(self, base: str, credentials: Credentials, clock_offset_ms: int = 0) -> None:
        self.base = base
        self.credentials = credentials
        self.clock_offset_ms = clock_offset_ms

    def request(
        self, method: str, path: str, params: dict[str, Any] | None = None, *, signed: bool = False, **kw: Any
    ) -> tuple[int, Any, Message]:
        params = dict(params or {})
        headers = {"Content-Type": "application/json"}
        body: bytes | None = None
        query = ""
        if method == "GET":
            query = urllib.parse.urlencode(params)
            payload = query
        else:
            payload = json.dumps(params)
            body = payload.encode()
        if signed:
            ts = str(kw.pop("timestamp", int(time.time() * 1000) + self.clock_offset_ms))
            key = kw.pop("api_key", self.credentials.api_key)
            secret = kw.pop("secret", self.credentials.api_secret)
            recv = "5000"
            headers.update(
                {
                    "X-BAPI-API-KEY": key,
                    "X-BAPI-TIMESTAMP": ts,
                    "X-BAPI-RECV-WINDOW": recv,
                    "X-BAPI-SIGN": sign(secret, ts + key + recv + payload),
                }
            )
        url = f"{self.base}{path}" + (f"?{query}" if query else "")
        request = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read()), response.headers
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                decoded: Any = json.loads(raw)
            except ValueError:
                decoded = raw.decode()
            return err.code, decoded, err.headers
