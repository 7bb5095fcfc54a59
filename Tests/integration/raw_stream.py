"""A raw TCP XMPP peer for tests of what real clients never send."""
import re
import socket
import time

STREAM_HEADER = ("<?xml version='1.0'?><stream:stream to='{to}' version='1.0' xmlns='jabber:client' "
                 "xmlns:stream='http://etherx.jabber.org/streams'>")


class RawStream:
    def __init__(self, port, host="127.0.0.1", timeout=10, family=socket.AF_INET):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.received = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def open(self, to="localhost"):
        self.send(STREAM_HEADER.format(to=to))
        return self.read_until(b"</stream:features>")

    def read_until(self, marker, timeout=10):
        deadline = time.time() + timeout
        while marker not in self.received:
            if time.time() > deadline:
                raise AssertionError(f"timed out waiting for {marker!r}; got {self.received!r}")
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed before {marker!r}; got {self.received!r}")
            self.received += chunk
        return self.received.decode(errors="replace")

    def read_to_close(self, timeout=10):
        """Everything until the server closes the connection."""
        self.sock.settimeout(timeout)
        while True:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            self.received += chunk
        return self.received.decode(errors="replace")

    def stream_error(self, timeout=10):
        text = self.read_to_close(timeout)
        match = re.search(r"<stream:error><([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-streams'", text)
        return match.group(1) if match else None

    def close(self):
        self.sock.close()
