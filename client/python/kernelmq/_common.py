"""What the sync and asyncio fronts share: defaults, session keys, the
socket, hello failures and the client properties."""
from __future__ import annotations

import os
import secrets
from typing import Optional

import zmq

from . import _keys, errors
from ._local import LocalBroker
from ._protocol import MAX_HEADER, MAX_PAYLOAD, Connection, session_valid

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"
HELLO_TIMEOUT = 5.0
CLIENT_NAME = "kernelmq-python 0.1"


def default_endpoint() -> str:
    """$KMQ_ENDPOINT, else tcp://127.0.0.1:5555."""
    return os.environ.get("KMQ_ENDPOINT") or DEFAULT_ENDPOINT


def new_session_key() -> str:
    """A fresh random 128-bit session key (32 hex digits)."""
    return secrets.token_hex(16)


def check_session_key(key: str) -> str:
    if not session_valid(key):
        raise errors.BadRequest("invalid session key %r: use 1-128 characters of "
                                "A-Z a-z 0-9 . _ : -" % (key,))
    return key


def dealer(context: zmq.Context, endpoint: str) -> zmq.Socket:
    """A DEALER connected to endpoint that refuses frames over the protocol's
    hard cap (a hostile peer cannot make us buffer more)."""
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_PAYLOAD + MAX_HEADER)
    try:
        # CURVE on tcp with the keys of the user's config dir (_keys)
        _keys.apply(sock, endpoint)
    except ValueError as exc:
        sock.close()
        raise errors.BrokerUnreachable(str(exc)) from None
    try:
        sock.connect(endpoint)
    except zmq.ZMQError as exc:
        sock.close()
        raise errors.BrokerUnreachable("cannot connect to %s: %s (an endpoint looks like "
                                       "tcp://HOST:PORT or ipc://PATH)" % (endpoint, exc))
    return sock


def hello_failed(endpoint: str, timeout: float, exc: errors.Error,
                 local: Optional[LocalBroker]) -> errors.Error:
    """The exception for a hello that got no ok answer."""
    if isinstance(exc, errors.BrokerUnreachable):
        text = "broker at %s did not answer within %g s: is kmq-broker running?" % (
            endpoint, timeout)
        if endpoint.startswith("tcp://"):
            text += " and does it allow our key (kmq keys)?"
        if local is not None:
            text += local.describe_failure()
        return errors.BrokerUnreachable(text)
    return exc


class ClientBase:
    """The state both fronts keep: the endpoint, the protocol connection and
    an owned local broker."""

    def __init__(self, endpoint: Optional[str], local: Optional[LocalBroker]) -> None:
        self.endpoint = endpoint or default_endpoint()
        self._local = local
        self._conn = Connection(self.endpoint)

    @property
    def broker(self) -> str:
        """The broker's name and release, from hello."""
        return self._conn.broker

    @property
    def max_payload(self) -> int:
        """The largest payload the broker takes; larger ones raise TooLarge
        before anything is sent."""
        return self._conn.max_payload

    def _session_key(self, key: Optional[str]) -> str:
        return check_session_key(key) if key is not None else new_session_key()
