"""How hand-off envelopes travel: a one-method transport, an in-process one, and the delivery plugin.

The outbox worker calls ``procflow_deliver_handoff`` for every ``exchange.handoff`` row;
:class:`HandoffAdapter` answers it by passing the signed bytes, unchanged, to a :class:`HandoffTransport`.
A real deployment supplies a transport that speaks its exchange platform (an X-Road security server, the
national document-exchange axis, HTTPS between provincial nodes); :class:`LocalTransport` delivers to
:class:`~procflow.exchange.transfer.ExchangeNode` objects in the same process, for tests, demos and
simulations, and shows the contract every transport keeps:

* the receiving node *imported* the envelope, or already had it (its answer was ``replayed``): return a
  receipt; at-least-once delivery makes the second case normal;
* the node refused it (any other reason code): :class:`PermanentAdapterError`, so the row dead-letters
  with the reason for a person to read; retrying identical bytes cannot change the answer;
* the node could not be reached, or was busy (a concurrent change): :class:`RetryableAdapterError`;
* the transport does not serve that node: ``None``, so another transport may.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from procflow.engine.outbox import Delivery
from procflow.errors import ConcurrencyConflict, PermanentAdapterError, RetryableAdapterError, StoreError
from procflow.exchange.errors import EnvelopeRejected, ReplayedMessage
from procflow.exchange.transfer import ExchangeNode
from procflow.hookspecs import hookimpl

__all__ = ["HandoffAdapter", "HandoffTransport", "LocalTransport"]


@runtime_checkable
class HandoffTransport(Protocol):
    def send(self, to_agency: str, envelope: bytes, *, message_id: str, timeout: float) -> object | None:
        """Deliver ``envelope`` to node ``to_agency``; a receipt, ``None`` (not served) or an AdapterError."""
        ...


class LocalTransport:
    """Delivers to nodes in this process, by node agency code."""

    def __init__(self, nodes: Iterable[ExchangeNode] = ()) -> None:
        self.nodes: dict[str, ExchangeNode] = {}
        self.sent: list[tuple[str, str]] = []  # (node, message id) per attempt, for tests
        for node in nodes:
            self.add(node)

    def add(self, node: ExchangeNode) -> None:
        self.nodes[node.agency] = node

    def send(self, to_agency: str, envelope: bytes, *, message_id: str, timeout: float) -> object | None:
        node = self.nodes.get(to_agency)
        if node is None:
            return None
        self.sent.append((to_agency, message_id))
        try:
            received = node.receive(envelope, source=f"message {message_id}")
        except ReplayedMessage:
            return f"{to_agency}:{message_id}:already-received"
        except EnvelopeRejected as exc:
            raise PermanentAdapterError(f"node {to_agency} refused {message_id} [{exc.reason}]") from exc
        except (ConcurrencyConflict, StoreError) as exc:
            raise RetryableAdapterError(f"node {to_agency} could not import {message_id} now: "
                                        f"{type(exc).__name__}") from exc
        return f"{to_agency}:{message_id}:imported:{received.new_events[-1].seq}"


class HandoffAdapter:
    """The plugin that carries ``exchange.handoff`` outbox rows over ``transport``."""

    def __init__(self, transport: HandoffTransport) -> None:
        self.transport = transport

    @hookimpl
    def procflow_deliver_handoff(self, message: Delivery, timeout: float) -> object | None:
        payload = message.payload
        envelope = payload["envelope"]
        data = envelope.encode("utf-8") if isinstance(envelope, str) else bytes(envelope)
        return self.transport.send(payload["to_agency"], data, message_id=payload["message_id"], timeout=timeout)
