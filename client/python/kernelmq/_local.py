"""A private kmq-broker for Client.local(): ipc endpoint in a private
directory (mode 0700), stopped and removed on close."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from typing import Any, Dict, List, Optional

from . import errors

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
        """SIGTERM (the broker then stops its kernels), a bounded wait, SIGKILL
        as a last resort; removes the directory. Idempotent."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

