"""A hand-driven c2s session over a raw socket, for what slixmpp cannot do:
XEP-0138 compression (with Python's own zlib), PROXY headers, byte-exact timing."""
import base64
import threading
import time
import re
import socket
import zlib

HEADER = ("<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams'>")


class RawSession:
    def __init__(self, port, prefix=b"", timeout=10, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.inbox = b""
        self.compressor = None
        self.decompressor = None
        if prefix:
            self.sock.sendall(prefix)

    def send(self, text):
        data = text.encode() if isinstance(text, str) else text
        if self.compressor:
            data = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_until(self, marker):
        marker = marker.encode() if isinstance(marker, str) else marker
        while marker not in self.inbox:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed before {marker!r}; got {self.inbox!r}")
            self.inbox += self.decompressor.decompress(chunk) if self.decompressor else chunk
        head, _, rest = self.inbox.partition(marker)
        self.inbox = rest
        return (head + marker).decode(errors="replace")

    def read_all(self):
        """Everything until the server closes the connection (decompressed)."""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            self.inbox += self.decompressor.decompress(chunk) if self.decompressor else chunk
        return self.inbox.decode(errors="replace")

    def login(self, user, password="secret", resource="raw", compress=False, domain="localhost"):
        header = HEADER.replace("to='localhost'", f"to='{domain}'")
        self.send(header)
        self.read_until("</stream:features>")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
        self.read_until("<success")
        self.send(header)
        features = self.read_until("</stream:features>")
        if compress:
            assert "<method>zlib</method>" in features, features
            self.send("<compress xmlns='http://jabber.org/protocol/compress'><method>zlib</method></compress>")
            self.read_until("<compressed xmlns='http://jabber.org/protocol/compress'/>")
            self.compressor = zlib.compressobj()
            self.decompressor = zlib.decompressobj()
            self.send(header)
            features = self.read_until("</stream:features>")
            assert "compression" not in features
        self.send(f"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  f"<resource>{resource}</resource></bind></iq>")
        reply = self.read_until("</iq>")
        self.jid = re.search(r"<jid>([^<]+)</jid>", reply).group(1)
        self.send("<presence/>")
        self.read_until("<presence")
        return features

    def stream_error(self):
        match = re.search(r"<stream:error><([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-streams'", self.read_all())
        return match.group(1) if match else None

    def close(self):
        self.sock.close()


def flood(sender, server, to, until, max_stanzas=40_000, seconds=60):
    """Sends 1 KB headlines to `to` until `until` appears in the server log, while a
    thread reads whatever comes back to the sender (so only the recipient blocks).
    Headlines to a recipient that is gone are dropped, not bounced. Returns the count."""
    stop = threading.Event()

    def keep_reading():
        sender.sock.settimeout(0.2)
        while not stop.is_set():
            try:
                if not sender.sock.recv(65536):
                    break
            except socket.timeout:
                pass
    reader = threading.Thread(target=keep_reading, daemon=True)
    reader.start()
    body = "y" * 1000
    deadline = time.time() + seconds
    sent = 0
    try:
        while until not in server.log() and time.time() < deadline and sent < max_stanzas:
            for _ in range(500):
                sender.send(f"<message to='{to}' type='headline'><body>{sent} {body}</body></message>")
                sent += 1
        end = time.time() + 15
        while until not in server.log() and time.time() < end:
            time.sleep(0.1)
    finally:
        stop.set()
        reader.join(5)
    return sent
