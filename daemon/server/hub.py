"""Fan-out of job updates to SSE listeners. The worker thread publishes through
``publish_threadsafe``; listeners are asyncio queues on the event loop."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any, Optional

CLOSE = None  # sentinel put on a queue when the daemon shuts down


class EventHub:
    def __init__(self) -> None:
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._subs: dict[str, set[asyncio.Queue]] = defaultdict(set)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, job_id: str) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue()
        self._subs[job_id].add(q)
        return q

    def unsubscribe(self, job_id: str, q: asyncio.Queue) -> None:
        subs = self._subs.get(job_id)
        if subs is not None:
            subs.discard(q)
            if not subs:
                self._subs.pop(job_id, None)

    def publish(self, job_id: str, event: str, data: dict[str, Any]) -> None:
        """On the loop thread."""
        for q in list(self._subs.get(job_id, ())):
            q.put_nowait((event, data))

    def publish_threadsafe(self, job_id: str, event: str, data: dict[str, Any]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.publish, job_id, event, data)
            except RuntimeError:  # loop closing
                pass

    def close_all(self) -> None:
        for subs in list(self._subs.values()):
            for q in list(subs):
                q.put_nowait(CLOSE)
