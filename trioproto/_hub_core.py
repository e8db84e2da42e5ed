"""The hub's logic: topics, broadcast and send-to-connection for the connections of a server.

Theory of operation
-------------------
A :class:`Hub` knows every open server connection (by :attr:`WebSocket.id`) and, per topic,
the connections subscribed to it. :meth:`Hub.publish`, :meth:`Hub.broadcast` and
:meth:`Hub.send_to` are plain synchronous loops under an ``async`` signature: the message is
framed once per wire form (:class:`PreparedMessage`), then handed to each connection, which
writes it at once when its socket is idle or queues it in its bounded send buffer
(:mod:`._outbox`) for its own flusher task. So a publish never waits for a subscriber's
socket, whoever calls it: a handler, or a feed task outside every handler.

The server registers each connection before its handler starts and removes it, with every
subscription, when the connection task ends, however it ends; a topic without subscribers is
forgotten at once, so a hub whose clients all left holds nothing.

Other nodes (worker processes, machines) are reached through a :class:`Backplane`: the hub
delivers locally first, then hands the message to the backplane, and delivers the
backplane's envelopes from other nodes locally. The hub counts subscribers per topic and tells
the backplane when a topic gets its first local subscriber and loses its last. Without a
backplane the hub is in-process only.

:class:`BaseHub` is generic in the connection type and needs only the :class:`Member`
protocol of a connection, so that a connection can name its hub (``ws.hub``) without this
module importing the connection's: the public :class:`~trioproto.Hub` is
``BaseHub[WebSocket]``, defined in :mod:`._hub`.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import trio

from ._backplane import Backplane, BackplaneUnavailable, Envelope, Kind
from ._outbox import BackpressurePolicy
from ._prepared import PreparedMessage

__all__ = ["MAX_TOPIC_LENGTH", "BaseHub", "HubStatistics", "Member", "check_topic"]

#: Longest topic name, in characters.
MAX_TOPIC_LENGTH = 256

Message = str | bytes | bytearray | memoryview


class Member(Protocol):
    """What the hub needs of a connection (a server :class:`~trioproto.WebSocket`)."""

    #: Its id once made, else ``None`` (it is made when first read).
    _id: uuid.UUID | None

    @property
    def id(self) -> uuid.UUID:
        """The connection's id (:meth:`BaseHub.send_to` takes it); reading it makes it, and
        the connection then tells its hub (:meth:`BaseHub._named`)."""

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol (:meth:`BaseHub.broadcast` may filter on it)."""

    def _deliver(self, message: PreparedMessage, policy: BackpressurePolicy | None) -> bool:
        """Write or queue ``message`` without waiting; whether the connection took it."""


Connection = TypeVar("Connection", bound=Member)


@dataclass(frozen=True, slots=True)
class HubStatistics:
    """Counters of a hub, as returned by :meth:`Hub.statistics`.

    Attributes:
        connections: connections registered (open, or ending right now).
        topics: topics with at least one local subscriber.
        subscriptions: (connection, topic) pairs.
        published: :meth:`Hub.publish` calls on this node.
        broadcasts: :meth:`Hub.broadcast` calls on this node.
        sent_to: :meth:`Hub.send_to` calls on this node.
        remote_envelopes: envelopes from other nodes delivered here.
        remote_failures: publishes, broadcasts and sends that reached the local connections
            but not the other nodes, because the backplane was unavailable.
    """

    connections: int
    topics: int
    subscriptions: int
    published: int
    broadcasts: int
    sent_to: int
    remote_envelopes: int
    remote_failures: int = 0


def check_topic(topic: object) -> str:
    """Return ``topic`` if it is a valid topic name: a non-empty str of at most 256 characters.

    Raises:
        TypeError: not a str.
        ValueError: empty or too long.
    """
    if not isinstance(topic, str):
        raise TypeError(f"a topic is a str, not {type(topic).__name__}")
    if not topic:
        raise ValueError("a topic must not be empty")
    if len(topic) > MAX_TOPIC_LENGTH:
        raise ValueError(f"a topic is at most {MAX_TOPIC_LENGTH} characters, not {len(topic)}")
    return topic


class BaseHub(Generic[Connection]):
    """Fan-out to the connections of one or more servers: topics, broadcast, send-to-one.

    ``serve()`` makes one when not given ``hub=``; pass your own to share it between servers
    or to publish from tasks that have no connection at hand.

    Args:
        backplane: carries messages to other nodes (see :mod:`trioproto._backplane`);
            ``None`` keeps the hub in this process.
        node_id: this node's id among the nodes of a backplane; a new uuid4 hex if ``None``.

    Attributes:
        node_id: this hub's id among the nodes of a backplane (uuid4 hex).
        backplane: the backplane, or ``None``.
    """

    def __init__(self, backplane: Backplane | None = None, *, node_id: str | None = None) -> None:
        self.backplane = backplane
        self.node_id = node_id if node_id is not None else uuid.uuid4().hex
        # The open connections (a dict as an ordered set), and by id those whose id was made
        # (when first read: any id a caller can name is there; no uuid4 for the others).
        self._connections: dict[Connection, None] = {}
        self._by_id: dict[uuid.UUID, Connection] = {}
        # topic -> {connection: its policy for that topic, None for the connection's default}
        self._topics: dict[str, dict[Connection, BackpressurePolicy | None]] = {}
        # connection -> its topics (from its first subscription on): leaving costs O(its
        # subscriptions), and a connection that never subscribes holds no set
        self._subscriptions: dict[Connection, set[str]] = {}
        self._running = False
        self._published = self._broadcasts = self._sent_to = 0
        self._remote = self._remote_failures = 0

    # ------------------------------------------------------------ public API

    @property
    def running(self) -> bool:
        """Whether :meth:`run` is running (``serve()`` starts it if not)."""
        return self._running

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the backplane (if any) until cancelled: deliver other nodes' messages here.

        ``serve()`` runs it for the hub it uses, unless it runs already. Without a backplane
        it only waits; local delivery never needs it.
        """
        if self._running:
            raise RuntimeError("this hub is running already")
        self._running = True
        try:
            if self.backplane is None:
                task_status.started()
                await trio.sleep(math.inf)
            else:
                await self.backplane.run(
                    self.node_id, self._deliver_envelope, task_status=task_status
                )
        finally:
            self._running = False

    async def publish(self, topic: str, message: Message) -> int:
        """Send ``message`` to every subscriber of ``topic``: ``str`` as text, bytes as binary.

        Never waits for a subscriber: each one gets the frame now or in its send buffer.

        Returns:
            the number of local connections it was written or queued for.

        Raises:
            ValueError: ``topic`` is empty or longer than 256 characters.
            TypeError: ``topic`` is not a str, or ``message`` neither str nor bytes-like.

        With a backplane that cannot reach the other nodes now (a broker outage), the local
        subscribers still get the message and nothing is raised: the miss is counted
        (``remote_failures`` here, ``publish_failures`` in the backplane's statistics) and
        the backplane logs the outage once. Delivery across nodes is at most once.
        """
        check_topic(topic)
        prepared = PreparedMessage.of(message)
        self._published += 1
        count = self._deliver_to_topic(topic, prepared)
        await self._forward(Kind.PUBLISH, topic, prepared)
        return count

    async def broadcast(self, message: Message, subprotocol: str | None = None) -> int:
        """Send ``message`` to every connection, or to those that negotiated ``subprotocol``.

        Returns:
            the number of local connections it was written or queued for.
        """
        prepared = PreparedMessage.of(message)
        self._broadcasts += 1
        count = self._deliver_to_all(subprotocol, prepared)
        await self._forward(Kind.BROADCAST, subprotocol or "", prepared)
        return count

    async def send_to(self, connection_id: uuid.UUID | str, message: Message) -> bool:
        """Send ``message`` to the connection whose :attr:`WebSocket.id` is ``connection_id``.

        Returns:
            whether a local connection took it. With a backplane, an id unknown here is
            forwarded to the other nodes and ``False`` is returned.

        Raises:
            ValueError: ``connection_id`` is not a UUID.
        """
        key = _connection_key(connection_id)
        prepared = PreparedMessage.of(message)
        self._sent_to += 1
        websocket = self._by_id.get(key)
        if websocket is not None:
            delivered = websocket._deliver(prepared, None)
            await trio.lowlevel.checkpoint()
            return delivered
        await self._forward(Kind.SEND_TO, str(key), prepared)
        return False

    def subscribe(
        self, websocket: Connection, topic: str, policy: BackpressurePolicy | str | None = None
    ) -> None:
        """Subscribe ``websocket`` to ``topic`` (what :meth:`WebSocket.subscribe` does).

        Subscribing again replaces the subscription's policy.

        Raises:
            ValueError: an invalid topic or policy.
            RuntimeError: the connection is not registered with this hub (it has ended).
        """
        check_topic(topic)
        chosen = None if policy is None else BackpressurePolicy.coerce(policy)
        if websocket not in self._connections:
            raise RuntimeError(f"connection {websocket.id} is not open on this hub")
        topics = self._subscriptions.get(websocket)
        if topics is None:  # its first subscription: a connection without any holds no set
            topics = self._subscriptions[websocket] = set()
        subscribers = self._topics.get(topic)
        if subscribers is None:
            subscribers = self._topics[topic] = {}
            if self.backplane is not None:
                self.backplane.subscribe(topic)
        subscribers[websocket] = chosen
        topics.add(topic)

    def unsubscribe(self, websocket: Connection, topic: str) -> None:
        """End the subscription of ``websocket`` to ``topic``; nothing if there is none."""
        topics = self._subscriptions.get(websocket)
        if topics is not None:
            topics.discard(topic)
        subscribers = self._topics.get(topic)
        if subscribers is None:
            return
        subscribers.pop(websocket, None)
        if not subscribers:
            del self._topics[topic]
            if self.backplane is not None:
                self.backplane.unsubscribe(topic)

    def subscribers(self, topic: str) -> int:
        """How many local connections are subscribed to ``topic``."""
        return len(self._topics.get(topic, ()))

    def connection(self, connection_id: uuid.UUID | str) -> Connection | None:
        """The local connection with this id, or ``None``."""
        try:
            key = _connection_key(connection_id)
        except ValueError:
            return None
        return self._by_id.get(key)

    def statistics(self) -> HubStatistics:
        """Counters of this hub."""
        return HubStatistics(
            connections=len(self._connections),
            topics=len(self._topics),
            subscriptions=sum(len(topics) for topics in self._subscriptions.values()),
            published=self._published,
            broadcasts=self._broadcasts,
            sent_to=self._sent_to,
            remote_envelopes=self._remote,
            remote_failures=self._remote_failures,
        )

    # ------------------------------------------------- used by the server

    def _attach(self, websocket: Connection) -> None:
        """Register a connection whose handler is about to start."""
        self._connections[websocket] = None
        if websocket._id is not None:
            self._by_id[websocket._id] = websocket

    def _named(self, websocket: Connection) -> None:
        """The id of ``websocket`` was just made: find it by that id while it is open."""
        if websocket in self._connections and websocket._id is not None:
            self._by_id[websocket._id] = websocket

    def _detach(self, websocket: Connection) -> None:
        """Forget a connection that ended, with all its subscriptions."""
        self._connections.pop(websocket, None)
        if websocket._id is not None:
            self._by_id.pop(websocket._id, None)
        for topic in self._subscriptions.pop(websocket, set()):
            self.unsubscribe(websocket, topic)

    # ------------------------------------------------------------- delivery

    def _deliver_to_topic(self, topic: str, prepared: PreparedMessage) -> int:
        subscribers = self._topics.get(topic)
        if not subscribers:
            return 0
        count = 0
        for websocket, policy in list(subscribers.items()):
            count += websocket._deliver(prepared, policy)
        return count

    def _deliver_to_all(self, subprotocol: str | None, prepared: PreparedMessage) -> int:
        count = 0
        for websocket in list(self._connections):
            if subprotocol is None or websocket.subprotocol == subprotocol:
                count += websocket._deliver(prepared, None)
        return count

    async def _forward(self, kind: Kind, target: str, prepared: PreparedMessage) -> None:
        if self.backplane is None:
            await trio.lowlevel.checkpoint()
            return
        envelope = Envelope(kind, target, prepared.payload, prepared.text, self.node_id)
        try:
            await self.backplane.publish(envelope)
        except BackplaneUnavailable:
            # Local delivery happened; a broker outage must not fail the caller (often a
            # handler, which would close its own connection). The backplane logs the outage.
            self._remote_failures += 1

    def _deliver_envelope(self, envelope: Envelope) -> None:
        """Deliver another node's envelope to the local connections it targets."""
        if envelope.origin == self.node_id:
            return
        self._remote += 1
        prepared = PreparedMessage(envelope.payload, envelope.text)
        if envelope.kind is Kind.PUBLISH:
            self._deliver_to_topic(envelope.target, prepared)
        elif envelope.kind is Kind.BROADCAST:
            self._deliver_to_all(envelope.target or None, prepared)
        else:
            try:
                key = uuid.UUID(envelope.target)
            except ValueError:
                return
            websocket = self._by_id.get(key)
            if websocket is not None:
                websocket._deliver(prepared, None)


def _connection_key(connection_id: uuid.UUID | str) -> uuid.UUID:
    if isinstance(connection_id, uuid.UUID):
        return connection_id
    try:
        return uuid.UUID(str(connection_id))
    except ValueError:
        raise ValueError(f"{connection_id!r} is not a connection id (a UUID)") from None
