"""Malformed input never takes a worker down. Valid traffic for every kind of
listener (c2s before and after authentication, compressed and behind PROXY headers,
XEP-0114 components, s2s, HTTP requests for BOSH, WebSocket and the REST APIs, and the
stanzas of logged-in BOSH and WebSocket sessions) is mutated with a fixed seed (bit flips, cuts,
repeats, XML and HTTP tokens that parsers trip on) and sent on fresh connections;
afterwards the same worker processes still serve real clients. A failure names the
surface and case number, which replays with the same seed."""
import base64
import contextlib
import http.client
import itertools
import random
import socket
import time
import zlib

from bosh_client import BOSHClient
from raw_session import HEADER, RawSession
from ws_client import WSClient
from xmpp_client import Client, next_matching
from xmppd_harness import Server, free_port

SEED = 20261205
CASES = 150
SECONDS_PER_SURFACE = 8

TOKENS = [b"<", b">", b"/>", b"</", b"&", b"&amp", b"&#0;", b"&#xD800;", b"&e;", b"\x00", b"\xff\xfe", b"\xc3",
          b"]]>", b"<![CDATA[x", b"<?xml version='1.0'?>", b"<!DOCTYPE d [<!ENTITY e 'x'>]>", b"'", b'"', b"=",
          b" xmlns='x'", b" xmlns:p='' p:a='1'", b" a='1' a='2'", b"<stream:stream>", b"</stream:stream>",
          b"\r\n", b"\r\n\r\n", b"Content-Length: 99999999\r\n", b"Transfer-Encoding: chunked\r\n", b"0\r\n\r\n",
          b"\x81\xfe\xff\xff", b"\x88\x80", b"<a>" * 64, b"A" * 5000]


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(data) + 1)
        op = rng.randrange(5)
        if op == 0 and data:
            data[min(pos, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            del data[pos:pos + rng.randint(1, 16)]
        elif op == 2:
            data[pos:pos] = rng.choice(TOKENS)
        elif op == 3:
            start = rng.randrange(len(data) + 1)
            data[pos:pos] = data[start:start + rng.randint(1, 32)]
        else:
            del data[pos:]
    return bytes(data)


def drain(sock):
    """Half-closes and reads until the server closes (or a second of silence)."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(1)
        while sock.recv(65536):
            pass
    except OSError:
        pass
    finally:
        sock.close()


def poke(port, payload):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        sock.sendall(payload)
    except OSError:
        pass
    drain(sock)


RESOURCES = itertools.count()


def poke_logged_in(port, payload, compress=False):
    """`payload` after a login; with `compress`, as the compressed stream once
    XEP-0138 has started."""
    session = RawSession(port)
    session.login("alice", resource=f"fuzz{next(RESOURCES)}", compress=compress)
    try:
        session.sock.sendall(payload)
    except OSError:
        pass
    drain(session.sock)


def poke_websocket_session(port, payload):
    """`payload` as one text frame of a logged-in WebSocket session (RFC 7395)."""
    web = WSClient(f"ws://127.0.0.1:{port}/ws-xmpp")
    try:
        web.login("alice", resource=f"fuzz{next(RESOURCES)}")
        web.send(payload.decode(errors="replace"))
        with contextlib.suppress(Exception):
            web.recv(timeout=0.2)
    finally:
        web.close()


def poke_bosh_session(port, payload):
    """`payload` in the next request body of a logged-in BOSH session (XEP-0206)."""
    bosh = BOSHClient(port)
    bosh.login("alice", wait=1)
    bosh.rid += 1
    body = (f"<body xmlns='http://jabber.org/protocol/httpbind' rid='{bosh.rid}' sid='{bosh.sid}'>".encode()
            + payload + b"</body>")
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("POST", "/http-bind", body=body, headers={"Content-Type": "text/xml"})
        connection.getresponse().read()
    except (OSError, http.client.HTTPException):
        pass
    finally:
        connection.close()


def compressed(data):
    compressor = zlib.compressobj()
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def plain(user):
    return base64.b64encode(f"\0{user}\0secret".encode()).decode()


C2S_BEFORE_AUTH = (HEADER + f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain('alice')}</auth>"
                   + HEADER + "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>").encode()
C2S_STANZAS = (
    "<message to='bob@localhost' type='chat' id='m1'><body>hi &amp; welcome</body>"
    "<origin-id xmlns='urn:xmpp:sid:0' id='o1'/><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
    "<iq type='get' id='i1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
    "<presence><show>away</show><status>out</status><priority>5</priority></presence>"
    "<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='B'><group>G</group>"
    "</item></query></iq><presence to='bob@localhost' type='subscribe'/>"
    "<iq type='set' id='q1'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'>"
    "<field var='with'><value>bob@localhost</value></field></x><set xmlns='http://jabber.org/protocol/rsm'>"
    "<max>5</max><before/></set></query></iq>"
    "<iq type='set' id='c1' to='room@muclight.localhost'><query xmlns='urn:xmpp:muclight:0#create'><occupants>"
    "<user affiliation='member'>bob@localhost</user></occupants></query></iq>"
    "<enable xmlns='urn:xmpp:sm:3' resume='true'/><r xmlns='urn:xmpp:sm:3'/>").encode()
# In the jabber:client namespace stated, as over BOSH and WebSocket.
WEBSOCKET_STANZAS = C2S_STANZAS.replace(b"<message ", b"<message xmlns='jabber:client' ", 1).replace(
    b"<iq type='get'", b"<iq xmlns='jabber:client' type='get'", 1)
BOSH_STANZAS = WEBSOCKET_STANZAS
COMPONENT = ("<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
             "xmlns:stream='http://etherx.jabber.org/streams' to='fuzz.localhost'>"
             "<handshake>0123456789abcdef0123456789abcdef01234567</handshake>"
             "<message from='a@fuzz.localhost' to='alice@localhost'><body>x</body></message>").encode()
# A PROXY v2 header (TCP over IPv4, 127.0.0.2:4000 -> 127.0.0.1:5222), then a stream.
PROXY_V2 = (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11, 0, 12]) + bytes([127, 0, 0, 2, 127, 0, 0, 1])
            + (4000).to_bytes(2, "big") + (5222).to_bytes(2, "big") + C2S_BEFORE_AUTH)
PROXY_V1 = b"PROXY TCP4 127.0.0.2 127.0.0.1 4000 5222\r\n" + C2S_BEFORE_AUTH
S2S = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
       "xmlns:db='jabber:server:dialback' to='localhost' from='peer.test' version='1.0'>"
       "<db:result to='localhost' from='peer.test'>0123abcd</db:result>"
       "<db:verify to='localhost' from='peer.test' id='x1'>0123abcd</db:verify>"
       "<message from='a@peer.test' to='alice@localhost'><body>x</body></message>").encode()


def http_request(method, path, body=b"", headers=""):
    return (f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n{headers}Content-Length: {len(body)}\r\n\r\n").encode() + body


BOSH = http_request("POST", "/http-bind", b"<body xmlns='http://jabber.org/protocol/httpbind' rid='1' to='localhost' wait='1' "
            b"hold='1' ver='1.6' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0'/>", "Content-Type: text/xml\r\n")
WEBSOCKET = (b"GET /ws-xmpp HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             b"Sec-WebSocket-Protocol: xmpp\r\n\r\n"
             # A masked text frame: <open/> (mask 0, so the bytes are plain).
             + bytes([0x81, 0x80 | 65]) + b"\x00\x00\x00\x00"
             + b"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='localhost' version='1.0'/>".ljust(65))
REST = http_request("POST", "/api/messages", b'{"to": "bob@localhost", "body": "hi"}',
            f"Authorization: Basic {base64.b64encode(b'alice@localhost:secret').decode()}\r\n"
            "Content-Type: application/json\r\n") + http_request("GET", "/api/contacts", headers="Authorization: Basic x\r\n")
ADMIN = http_request("POST", "/admin/messages", b'{"caller": "alice@localhost", "to": "bob@localhost", "body": "hi"}',
             "Content-Type: application/json\r\n") + http_request("GET", "/admin/users/localhost")


def config(ports):
    return f"""
[[listen.c2s]]
  port = {ports['c2s']}
  ip_address = "127.0.0.1"

[[listen.c2s]]
  port = {ports['compressed']}
  ip_address = "127.0.0.1"
  zlib = 10_000

[[listen.c2s]]
  port = {ports['proxied']}
  ip_address = "127.0.0.1"
  proxy_protocol = true

[[listen.service]]
  port = {ports['service']}
  ip_address = "127.0.0.1"
  password = "secret"

[[listen.s2s]]
  port = {ports['s2s']}
  ip_address = "127.0.0.1"

[[listen.http]]
  port = {ports['http']}
  ip_address = "127.0.0.1"

  [[listen.http.handlers.mod_bosh]]
    host = "_"
    path = "/http-bind"

  [[listen.http.handlers.mod_websockets]]
    host = "_"
    path = "/ws-xmpp"

  [[listen.http.handlers.mongoose_client_api_messages]]
    host = "_"
    path = "/api/messages/[:with]"

  [[listen.http.handlers.mongoose_client_api_contacts]]
    host = "_"
    path = "/api/contacts/[:jid]"

  [[listen.http.handlers.mongoose_api_admin]]
    host = "_"
    path = "/admin"
"""


MODULES = """
[modules.mod_roster]
[modules.mod_offline]
[modules.mod_disco]
[modules.mod_bosh]
[modules.mod_stream_management]
[modules.mod_muc_light]
[modules.mod_mam]
"""


def test_malformed_input_never_takes_a_worker_down(tmp_path):
    ports = {name: free_port() for name in ("c2s", "compressed", "proxied", "service", "s2s", "http")}
    server = Server(tmp_path, config(ports), extra=MODULES)
    server.start()
    server.register("alice", "secret")
    server.register("bob", "secret")
    workers = {name: server.listener(port)["workerPID"] for name, port in ports.items()}
    surfaces = [
        ("c2s before authentication", lambda p: poke(ports["c2s"], p), C2S_BEFORE_AUTH),
        ("c2s stanzas", lambda p: poke_logged_in(ports["c2s"], p), C2S_STANZAS),
        ("compressed c2s stanzas", lambda p: poke_logged_in(ports["compressed"], p, compress=True), compressed(C2S_STANZAS)),
        ("PROXY v1 header", lambda p: poke(ports["proxied"], p), PROXY_V1),
        ("PROXY v2 header", lambda p: poke(ports["proxied"], p), PROXY_V2),
        ("component stream", lambda p: poke(ports["service"], p), COMPONENT),
        ("s2s stream", lambda p: poke(ports["s2s"], p), S2S),
        ("BOSH", lambda p: poke(ports["http"], p), BOSH),
        ("BOSH session stanzas", lambda p: poke_bosh_session(ports["http"], p), BOSH_STANZAS),
        ("WebSocket session stanzas", lambda p: poke_websocket_session(ports["http"], p), WEBSOCKET_STANZAS),
        ("WebSocket", lambda p: poke(ports["http"], p), WEBSOCKET),
        ("client REST API", lambda p: poke(ports["http"], p), REST),
        ("admin REST API", lambda p: poke(ports["http"], p), ADMIN),
    ]
    try:
        for name, send, sample in surfaces:
            rng = random.Random(f"{SEED}/{name}")
            deadline = time.time() + SECONDS_PER_SURFACE
            for case in range(CASES):
                if time.time() > deadline:
                    break
                send(mutate(rng, sample))
                if case % 20 == 19:
                    now = {n: server.listener(port)["workerPID"] for n, port in ports.items()}
                    assert now == workers, f"a worker was replaced during {name}, by case {case} or before: {now}"
        assert {n: server.listener(port)["workerPID"] for n, port in ports.items()} == workers
        # The same workers still serve real clients.
        alice = Client("alice@localhost/a", "secret", ports["c2s"]).wait_session()
        bob = Client("bob@localhost/b", "secret", ports["c2s"]).wait_session()
        try:
            alice.send_message("bob@localhost/b", "still here")
            # (After what the fuzzing sent him and offline storage kept.)
            assert next_matching(bob.messages, lambda m: m["body"] == "still here", timeout=10) is not None
            web = WSClient(f"ws://127.0.0.1:{ports['http']}/ws-xmpp")
            web.login("alice")
            web.close()
            bosh = BOSHClient(ports["http"])
            bosh.login("bob")
        finally:
            alice.close()
            bob.close()
        assert "exited" not in (server.var / "xmppd.log").read_text()
    finally:
        server.stop()
