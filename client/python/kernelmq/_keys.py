"""CURVE keys for tcp endpoints, found where the C clients find them.

The config directory is $KMQ_CONFIG_DIR, else $XDG_CONFIG_HOME/kernelmq,
else ~/.config/kernelmq (mode 0700). It holds czmq certificate files:
broker.key (the broker's public key) and client.key_secret (this user's
key pair). $KMQ_BROKER_KEY (a z85 key or a certificate file) and
$KMQ_CLIENT_KEY (a secret certificate file) override them; KMQ_INSECURE=1
connects without CURVE (for a broker run with --insecure). ipc:// needs no
keys: its directory's permissions guard it.
"""
from __future__ import annotations

import os
import re
from typing import Optional, Tuple

import zmq

_KEY_LINE = re.compile(r'^\s*(public|secret)-key\s*=\s*"(.{40})"\s*$', re.M)
_ZERO = "0" * 40


def config_dir() -> Optional[str]:
    """The config directory (see the module docstring), or None."""
    if os.environ.get("KMQ_CONFIG_DIR"):
        return os.environ["KMQ_CONFIG_DIR"]
    if os.environ.get("XDG_CONFIG_HOME"):
        return os.path.join(os.environ["XDG_CONFIG_HOME"], "kernelmq")
    if os.environ.get("HOME"):
        return os.path.join(os.environ["HOME"], ".config", "kernelmq")
    return None


def read_cert(path: str) -> Tuple[Optional[str], Optional[str]]:
    """(public, secret) z85 keys of a czmq certificate file (path, or
    path_secret when it exists); None for what it lacks or cannot read."""
    for candidate in (path + "_secret", path):
        try:
            with open(candidate, "r", encoding="utf-8") as f:
                found = dict(_KEY_LINE.findall(f.read()))
        except OSError:
            continue
        public, secret = found.get("public"), found.get("secret")
        return public, (secret if secret and secret != _ZERO else None)
    return None, None


def identity(text_or_path: str) -> Optional[str]:
    """A public key (z85) from itself or from a certificate file."""
    if len(text_or_path) == 40 and not os.path.exists(text_or_path):
        return text_or_path
    return read_cert(text_or_path)[0]


def share_key(key: str) -> str:
    """The public key `share` sends: key itself or a certificate file's."""
    from . import errors
    found = identity(key)
    if not found:
        raise errors.BadRequest("share: %r is neither a CURVE public key nor a "
                                "certificate file" % (key,))
    return found


def apply(sock: zmq.Socket, endpoint: str) -> Optional[str]:
    """Makes sock a CURVE client of the broker when endpoint is tcp://.
    Returns None, or a note saying why it stayed plain (no broker key
    found). Raises ValueError for a key given that cannot be read."""
    if not endpoint.startswith("tcp://"):
        return None
    if os.environ.get("KMQ_INSECURE", "").lower() in ("1", "true", "yes", "on"):
        return None
    directory = config_dir()
    env_broker = os.environ.get("KMQ_BROKER_KEY")
    if env_broker:
        server = identity(env_broker)
        if not server:
            raise ValueError("KMQ_BROKER_KEY: %r is neither a CURVE public key nor a "
                             "readable certificate file" % env_broker)
    else:
        server = read_cert(os.path.join(directory, "broker.key"))[0] if directory else None
    if not server:
        return ("no broker key found (KMQ_BROKER_KEY or broker.key in the config dir), "
                "so the connection is without CURVE")
    env_client = os.environ.get("KMQ_CLIENT_KEY")
    if env_client:
        public, secret = read_cert(env_client)
        if not (public and secret):
            raise ValueError("KMQ_CLIENT_KEY: %r is not a readable secret certificate"
                             % env_client)
    else:
        path = os.path.join(directory, "client.key")
        public, secret = read_cert(path)
        if not (public and secret):
            # Never made here (it would race a broker making it): the broker
            # makes its owner's, `kmq keys` another user's
            raise ValueError("no client key in %s (client.key_secret): `kmq keys` makes "
                             "one, which the broker's owner then allows" % directory)
    sock.curve_publickey = public.encode()
    sock.curve_secretkey = secret.encode()
    sock.curve_serverkey = server.encode()
    return None
