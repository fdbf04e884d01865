"""A private kmq-broker for Client.local(): ipc endpoint in a private
directory (mode 0700), stopped and removed on close."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Optional

from . import errors
from ._protocol import decode, encode

STOP_TIMEOUT = 10.0


def find_broker(path: Optional[str] = None) -> str:
    """The kmq-broker to start: path, $KMQ_BROKER, kmq-broker on PATH, or the
    one installed or built beside this package (PREFIX/bin for an installed
    package, bin/ of a source tree for client/python)."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [path, os.environ.get("KMQ_BROKER"), shutil.which("kmq-broker"),
                  os.path.join(here, "..", "..", "..", "bin", "kmq-broker"),
                  os.path.join(here, "..", "..", "..", "..", "bin", "kmq-broker")]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    raise errors.BrokerUnreachable(
        "kmq-broker not found: set KMQ_BROKER, put it on PATH, or `make install`")


def flags(settings: Dict[str, Any]) -> List[str]:
    """Broker flags from keyword settings: idle_timeout_s=60 -> --idle-timeout-s 60."""
    argv = []
    for name, value in settings.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        argv += ["--" + name.replace("_", "-"), str(value)]
    return argv


class LocalBroker:
    """One kmq-broker process this client started and owns."""

    def __init__(self, process: subprocess.Popen, directory: str, endpoint: str) -> None:
        self.process = process
        self.directory = directory
        self.endpoint = endpoint
        self.log_path = os.path.join(directory, "broker.log")

    @classmethod
    def start(cls, path: Optional[str], settings: Dict[str, Any]) -> "LocalBroker":
        binary = find_broker(path)
        directory = tempfile.mkdtemp(prefix="kmq-local-")
        endpoint = "ipc://%s/frontend" % directory
        argv = [binary, "--frontend", endpoint, "--runtime-dir",
                os.path.join(directory, "rt")] + flags(settings)
        log = open(os.path.join(directory, "broker.log"), "wb")
        try:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT, close_fds=True)
        except OSError as exc:
            shutil.rmtree(directory, ignore_errors=True)
            raise errors.BrokerUnreachable("cannot start %s: %s" % (binary, exc)) from None
        finally:
            log.close()
        return cls(process, directory, endpoint)

    def describe_failure(self) -> str:
        """Why the broker did not answer, for the error message."""
        status = self.process.poll()
        text = "" if status is None else " (the local broker exited with status %d)" % status
        try:
            with open(self.log_path, "rb") as f:
                tail = f.read()[-600:].decode("utf-8", "replace").strip()
        except OSError:
            tail = ""
        return text + ("; its log ends: " + tail if tail else "")

    def stop(self) -> None:
        """Ends the broker and its sessions as `kmq shutdown --sessions`
        does (its kernel host outlives a plain SIGTERM by design), a bounded
        wait, then signals as a last resort, to the broker and to whatever
        still runs from its runtime dir; removes the directory. Idempotent."""
        if self.process.poll() is None:
            self._shutdown_request()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reap_leftovers()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _shutdown_request(self) -> None:
        import zmq
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        try:
            from . import _keys
            _keys.apply(sock, self.endpoint)
            sock.connect(self.endpoint)
            sock.send_multipart(encode({"type": "shutdown", "id": 1, "end_sessions": True}))
            if sock.poll(int(STOP_TIMEOUT * 1000)):
                decode(sock.recv_multipart())
                return
        except (zmq.ZMQError, ValueError):
            pass
        finally:
            sock.close()
        self.process.send_signal(signal.SIGTERM)

    def _reap_leftovers(self) -> None:
        """The kernel host and its kernels name the runtime dir on their
        command lines: they get STOP_TIMEOUT to exit, then SIGKILL."""
        runtime = os.path.join(self.directory, "rt").encode()
        deadline = time.monotonic() + STOP_TIMEOUT
        while True:
            pids = []
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open("/proc/%s/cmdline" % entry, "rb") as f:
                        if runtime in f.read():
                            pids.append(int(entry))
                except OSError:
                    continue
            if not pids:
                return
            if time.monotonic() >= deadline:
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                return
            time.sleep(0.05)
