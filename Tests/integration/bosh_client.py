"""An XMPP-over-BOSH (XEP-0124, XEP-0206) test client on http.client."""
import base64
import http.client
import random
import xml.etree.ElementTree as ET

BIND = "http://jabber.org/protocol/httpbind"
XBOSH = "urn:xmpp:xbosh"
CLIENT = "{jabber:client}"


class BOSHClient:
    """Each request on its own HTTP connection, as a browser's pool would."""

    def __init__(self, port):
        self.port = port
        self.rid = random.randint(1_000_000, 2**40)
        self.sid = None

    def post(self, text, timeout=30):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        connection.request("POST", "/http-bind", body=text.encode(), headers={"Content-Type": "text/xml; charset=utf-8"})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, ET.fromstring(data), data.decode()

    def request(self, payload="", rid=None, **attributes):
        if rid is None:
            self.rid += 1
            rid = self.rid
        attrs = {"rid": str(rid), **({"sid": self.sid} if self.sid else {}), **attributes}
        text = (f"<body xmlns='{BIND}' xmlns:xmpp='{XBOSH}' "
                + " ".join(f"{k}='{v}'" for k, v in attrs.items()) + f">{payload}</body>")
        status, body, raw = self.post(text)
        assert status == 200, raw
        return body

    def create(self, wait=10):
        body = self.request(to="localhost", wait=str(wait), hold="1", ver="1.6", **{"xml:lang": "en", "xmpp:version": "1.0"})
        self.sid = body.get("sid")
        return body

    def login(self, user, wait=10):
        body = self.create(wait)
        assert body.get("requests") == "2" and body.get("hold") == "1", ET.tostring(body)
        mechanisms = [m.text for m in body.iter("{urn:ietf:params:xml:ns:xmpp-sasl}mechanism")]
        assert "PLAIN" in mechanisms, ET.tostring(body)
        token = base64.b64encode(f"\0{user}\0secret".encode()).decode()
        body = self.request(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
        assert body.find("{urn:ietf:params:xml:ns:xmpp-sasl}success") is not None, ET.tostring(body)
        body = self.request(**{"xmpp:restart": "true", "to": "localhost"})
        assert body.find("{http://etherx.jabber.org/streams}features/{urn:ietf:params:xml:ns:xmpp-bind}bind") is not None
        body = self.request("<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                            "<resource>web</resource></bind></iq>")
        assert body.find(f"{CLIENT}iq/{{urn:ietf:params:xml:ns:xmpp-bind}}bind/{{urn:ietf:params:xml:ns:xmpp-bind}}jid").text \
            == f"{user}@localhost/web"
        self.request("<presence xmlns='jabber:client'/>")
