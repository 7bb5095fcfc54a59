"""XEP-0198 Stream Management (mod_stream_management) on raw sockets, byte-exact:
enable, acks both ways, resumption on the same listener and on the other one
(another worker process), resume timeout with the buffer going to offline storage,
and a session handed over when its worker is replaced by a reload."""
import base64
import os
import re
import signal
import socket
import sqlite3
import time

import pytest

from raw_session import HEADER, RawSession
from xmppd_harness import two_c2s_listeners, start_two_listeners, wait_for

SM = "urn:xmpp:sm:3"


def modules(resume_timeout=30, extra=""):
    return f"""
[modules.mod_offline]
[modules.mod_carboncopy]
[modules.mod_mam]
[modules.mod_stream_management]
  resume_timeout = {resume_timeout}
{extra}
"""


def start(tmp_path, **kwargs):
    drain = kwargs.pop("drain_timeout", 30_000)
    return start_two_listeners(tmp_path, extra=modules(**kwargs), users=("alice", "bob", "eve"), drain_timeout=drain)


@pytest.fixture
def server(tmp_path):
    instance = start(tmp_path)
    yield instance
    instance.stop()


def authenticate(port, user):
    """A stream authenticated as `user`, at the post-SASL features (not bound)."""
    s = RawSession(port)
    s.send(HEADER)
    s.read_until("</stream:features>")
    token = base64.b64encode(f"\0{user}\0secret".encode()).decode()
    s.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
    s.read_until("<success")
    s.send(HEADER)
    s.features = s.read_until("</stream:features>")
    return s


def enabled_session(port, user, resource="sm", max_seconds=30):
    s = RawSession(port)
    s.login(user, resource=resource)
    s.read_until("/>")   # the rest of the presence echo
    s.send(f"<enable xmlns='{SM}' resume='true'/>")
    reply = s.read_until("/>")
    assert f"<enabled xmlns='{SM}'" in reply, reply
    s.sm_id = re.search(r"id='([^']+)'", reply).group(1)
    assert "resume='true'" in reply and f"max='{max_seconds}'" in reply, reply
    return s


def messages_in(text):
    return re.findall(r"<body>([^<]*)</body>", text)


def send_messages(sender, to, bodies):
    for body in bodies:
        sender.send(f"<message to='{to}' type='chat' id='{body}'><body>{body}</body></message>")


def read_messages(s, count):
    got = []
    while len(got) < count:
        got += messages_in(s.read_until("</message>"))
    return got


def test_feature_is_offered_after_authentication_and_enable_needs_a_bound_resource(server):
    s = RawSession(server.port_a)
    s.send(HEADER)
    assert SM not in s.read_until("</stream:features>")
    s.close()
    s = authenticate(server.port_a, "alice")
    assert f"<sm xmlns='{SM}'/>" in s.features
    s.send(f"<enable xmlns='{SM}'/>")
    assert "<unexpected-request" in s.read_until("</failed>")
    s.close()


def test_acks_count_both_ways_and_a_second_enable_fails(server):
    alice = enabled_session(server.port_a, "alice")
    bob = RawSession(server.port_b)
    bob.login("bob")
    # The server counts what alice sent after enabling.
    send_messages(alice, "bob@localhost/raw", ["one", "two"])
    assert read_messages(bob, 2) == ["one", "two"]
    alice.send(f"<r xmlns='{SM}'/>")
    assert f"<a xmlns='{SM}' h='2'/>" in alice.read_until("/>")
    # ack_freq = 1: each stanza to alice is followed by an ack request.
    send_messages(bob, "alice@localhost/sm", ["three"])
    assert read_messages(alice, 1) == ["three"]
    assert f"<r xmlns='{SM}'/>" in alice.read_until(f"<r xmlns='{SM}'/>")
    alice.send(f"<a xmlns='{SM}' h='1'/>")
    alice.send(f"<enable xmlns='{SM}'/>")
    assert "<unexpected-request" in alice.read_until("</failed>")
    alice.close()
    bob.close()


def test_client_may_ask_for_a_shorter_resumption_time_not_a_longer_one(server):
    for asked, granted in (("5", "5"), ("3600", "30")):
        s = RawSession(server.port_a)
        s.login("alice", resource=f"max{asked}")
        s.read_until("/>")
        s.send(f"<enable xmlns='{SM}' resume='true' max='{asked}'/>")
        reply = s.read_until("/>")
        assert f"max='{granted}'" in reply, reply
        s.close()


def test_ack_of_stanzas_never_sent_is_a_stream_error(server):
    alice = enabled_session(server.port_a, "alice")
    alice.send(f"<a xmlns='{SM}' h='5'/>")
    text = alice.read_all()
    assert "<undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" in text, text
    assert f"<handled-count-too-high xmlns='{SM}' h='5' send-count='0'/>" in text, text


@pytest.mark.parametrize("other_listener", [False, True], ids=["same-worker", "other-worker"])
def test_resume_after_dropped_connection_resends_what_was_not_acked(server, other_listener):
    alice = enabled_session(server.port_a, "alice")
    bob = RawSession(server.port_b)
    bob.login("bob")
    send_messages(alice, "bob@localhost/raw", ["from-alice"])
    read_messages(bob, 1)
    send_messages(bob, "alice@localhost/sm", ["m1", "m2", "m3"])
    assert read_messages(alice, 3) == ["m1", "m2", "m3"]
    alice.send(f"<a xmlns='{SM}' h='1'/>")          # m1 acked, m2 and m3 not
    time.sleep(0.2)
    alice.sock.close()                               # no </stream:stream>: the connection is lost
    time.sleep(0.3)
    send_messages(bob, "alice@localhost/sm", ["m4", "m5"])   # into the suspended session
    time.sleep(0.3)

    port = server.port_b if other_listener else server.port_a
    again = authenticate(port, "alice")
    again.send(f"<resume xmlns='{SM}' h='1' previd='{alice.sm_id}'/>")
    resumed = again.read_until("/>")
    # The server handled alice's one message before the drop.
    assert f"<resumed xmlns='{SM}' h='1' previd='{alice.sm_id}'/>" in resumed, resumed
    assert read_messages(again, 4) == ["m2", "m3", "m4", "m5"]
    # The session goes on: same full JID, new messages reach it, and its counter
    # continued (m2..m5 are stanzas 2..5, a new one is 6).
    send_messages(bob, "alice@localhost/sm", ["m6"])
    assert read_messages(again, 1) == ["m6"]
    again.send(f"<a xmlns='{SM}' h='6'/>")
    send_messages(again, "bob@localhost/raw", ["after-resume"])
    assert read_messages(bob, 1) == ["after-resume"]
    again.send(f"<r xmlns='{SM}'/>")
    assert f"<a xmlns='{SM}' h='2'/>" in again.read_until(f"h='2'/>")
    # Presence survived the move: bob's message to alice's bare JID is delivered.
    send_messages(bob, "alice@localhost", ["bare"])
    assert read_messages(again, 1) == ["bare"]
    again.close()
    bob.close()


def test_resume_of_an_unknown_or_foreign_session_fails_and_binding_still_works(server):
    alice = enabled_session(server.port_a, "alice")
    alice.sock.close()
    time.sleep(0.3)
    eve = authenticate(server.port_b, "eve")
    eve.send(f"<resume xmlns='{SM}' h='0' previd='{alice.sm_id}'/>")
    assert "<item-not-found" in eve.read_until("</failed>")
    eve.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
    assert "<jid>eve@localhost/" in eve.read_until("</iq>")
    other = authenticate(server.port_a, "alice")
    other.send(f"<resume xmlns='{SM}' h='0' previd='no-such-id'/>")
    assert "<item-not-found" in other.read_until("</failed>")
    # eve's attempt did not disturb alice's suspended session.
    mine = authenticate(server.port_a, "alice")
    mine.send(f"<resume xmlns='{SM}' h='0' previd='{alice.sm_id}'/>")
    assert "<resumed" in mine.read_until("/>")
    for s in (eve, other, mine):
        s.close()


def test_resume_while_the_old_connection_is_still_open_takes_it_over(server):
    alice = enabled_session(server.port_a, "alice")
    again = authenticate(server.port_b, "alice")
    again.send(f"<resume xmlns='{SM}' h='0' previd='{alice.sm_id}'/>")
    assert "<resumed" in again.read_until("/>")
    assert "<conflict" in alice.read_all()
    bob = RawSession(server.port_a)
    bob.login("bob")
    send_messages(bob, "alice@localhost/sm", ["to-new"])
    assert read_messages(again, 1) == ["to-new"]
    again.close()
    bob.close()


def test_resume_timeout_ends_the_session_and_unacked_messages_go_offline(tmp_path):
    server = start(tmp_path, resume_timeout=2,
                   extra="  stale_h.enabled = true\n")
    try:
        alice = enabled_session(server.port_a, "alice", max_seconds=2)
        send_messages(alice, "bob@localhost", ["x"])   # bob offline: stored, counts as handled
        bob = RawSession(server.port_b)
        bob.login("bob")
        read_messages(bob, 1)
        send_messages(bob, "alice@localhost/sm", ["lost-1", "lost-2"])
        assert read_messages(alice, 2) == ["lost-1", "lost-2"]
        alice.sock.close()
        time.sleep(2)   # the resume timeout; then the detached session ends
        wait_for(lambda: "alice@localhost/sm" not in server.ctl("sessions").stdout, timeout=15,
                 message="the detached session ended")
        late = authenticate(server.port_b, "alice")
        late.send(f"<resume xmlns='{SM}' h='0' previd='{alice.sm_id}'/>")
        failed = late.read_until("</failed>")
        # stale_h: the server still says how many of alice's stanzas it handled.
        assert "<item-not-found" in failed and "h='1'" in failed, failed
        late.close()
        # Nothing was lost: the unacked messages went to offline storage.
        fresh = RawSession(server.port_a)
        fresh.login("alice", resource="fresh")
        got = read_messages(fresh, 2)
        assert got == ["lost-1", "lost-2"], got
        fresh.close()
        bob.close()
    finally:
        server.stop()


def test_reload_hands_resumable_sessions_to_the_new_worker(tmp_path):
    server = start(tmp_path, drain_timeout=500)
    try:
        alice = enabled_session(server.port_a, "alice")
        old_pid = server.listener(server.port_a)["workerPID"]
        # A changed option on alice's listener: a new worker takes over its socket.
        server.write_config(two_c2s_listeners(server.port_a, server.port_b, extra_a="  max_stanza_size = 70000"))
        server.ctl("reload")
        # At the drain deadline the old worker disconnects alice without a stream error.
        text = alice.read_all()
        assert "<stream:error>" not in text, text
        bob = RawSession(server.port_b)
        bob.login("bob")
        send_messages(bob, "alice@localhost/sm", ["while-away"])
        time.sleep(0.3)
        again = authenticate(server.port_a, "alice")
        assert server.listener(server.port_a)["workerPID"] != old_pid
        again.send(f"<resume xmlns='{SM}' h='0' previd='{alice.sm_id}'/>")
        assert "<resumed" in again.read_until("/>")
        assert read_messages(again, 1) == ["while-away"]
        # The new worker archives what the moved session sends (mod_mam's hook is
        # in place from the worker's start, not from its first local bind).
        send_messages(again, "bob@localhost/raw", ["archived-after-move"])
        text = bob.read_until("</message>")
        assert "archived-after-move" in text and "<stanza-id xmlns='urn:xmpp:sid:0'" in text, text
        again.close()
        bob.close()
    finally:
        server.stop()


def test_carbons_stay_enabled_when_the_session_moves_to_another_worker(server):
    alice = enabled_session(server.port_a, "alice")
    alice.send("<iq type='set' id='c'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
    assert "type='result'" in alice.read_until(f"<r xmlns='{SM}'/>")
    alice.sock.close()
    time.sleep(0.3)
    again = authenticate(server.port_b, "alice")
    again.send(f"<resume xmlns='{SM}' h='1' previd='{alice.sm_id}'/>")
    assert "<resumed" in again.read_until("/>")
    other = RawSession(server.port_a)
    other.login("alice", resource="pc")
    bob = RawSession(server.port_a)
    bob.login("bob")
    send_messages(other, "bob@localhost/raw", ["carbon-me"])
    assert read_messages(bob, 1) == ["carbon-me"]
    # The resumed session on the other worker gets the <sent/> carbon.
    text = again.read_until("carbon-me")
    assert "<sent xmlns='urn:xmpp:carbons:2'>" in text, text
    for s in (again, other, bob):
        s.close()


def test_a_new_bind_of_the_same_resource_ends_the_suspended_session(server):
    alice = enabled_session(server.port_a, "alice")
    alice.sock.close()
    time.sleep(0.3)
    fresh = RawSession(server.port_b)
    fresh.login("alice", resource="sm")          # same full JID, bound normally
    bob = RawSession(server.port_a)
    bob.login("bob")
    send_messages(bob, "alice@localhost/sm", ["to-the-new-one"])
    assert read_messages(fresh, 1) == ["to-the-new-one"]
    late = authenticate(server.port_a, "alice")
    late.send(f"<resume xmlns='{SM}' h='0' previd='{alice.sm_id}'/>")
    assert "<item-not-found" in late.read_until("</failed>")
    # The replaced session's end did not take the new one's presence with it.
    send_messages(bob, "alice@localhost", ["bare-after"])
    assert read_messages(fresh, 1) == ["bare-after"]
    for s in (fresh, bob, late):
        s.close()


def test_ack_waits_until_offline_storage_and_archive_committed_then_survives_kill_9(server):
    """XEP-0198's ack means the server has the stanza: one taken for offline storage is on
    disk before <a/> goes out, so killing the worker right after the ack loses nothing."""
    alice = enabled_session(server.port_a, "alice")
    # Another process holds SQLite's write lock: mod_offline and mod_mam cannot commit.
    blocker = sqlite3.connect(server.var / "xmppd.db", timeout=10, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    send_messages(alice, "eve@localhost", ["acked-then-killed"])   # eve is offline
    alice.send(f"<r xmlns='{SM}'/>")
    alice.sock.settimeout(1.0)
    with pytest.raises(socket.timeout):
        alice.read_until("<a ")
    blocker.execute("ROLLBACK")
    alice.sock.settimeout(10)
    assert f"<a xmlns='{SM}' h='1'/>" in alice.read_until("/>")
    worker = server.listener(server.port_a)["workerPID"]
    os.kill(worker, signal.SIGKILL)
    alice.close()
    wait_for(lambda: (r := server.listener(server.port_a))["workerPID"] != worker and r["state"] == "running",
             message="worker restarted")
    eve = RawSession(server.port_b)
    eve.login("eve")
    assert read_messages(eve, 1) == ["acked-then-killed"]
    eve.close()
