"""What every library adapter is: a consumer that connects, subscribes and hits the recorder; and
price levels as exact strings."""

from __future__ import annotations

from typing import Any

from ..common import Levels
from ..recorder import Recorder


class Adapter:
    """One library's consumer: ``run`` connects, subscribes and consumes until cancelled."""

    def __init__(self, config: dict[str, Any], rec: Recorder) -> None:
        self.config = config
        self.rec = rec
        self.scenario: str = config["scenario"]
        self.ep: dict[str, str] = config["endpoints"]

    async def run(self) -> None:
        raise NotImplementedError

    def book(self) -> tuple[Levels, Levels] | None:
        return None

    def stats(self) -> dict[str, int] | None:
        """The library's own count of book messages applied and resyncs, where it keeps one."""
        return None

    async def close(self) -> None:
        return None


def levels_of(pairs: Any) -> Levels:
    """Price/quantity pairs (strings, floats, Decimals) as exact strings; floats by ``repr``."""
    return [
        (repr(p) if isinstance(p, float) else str(p), repr(q) if isinstance(q, float) else str(q))
        for p, q in pairs
    ]
