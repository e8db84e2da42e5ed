"""One connection's send buffer for hub messages: bounded in bytes, with a policy at the limit.

Pure Python (no trio): the connection decides when to write, this module only decides what is
kept. Entries are pre-framed, immutable ``bytes`` shared by every connection the message went
to, so a queued message costs this connection a reference, not a copy; the limit still counts
each entry's full length, since that is what the socket will have to take.

Policies, when a message would take the buffer past ``Limits.max_send_buffer``:

* ``close`` (the default): the connection is failed with 1013 Try Again Later (RFC 6455
  §7.4.1 via the IANA registry; the code is configurable) and the buffer is freed. Nothing is
  lost silently, and a client that reconnects can catch up by its own means.
* ``drop_oldest``: evict the oldest queued messages until the new one fits ("latest value"
  feeds: a quote from a second ago is worth less than the current one). Messages queued
  under the ``close`` policy are never evicted: their subscription asked for all or nothing.
* ``drop_newest``: drop the message that does not fit.

Every drop and every policy close is counted here and in the server's
:class:`DeliveryCounters`, and the first of each on a connection is logged (INFO for drops,
WARNING for the close); later drops only count, so a stalled client cannot flood the log.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter, deque
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

from ._sansio._frames import MAX_CLOSE_REASON, is_sendable_close_code

__all__ = ["BackpressurePolicy", "DeliveryCounters", "OnLimit", "Outbox", "Verdict"]

logger = logging.getLogger("trioproto")

OnLimit: TypeAlias = Literal["close", "drop_oldest", "drop_newest"]
_ON_LIMIT: tuple[OnLimit, ...] = ("close", "drop_oldest", "drop_newest")


@dataclass(frozen=True, slots=True)
class BackpressurePolicy:
    """What happens when a hub message would overflow a connection's send buffer.

    Pass one (or just the ``on_limit`` string) as ``serve(..., backpressure=...)`` for a
    server's default, or as ``ws.subscribe(topic, policy=...)`` for one subscription.

    Attributes:
        on_limit: ``"close"``, ``"drop_oldest"`` or ``"drop_newest"``.
        close_code: the close code for ``"close"``; 1013 (Try Again Later) by default.
        close_reason: the close reason for ``"close"`` (at most 123 bytes of UTF-8).
    """

    on_limit: Literal["close", "drop_oldest", "drop_newest"] = "close"  # = OnLimit, written out
    close_code: int = 1013
    close_reason: str = "send buffer full"

    def __post_init__(self) -> None:
        if self.on_limit not in _ON_LIMIT:
            raise ValueError(
                f"on_limit must be one of {', '.join(_ON_LIMIT)}, not {self.on_limit!r}"
            )
        if not is_sendable_close_code(self.close_code):
            raise ValueError(f"close_code {self.close_code!r} may not be sent in a close frame")
        if len(self.close_reason.encode("utf-8")) > MAX_CLOSE_REASON:
            raise ValueError(f"close_reason must be at most {MAX_CLOSE_REASON} bytes of UTF-8")

    @classmethod
    def coerce(cls, value: BackpressurePolicy | str) -> BackpressurePolicy:
        """``value`` itself, or a policy with ``on_limit=value`` for a string."""
        if isinstance(value, BackpressurePolicy):
            return value
        if not isinstance(value, str):
            raise TypeError(f"a backpressure policy is a BackpressurePolicy or str, not {value!r}")
        return cls(on_limit=value)  # type: ignore[arg-type]  # checked in __post_init__


DEFAULT_POLICY = BackpressurePolicy()


class DeliveryCounters:
    """Drops and policy closes summed over the connections of one server.

    Attributes:
        dropped: hub messages dropped, whatever the policy.
        dropped_by_policy: the same, by the ``on_limit`` of the message whose arrival caused
            the drop (``"drop_oldest"``: it evicted older ones, or could not fit itself).
        closes: connections closed by the ``close`` policy.
    """

    __slots__ = ("closes", "dropped", "dropped_by_policy")

    def __init__(self) -> None:
        self.dropped = 0
        self.dropped_by_policy: Counter[OnLimit] = Counter()
        self.closes = 0


class Named(Protocol):
    """What logs name a connection by (a ``WebSocket``: its id, made when first read)."""

    @property
    def id(self) -> object:
        """The connection's id."""


class Verdict(enum.Enum):
    """What :meth:`Outbox.put` did with a message."""

    QUEUED = "queued"
    DROPPED = "dropped"  # the new message was dropped (drop_newest, or it could not fit)
    CLOSE = "close"  # over the limit under the close policy: fail the connection


class Outbox:
    """The queued hub messages of one connection, oldest first.

    Args:
        limit: the byte limit (``Limits.max_send_buffer``); ``None`` for no limit.
        policy: the policy for messages queued without their own.
        counters: the server's counters, also incremented on every drop and close.
        owner: the connection, whose ``id`` names it in logs (the connection sets itself:
            its id is read only when a log needs it).
    """

    __slots__ = (
        "_counters",
        "_entries",
        "_next_seq",
        "_size",
        "closed",
        "closed_for_limit",
        "dropped",
        "limit",
        "owner",
        "partial",
        "policy",
        "queued_total",
    )

    def __init__(
        self,
        limit: int | None,
        policy: BackpressurePolicy = DEFAULT_POLICY,
        counters: DeliveryCounters | None = None,
        owner: Named | None = None,
    ) -> None:
        self.limit = limit
        self.policy = policy
        self._counters = counters if counters is not None else DeliveryCounters()
        self.owner = owner
        # (sequence number, frame, whether it may be evicted by drop_oldest); made by the
        # first put(): most connections never queue a hub message (a deque is about 600 bytes).
        self._entries: deque[tuple[int, bytes, bool]] | None = None
        self._size = 0
        self._next_seq = 0
        #: The unwritten rest of a frame partly written already: always written first.
        self.partial: memoryview | None = None
        #: No more messages are taken (the connection is closing, or failed for the limit).
        self.closed = False
        self.dropped = 0
        self.closed_for_limit = False
        self.queued_total = 0

    @property
    def size(self) -> int:
        """Bytes queued (a partly written frame not included)."""
        return self._size

    @property
    def queued(self) -> int:
        """How many messages are queued (a partly written frame not included)."""
        return 0 if self._entries is None else len(self._entries)

    @property
    def pending(self) -> bool:
        """Whether anything waits to be written."""
        return bool(self._entries) or self.partial is not None

    @property
    def next_seq(self) -> int:
        """The sequence number the next queued message will get: a mark for :meth:`pop`."""
        return self._next_seq

    def put(self, frame: bytes, policy: BackpressurePolicy | None = None) -> Verdict:
        """Queue ``frame`` under ``policy`` (the default policy if ``None``)."""
        if policy is None:
            policy = self.policy
        size = len(frame)
        limit = self.limit
        if limit is not None and self._size + size > limit:
            if policy.on_limit == "close":
                self._close_for_limit(policy)
                return Verdict.CLOSE
            if (
                policy.on_limit == "drop_newest"
                or size > limit
                or not self._evict(size, limit, policy.on_limit)
            ):
                self._count_drops(1, policy.on_limit, "the newest")
                return Verdict.DROPPED
        entries = self._entries
        if entries is None:
            entries = self._entries = deque()
        entries.append((self._next_seq, frame, policy.on_limit != "close"))
        self._next_seq += 1
        self._size += size
        self.queued_total += 1
        return Verdict.QUEUED

    def pop(self, before: int | None = None) -> bytes | None:
        """Take the oldest frame, if any (and, given ``before``, if queued before that mark)."""
        entries = self._entries
        if not entries or (before is not None and entries[0][0] >= before):
            return None
        _seq, frame, _droppable = entries.popleft()
        self._size -= len(frame)
        return frame

    def take_partial(self) -> memoryview | None:
        """Take the rest of a partly written frame, if any."""
        partial, self.partial = self.partial, None
        return partial

    def discard(self) -> None:
        """Forget every queued frame and take no more (the connection is closing)."""
        self.closed = True
        self._entries = None
        self._size = 0

    def _owner_id(self) -> object:
        return "" if self.owner is None else self.owner.id

    def _close_for_limit(self, policy: BackpressurePolicy) -> None:
        self.discard()
        self.closed_for_limit = True
        self._counters.closes += 1
        logger.warning(
            "connection %s: over %d bytes of hub messages queued; closing it with %d",
            self._owner_id(),
            self.limit,
            policy.close_code,
        )

    def _evict(self, size: int, limit: int, on_limit: OnLimit) -> bool:
        """Drop the oldest droppable entries until ``size`` more bytes fit; whether they do."""
        entries = self._entries
        assert entries is not None  # called only when the limit is reached: something is queued
        evicted = 0
        while entries and entries[0][2] and self._size + size > limit:
            self._size -= len(entries.popleft()[1])
            evicted += 1
        if self._size + size > limit:
            # A message queued under "close" is in the way: keep it, evict around it.
            kept: deque[tuple[int, bytes, bool]] = deque()
            for entry in entries:
                if entry[2] and self._size + size > limit:
                    self._size -= len(entry[1])
                    evicted += 1
                else:
                    kept.append(entry)
            self._entries = kept
        if evicted:
            self._count_drops(evicted, on_limit, "the oldest")
        return self._size + size <= limit

    def _count_drops(self, count: int, on_limit: OnLimit, which: str) -> None:
        """Count ``count`` dropped messages (``which``: "the newest" or "the oldest") under
        the policy ``on_limit`` of the message that caused it; log the connection's first."""
        if not self.dropped:
            logger.info(
                "connection %s: send buffer full (%d bytes); dropping %s hub messages, "
                "counted in its statistics from now on",
                self._owner_id(),
                self.limit,
                which,
            )
        self.dropped += count
        self._counters.dropped += count
        self._counters.dropped_by_policy[on_limit] += count
