"""Keeps opening XMPP streams against a port while the server reloads, and counts
every attempt that is refused, reset or left unanswered. Bounded in count and time."""
import socket
import threading
import time

HEADER = (b"<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' "
          b"xmlns:stream='http://etherx.jabber.org/streams'>")


class ConnectLoop:
    def __init__(self, port, host="127.0.0.1", max_attempts=50_000, max_seconds=300):
        self.port = port
        self.host = host
        self.max_attempts = max_attempts
        self.max_seconds = max_seconds
        self.ok = 0
        self.failures = []
        # Connection attempts the kernel refused: with the supervisor holding the
        # socket there must never be any, whatever happens to workers.
        self.refused = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)

    def _run(self):
        started = time.time()
        attempts = 0
        while not self._stop.is_set() and attempts < self.max_attempts and time.time() - started < self.max_seconds:
            attempts += 1
            try:
                with socket.create_connection((self.host, self.port), timeout=10) as s:
                    s.sendall(HEADER)
                    data = b""
                    while b"</stream:features>" not in data:
                        chunk = s.recv(4096)
                        if not chunk:
                            raise ConnectionError(f"closed after {data!r}")
                        data += chunk
                    if b"<stream:error>" in data:
                        raise ConnectionError(f"stream error {data!r}")
                self.ok += 1
            except ConnectionRefusedError as error:
                self.refused.append(repr(error))
                self.failures.append(repr(error))
            except Exception as error:  # every failure is a finding
                self.failures.append(repr(error))
