"""An XMPP-over-WebSocket (RFC 7395) test client on the `websockets` library."""
import base64
import contextlib
import time
import xml.etree.ElementTree as ET

from websockets.sync.client import connect

FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
CLIENT = "{jabber:client}"


class WSClient:
    """An RFC 7395 client on the websockets library; every message it receives must be
    one complete XML element."""

    def __init__(self, url, **kwargs):
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(connect(url, subprotocols=["xmpp"], open_timeout=10, **kwargs))
        assert self.ws.subprotocol == "xmpp"

    def send(self, text):
        self.ws.send(text)

    def recv(self, timeout=10):
        message = self.ws.recv(timeout=timeout)
        return message, ET.fromstring(message)

    def recv_until(self, tag, timeout=10):
        deadline = time.time() + timeout
        while True:
            text, element = self.recv(timeout=max(deadline - time.time(), 0.1))
            if element.tag == tag:
                return text, element

    def open(self):
        self.send(f"<open xmlns='{FRAMING}' to='localhost' version='1.0'/>")
        text, opened = self.recv()
        assert opened.tag == f"{{{FRAMING}}}open", text
        assert opened.get("from") == "localhost" and opened.get("version") == "1.0" and opened.get("id"), text
        features_text, features = self.recv()
        assert features.tag == "{http://etherx.jabber.org/streams}features", features_text
        assert "<stream:features xmlns:stream='http://etherx.jabber.org/streams'" in features_text
        return features

    def login(self, user, resource="ws"):
        features = self.open()
        mechanisms = [m.text for m in features.iter("{urn:ietf:params:xml:ns:xmpp-sasl}mechanism")]
        assert "PLAIN" in mechanisms, mechanisms
        token = base64.b64encode(f"\0{user}\0secret".encode()).decode()
        self.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
        text, success = self.recv()
        assert success.tag == "{urn:ietf:params:xml:ns:xmpp-sasl}success", text
        features = self.open()
        assert features.find("{urn:ietf:params:xml:ns:xmpp-bind}bind") is not None
        self.send("<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  f"<resource>{resource}</resource></bind></iq>")
        text, bound = self.recv()
        assert bound.tag == f"{CLIENT}iq" and bound.get("type") == "result", text
        assert bound.find(".//{urn:ietf:params:xml:ns:xmpp-bind}jid").text == f"{user}@localhost/{resource}"
        self.send("<presence xmlns='jabber:client'/>")

    def close(self):
        self.stack.close()
