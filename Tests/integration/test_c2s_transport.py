"""zlib (XEP-0138) with a bomb cap, the PROXY protocol, and shapers on c2s."""
import struct
import socket
import time
import zlib

import pytest

from raw_session import HEADER, RawSession, flood
from xmppd_harness import Server, free_port, wait_for


def c2s(port, extra=""):
    return f"""
[[listen.c2s]]
  port = {port}
  ip_address = "127.0.0.1"
{extra}
"""


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def start(listener_extra="", sections=""):
        port = free_port()
        instance = Server(tmp_path / f"s{len(servers)}", sections + c2s(port, listener_extra))
        instance.port = port
        instance.start()
        instance.register("alice", "secret")
        servers.append(instance)
        return instance
    yield start
    for instance in servers:
        instance.stop()


def test_compressed_session_exchanges_messages(make_server):
    server = make_server("  zlib = 10_000")
    session = RawSession(server.port)
    session.login("alice", compress=True)
    for i in range(20):
        session.send(f"<message to='{session.jid}' type='chat'><body>compressed {i}</body></message>")
        assert f"compressed {i}" in session.read_until("</message>")
    session.close()


def test_compression_is_not_offered_before_authentication(make_server):
    server = make_server("  zlib = 10_000")
    session = RawSession(server.port)
    session.send(HEADER)
    assert "compression" not in session.read_until("</stream:features>")
    session.close()


def test_zlib_bomb_is_cut_at_the_cap(make_server):
    server = make_server("  zlib = 10_000")
    session = RawSession(server.port)
    session.login("alice", compress=True)
    # The session's own zlib stream: 10 MB that compress to a few KB.
    payload = session.compressor.compress(b"<message><body>" + b"a" * 10_000_000)
    payload += session.compressor.flush(zlib.Z_SYNC_FLUSH)
    assert len(payload) < 20_000
    session.send_raw(payload)
    assert session.stream_error() == "policy-violation"


def proxy_v2(source, port):
    address = socket.inet_aton(source) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", port, 5222)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(address)) + address


@pytest.mark.parametrize("header,shown", [
    (b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 5222\r\n", "203.0.113.7:40000"),
    (b"PROXY TCP6 2001:db8::7 ::1 40001 5222\r\n", "2001:db8::7"),
    (proxy_v2("198.51.100.9", 40002), "198.51.100.9:40002"),
])
def test_proxy_header_gives_the_client_address(make_server, header, shown):
    server = make_server("  proxy_protocol = true")
    session = RawSession(server.port, prefix=header)
    session.login("alice")
    session.close()
    deadline = time.time() + 5
    while shown not in server.log() and time.time() < deadline:
        time.sleep(0.1)
    assert "session bound for alice@localhost/raw from [IPv" in server.log() and shown in server.log()


@pytest.mark.parametrize("first_bytes", [HEADER.encode(), b"GARBAGE\r\n", b"PROXY TCP4 999.1.1.1 127.0.0.1 1 2\r\n"])
def test_missing_or_bad_proxy_header_closes_before_any_xmpp(make_server, first_bytes):
    server = make_server("  proxy_protocol = true")
    session = RawSession(server.port, prefix=first_bytes)
    assert session.read_all() == ""


def test_proxy_header_without_proxy_protocol_is_bad_xml(make_server):
    server = make_server()
    session = RawSession(server.port, prefix=b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 5222\r\n" + HEADER.encode())
    assert session.stream_error() == "not-well-formed"


def test_shaper_throttles_without_losing_data(make_server):
    server = make_server('  shaper = "c2s_shaper"', sections="""
[access]
  c2s_shaper = [{acl = "all", value = "slow"}]
[shaper]
  slow = {max_rate = 10_000}
""")
    session = RawSession(server.port)
    session.login("alice")
    started = time.time()
    count = 40
    for i in range(count):
        session.send(f"<message to='{session.jid}'><body>{i:04d}{'x' * 1000}</body></message>")
    for i in range(count):
        assert f"<body>{i:04d}" in session.read_until("</message>")
    elapsed = time.time() - started
    # ~42 KB at 10 kB/s, with a one-second burst allowance: at least ~3 s, all delivered in order.
    assert 2.5 < elapsed < 15, elapsed
    session.close()


def test_client_that_stops_reading_is_closed_at_max_fsm_queue(make_server):
    server = make_server("  max_fsm_queue = 100")
    server.register("bob", "secret")
    sleeper = RawSession(server.port, rcvbuf=4096)
    sleeper.login("bob", resource="asleep")
    sender = RawSession(server.port)
    sender.login("alice", resource="awake")
    # Until the kernel buffers on both sides are full and 100 more stanzas wait.
    flood(sender, server, "bob@localhost/asleep", until="client is not reading")
    closed = [line for line in server.log().splitlines() if "client is not reading" in line]
    assert len(closed) == 1 and "jid=bob@localhost/asleep" in closed[0], closed
    # The sleeping session is gone; the sender's is not.
    wait_for(lambda: server.listener(server.port)["counters"]["connectionsCurrent"] == 1, message="sleeper closed")
