"""mod_carboncopy (XEP-0280) and mod_mam (XEP-0313) across two worker processes,
driven by slixmpp's xep_0280 / xep_0313 plugins."""
import os
import queue
import signal
import time
import xml.etree.ElementTree as ET

import pytest
from slixmpp.exceptions import IqError
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from xmpp_client import Client
from xmppd_harness import Server, free_port, wait_for, two_c2s_listeners, start_two_listeners

CARBONS = "urn:xmpp:carbons:2"
from mam_results import CLIENT, FORWARD, MAM, RSM, SID, fin_of, results_of
PLUGINS = ["xep_0030", "xep_0004", "xep_0059", "xep_0297", "xep_0280", "xep_0313"]


MODULES = """
[modules.mod_disco]
[modules.mod_offline]
[modules.mod_mam]
  default_result_limit = 50
[modules.mod_carboncopy]
"""


@pytest.fixture
def pair(tmp_path):
    # mod_mam listed before mod_carboncopy on purpose: its send hook must still
    # run after the carbons (by its priority, see ModMAM.swift).
    instance = start_two_listeners(tmp_path, extra=MODULES)
    yield instance
    instance.stop()


def login(port, jid):
    client = Client(jid, "secret", port, plugins=PLUGINS).wait_session()
    client.carbons = queue.Queue()

    async def watch(xmpp):
        xmpp.add_event_handler("carbon_received", lambda m: client.carbons.put(("received", m)))
        xmpp.add_event_handler("carbon_sent", lambda m: client.carbons.put(("sent", m)))

    client.run(watch)
    return client


def forwarded_body(carbon, kind):
    inner = carbon.xml.find(f"{{{CARBONS}}}{kind}/{{{FORWARD}}}forwarded/{{{CLIENT}}}message")
    assert inner is not None, ET.tostring(carbon.xml)
    return inner.findtext(f"{{{CLIENT}}}body"), inner


def wait_carbon(client, timeout=10):
    try:
        return client.carbons.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"{client.jid}: no carbon within {timeout}s") from None


def assert_quiet(*clients, wait=0.7):
    time.sleep(wait)
    for client in clients:
        assert client.carbons.empty(), f"{client.jid} got an unexpected carbon: {ET.tostring(client.carbons.get().xml)}"


def send_private(client, to, body):
    async def send(xmpp):
        message = xmpp.make_message(mto=to, mbody=body, mtype="chat")
        message.append(ET.Element(f"{{{CARBONS}}}private"))
        message.send()
    client.run(send)


# ---------------------------------------------------------------- carbons


def test_carbons_between_resources_on_two_workers(pair):
    one = login(pair.port_a, "alice@localhost/one")
    two = login(pair.port_b, "alice@localhost/two")
    bob = login(pair.port_a, "bob@localhost/b")
    try:
        assert pair.listener(pair.port_a)["workerPID"] != pair.listener(pair.port_b)["workerPID"]
        # Nothing before enable.
        bob.send_message("alice@localhost/one", "before enable")
        assert one.wait_message()["body"] == "before enable"
        one.send_message("bob@localhost/b", "sent before enable")
        assert bob.wait_message()["body"] == "sent before enable"
        assert_quiet(one, two)

        two.run(lambda x: x.plugin["xep_0280"].enable(timeout=5))

        # Received carbon: bob -> alice/one, copied to alice/two on the other worker.
        bob.send_message("alice@localhost/one", "r1")
        assert one.wait_message()["body"] == "r1"
        kind, carbon = wait_carbon(two)
        body, inner = forwarded_body(carbon, "received")
        assert (kind, body) == ("received", "r1")
        assert str(carbon["from"]) == "alice@localhost"
        assert inner.get("from") == "bob@localhost/b" and inner.get("to") == "alice@localhost/one"

        # Sent carbon: alice/one -> bob, copied to alice/two.
        one.send_message("bob@localhost/b", "s1")
        assert bob.wait_message()["body"] == "s1"
        kind, carbon = wait_carbon(two)
        body, inner = forwarded_body(carbon, "sent")
        assert (kind, body) == ("sent", "s1")
        assert inner.get("from") == "alice@localhost/one"

        # To the bare JID: both resources (same priority) get it, so no carbons.
        bob.send_message("alice@localhost", "to bare")
        assert one.wait_message()["body"] == "to bare"
        assert two.wait_message()["body"] == "to bare"

        # Private messages are not copied, and <private/> is not delivered.
        send_private(one, "bob@localhost/b", "secret one")
        delivered = bob.wait_message()
        assert delivered["body"] == "secret one"
        assert delivered.xml.find(f"{{{CARBONS}}}private") is None
        # one never enabled carbons: it got none of the above.
        assert_quiet(one, two)

        # After disable: nothing.
        two.run(lambda x: x.plugin["xep_0280"].disable(timeout=5))
        bob.send_message("alice@localhost/one", "r2")
        assert one.wait_message()["body"] == "r2"
        one.send_message("bob@localhost/b", "s2")
        assert bob.wait_message()["body"] == "s2"
        assert_quiet(one, two)
    finally:
        for client in (one, two, bob):
            client.close()


def test_carbons_enable_is_per_session(pair):
    one = login(pair.port_a, "alice@localhost/one")
    two = login(pair.port_b, "alice@localhost/two")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        one.run(lambda x: x.plugin["xep_0280"].enable(timeout=5))
        two.run(lambda x: x.plugin["xep_0280"].enable(timeout=5))
        bob.send_message("alice@localhost/two", "to two")
        assert two.wait_message()["body"] == "to two"
        kind, carbon = wait_carbon(one)
        assert (kind, forwarded_body(carbon, "received")[0]) == ("received", "to two")
        two.send_message("bob@localhost/b", "from two")
        assert bob.wait_message()["body"] == "from two"
        kind, carbon = wait_carbon(one)
        assert (kind, forwarded_body(carbon, "sent")[0]) == ("sent", "from two")
        assert_quiet(two)
        # A carbon is never carbon-copied, and a resource that closes forgets its state.
        two.close()
        two = login(pair.port_b, "alice@localhost/two")
        bob.send_message("alice@localhost/one", "to one")
        assert one.wait_message()["body"] == "to one"
        assert_quiet(one, two)
    finally:
        for client in (one, two, bob):
            client.close()


def test_carbons_iq_rules(pair):
    alice = login(pair.port_a, "alice@localhost/one")
    try:
        with pytest.raises(IqError) as refused:
            alice.run(lambda x: _iq(x, "set", f"<enable xmlns='{CARBONS}'/>", to="bob@localhost"))
        assert refused.value.condition == "forbidden"
        info = alice.run(lambda x: x.plugin["xep_0030"].get_info(jid="localhost", timeout=5))
        features = info["disco_info"]["features"]
        assert CARBONS in features and MAM in features
    finally:
        alice.close()


async def _iq(xmpp, itype, payload, to=None):
    iq = xmpp.make_iq(ito=to, itype=itype)
    iq.append(ET.fromstring(payload))
    return await iq.send(timeout=5)


# ---------------------------------------------------------------- MAM


def chat(alice, bob, count):
    """alice and bob take turns; each message is received before the next is sent,
    so the archive order is the conversation order. Returns the delivered messages."""
    delivered = []
    for i in range(count):
        sender, receiver, to = (alice, bob, "bob@localhost") if i % 2 == 0 else (bob, alice, "alice@localhost")
        sender.send_message(to, f"m{i}")
        message = receiver.wait_message()
        assert message["body"] == f"m{i}"
        delivered.append(message)
    return delivered


def retrieve(client, **kw):
    iq = client.run(lambda x: x.plugin["xep_0313"].retrieve(timeout=10, **kw))
    return results_of(iq), fin_of(iq)


async def raw_query(xmpp, fields=None, rsm=""):
    """A query built by hand (e.g. an empty <before/>, which slixmpp cannot send)."""
    results = []
    queryid = "raw-" + xmpp.new_id()
    name = "mam-" + queryid
    xmpp.register_handler(Callback(name, MatchXPath(f"{{{CLIENT}}}message/{{{MAM}}}result"), results.append))
    form = ""
    if fields:
        form = (f"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>{MAM}</value></field>"
                + "".join(f"<field var='{k}'><value>{v}</value></field>" for k, v in fields.items()) + "</x>")
    iq = xmpp.make_iq_set()
    iq.append(ET.fromstring(f"<query xmlns='{MAM}' queryid='{queryid}'>{form}<set xmlns='{RSM}'>{rsm}</set></query>"))
    try:
        reply = await iq.send(timeout=10)
    finally:
        xmpp.remove_handler(name)
    reply["mam"]["results"] = [r for r in results if r.xml.find(f"{{{MAM}}}result").get("queryid") == queryid]
    return reply


def test_mam_paging_filters_and_stanza_ids(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        delivered = chat(alice, bob, 25)
        # Every delivered message carries the recipient's archive id (XEP-0359).
        for i, message in enumerate(delivered):
            sid = message.xml.find(f"{{{SID}}}stanza-id")
            assert sid is not None and sid.get("by") == ("bob@localhost" if i % 2 == 0 else "alice@localhost")
        # alice -> carol (offline: stored by mod_offline, archived for both).
        for i in range(3):
            alice.send_message("carol@localhost", f"c{i}")
        time.sleep(0.3)

        # Three pages of at most 10, complete only on the last.
        pages, after = [], None
        for n in range(3):
            rsm = {"max": 10} if after is None else {"max": 10, "after": after}
            results, fin = retrieve(alice, with_jid="bob@localhost", rsm=rsm)
            pages.append((results, fin))
            after = fin["last"]
        assert [len(r) for r, _ in pages] == [10, 10, 5]
        assert [f["complete"] for _, f in pages] == [False, False, True]
        assert [f["index"] for _, f in pages] == [0, 10, 20]
        assert all(f["count"] == 25 for _, f in pages)
        everything = [m for r, _ in pages for m in r]
        assert [m["body"] for m in everything] == [f"m{i}" for i in range(25)]
        assert all(m["queryid"] for m in everything)
        for i, m in enumerate(everything):
            assert m["from"].startswith("alice@localhost" if i % 2 == 0 else "bob@localhost")
        assert pages[0][1]["first"] == everything[0]["id"] and pages[2][1]["last"] == everything[-1]["id"]
        # alice's ids of the messages she received are those bob's messages carried.
        assert [m["id"] for m in everything[1::2]] == [d.xml.find(f"{{{SID}}}stanza-id").get("id") for d in delivered[1::2]]

        # carol gets them at login from offline storage, with her archive's ids.
        carol = login(pair.port_b, "carol@localhost/c")
        try:
            stored = [carol.wait_message() for _ in range(3)]
            assert [m["body"] for m in stored] == ["c0", "c1", "c2"]
            ids = [m.xml.find(f"{{{SID}}}stanza-id") for m in stored]
            assert all(i is not None and i.get("by") == "carol@localhost" for i in ids)
            results, _ = retrieve(carol)
            assert [m["id"] for m in results] == [i.get("id") for i in ids]
        finally:
            carol.close()

        # Without a filter: carol's three too, in order, at the end.
        results, fin = retrieve(alice, rsm={"max": 50})
        assert fin["count"] == 28 and fin["complete"]
        assert [m["body"] for m in results][-3:] == ["c0", "c1", "c2"]
        # 'with' = carol.
        results, fin = retrieve(alice, with_jid="carol@localhost")
        assert [m["body"] for m in results] == ["c0", "c1", "c2"] and fin["complete"]
        # bob's archive has the 25, not carol's.
        results, fin = retrieve(bob, rsm={"max": 50})
        assert [m["body"] for m in results] == [f"m{i}" for i in range(25)]

        # start / end (inclusive), with the stamps the archive gave.
        results, fin = retrieve(alice, with_jid="bob@localhost",
                                start=everything[5]["stamp"], end=everything[14]["stamp"])
        assert [m["body"] for m in results] == [f"m{i}" for i in range(5, 15)] and fin["count"] == 10
        results, _ = retrieve(alice, with_jid="bob@localhost", start=everything[20]["stamp"])
        assert [m["body"] for m in results] == [f"m{i}" for i in range(20, 25)]

        # The last page (empty <before/>), then the page before it.
        reply = alice.run(lambda x: raw_query(x, {"with": "bob@localhost"}, "<max>10</max><before/>"))
        results, fin = results_of(reply), fin_of(reply)
        assert [m["body"] for m in results] == [f"m{i}" for i in range(15, 25)]
        assert fin["index"] == 15
        reply = alice.run(lambda x: raw_query(x, {"with": "bob@localhost"}, f"<max>10</max><before>{fin['first']}</before>"))
        assert [m["body"] for m in results_of(reply)] == [f"m{i}" for i in range(5, 15)]
        # after-id / before-id form fields.
        reply = alice.run(lambda x: raw_query(x, {"with": "bob@localhost", "after-id": everything[2]["id"],
                                                  "before-id": everything[6]["id"]}))
        assert [m["body"] for m in results_of(reply)] == ["m3", "m4", "m5"]
        # An unknown cursor is item-not-found; max=0 only counts.
        with pytest.raises(IqError) as missing:
            alice.run(lambda x: raw_query(x, None, "<max>5</max><after>no-such-id</after>"))
        assert missing.value.condition == "item-not-found"
        reply = alice.run(lambda x: raw_query(x, {"with": "bob@localhost"}, "<max>0</max>"))
        assert results_of(reply) == [] and fin_of(reply)["count"] == 25

        # Form discovery.
        form = alice.run(lambda x: x.plugin["xep_0313"].get_fields(timeout=5))
        assert {"FORM_TYPE", "with", "start", "end"} <= set(form.get_fields())
        # Another user's archive is not readable.
        with pytest.raises(IqError) as refused:
            alice.run(lambda x: x.plugin["xep_0313"].retrieve(jid="bob@localhost", timeout=5))
        assert refused.value.condition == "forbidden"
    finally:
        alice.close()
        bob.close()


def test_mam_full_text_search(tmp_path):
    """MongooseIM's full-text-search field (full_text_search, on by default): results
    hold every word, in any order and case, LIKE's wildcards taken literally; with
    the option off the field is neither offered nor accepted."""
    instance = start_two_listeners(tmp_path, extra="[modules.mod_mam]\n", users=("alice", "bob"))
    alice = login(instance.port_a, "alice@localhost/a")
    bob = login(instance.port_b, "bob@localhost/b")
    try:
        for body in ("Lava is hot", "the floor is LAVA", "cold water", "100% sure", "100 percent"):
            alice.send_message("bob@localhost", body)
            assert bob.wait_message()["body"] == body
        def search(words):
            reply = alice.run(lambda x: raw_query(x, {"full-text-search": words}, "<max>10</max>"))
            return [m["body"] for m in results_of(reply)]
        assert search("lava") == ["Lava is hot", "the floor is LAVA"]
        assert search("is lava") == ["Lava is hot", "the floor is LAVA"]
        assert search("floor lava") == ["the floor is LAVA"]
        assert search("100%") == ["100% sure"]
        assert search("nothing") == []
        assert "full-text-search" in alice.run(lambda x: x.plugin["xep_0313"].get_fields(timeout=5)).get_fields()
    finally:
        alice.close()
        bob.close()
        instance.stop()
    off = start_two_listeners(tmp_path / "off", extra="[modules.mod_mam]\n  full_text_search = false\n",
                              users=("alice",))
    alice = login(off.port_a, "alice@localhost/a")
    try:
        assert "full-text-search" not in alice.run(lambda x: x.plugin["xep_0313"].get_fields(timeout=5)).get_fields()
        with pytest.raises(IqError) as refused:
            alice.run(lambda x: raw_query(x, {"full-text-search": "lava"}))
        assert refused.value.condition == "bad-request"
    finally:
        alice.close()
        off.stop()


def test_mam_message_retraction(tmp_path):
    """XEP-0424 as MongooseIM's mod_mam applies it (message_retraction, on by default):
    a retraction names the sender's earlier message by its origin-id, which becomes a
    tombstone in both parties' archives; the retraction itself is archived though it
    has no body; nobody else's retraction touches the message."""
    RETRACT0 = "urn:xmpp:message-retract:0"

    def archive(client):
        reply = client.run(lambda x: raw_query(x, {"with": "bob@localhost" if client is alice else "alice@localhost"},
                                               "<max>10</max>"))
        out = []
        for message in reply["mam"]["results"]:
            inner = message.xml.find(f"{{{MAM}}}result/{{{FORWARD}}}forwarded/{{{CLIENT}}}message")
            retracted = inner.find(f"{{{RETRACT0}}}retracted")
            if retracted is not None:
                out.append(("tombstone", retracted.find(f"{{{SID}}}origin-id").get("id"), retracted.get("stamp") is not None))
            elif inner.find("{urn:xmpp:fasten:0}apply-to") is not None:
                out.append(("retraction", inner.find("{urn:xmpp:fasten:0}apply-to").get("id")))
            else:
                out.append(("message", inner.findtext(f"{{{CLIENT}}}body")))
        return out

    for enabled in (True, False):
        instance = start_two_listeners(tmp_path / str(enabled), users=("alice", "bob"),
                                       extra="[modules.mod_mam]\n" + ("" if enabled else "  message_retraction = false\n"))
        alice = login(instance.port_a, "alice@localhost/a")
        bob = login(instance.port_b, "bob@localhost/b")
        try:
            for origin, body in (("o1", "oops"), ("o2", "fine")):
                alice.send_raw(f"<message to='bob@localhost' type='chat'><body>{body}</body>"
                               f"<origin-id xmlns='{SID}' id='{origin}'/></message>")
                assert bob.wait_message()["body"] == body
            # bob cannot retract alice's message; alice retracts her first one.
            # (Retractions have no body: slixmpp raises no message event for them, so the
            # archive says when each has arrived.)
            bob.send_raw("<message to='alice@localhost' type='chat'><apply-to xmlns='urn:xmpp:fasten:0' id='o2'>"
                         f"<retract xmlns='{RETRACT0}'/></apply-to></message>")
            wait_for(lambda: len(archive(alice)) == 3, message="bob's retraction archived")
            alice.send_raw("<message to='bob@localhost' type='chat'><apply-to xmlns='urn:xmpp:fasten:0' id='o1'>"
                           f"<retract xmlns='{RETRACT0}'/></apply-to></message>")
            first = ("tombstone", "o1", True) if enabled else ("message", "oops")
            expected = [first, ("message", "fine"), ("retraction", "o2"), ("retraction", "o1")]
            wait_for(lambda: archive(alice) == expected, message=f"alice's archive: {archive(alice)}")
            assert archive(bob) == expected
        finally:
            alice.close()
            bob.close()
            instance.stop()


def test_mam_archive_of_an_older_schema_is_migrated(tmp_path):
    """An archive written before message retraction has no origin_id column: the
    workers (two, starting together) add it, and its rows stay readable."""
    import sqlite3
    var = tmp_path / "var"
    var.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(var / "xmppd.db") as db:
        db.execute("""CREATE TABLE mam_message (id INTEGER PRIMARY KEY AUTOINCREMENT, stanza_id TEXT NOT NULL UNIQUE,
            owner_user TEXT NOT NULL, owner_domain TEXT NOT NULL, remote_bare_jid TEXT NOT NULL,
            remote_resource TEXT NOT NULL, direction TEXT NOT NULL CHECK (direction IN ('I', 'O')),
            timestamp INTEGER NOT NULL, message TEXT NOT NULL, search_body TEXT NOT NULL)""")
        db.execute("INSERT INTO mam_message VALUES (1, 'OLD-1', 'alice', 'localhost', 'bob@localhost', '', 'O', "
                   "1700000000000000, '<message to=''bob@localhost'' type=''chat''><body>from before</body></message>', "
                   "'from before')")
    instance = start_two_listeners(tmp_path, extra="[modules.mod_mam]\n", users=("alice",))
    alice = login(instance.port_a, "alice@localhost/a")
    try:
        reply = alice.run(lambda x: raw_query(x, None, "<max>10</max>"))
        assert [m["body"] for m in results_of(reply)] == ["from before"]
        with sqlite3.connect(var / "xmppd.db") as db:
            assert "origin_id" in [row[1] for row in db.execute("PRAGMA table_info(mam_message)")]
    finally:
        alice.close()
        instance.stop()


def test_mam_archive_survives_kill_of_worker(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    worker = pair.listener(pair.port_a)["workerPID"]
    try:
        for i in range(10):
            alice.send_message("bob@localhost", f"k{i}")
        for i in range(10):
            assert bob.wait_message()["body"] == f"k{i}"
        # The archive is written off the event loop, committed within milliseconds
        # of routing: give it those before the kill.
        time.sleep(0.2)
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: (r := pair.listener(pair.port_a))["workerPID"] != worker and r["state"] == "running",
                 message="worker restarted")
        results, fin = retrieve(bob, with_jid="alice@localhost")
        assert [m["body"] for m in results] == [f"k{i}" for i in range(10)] and fin["complete"], (results, fin)
    finally:
        alice.close()
        bob.close()
    again = login(pair.port_a, "alice@localhost/a")
    try:
        results, _ = retrieve(again, with_jid="bob@localhost")
        assert [m["body"] for m in results] == [f"k{i}" for i in range(10)], results
    finally:
        again.close()


def test_mam_preferences_are_mongooseims_without_a_store(pair):
    """XEP-0313 §6 preferences as MongooseIM answers them without user_prefs_store:
    everything is archived, and a client cannot change that."""
    alice = login(pair.port_a, "alice@localhost/a")

    async def prefs(xmpp, itype, payload):
        iq = xmpp.make_iq_get() if itype == "get" else xmpp.make_iq_set()
        iq.append(ET.fromstring(payload))
        return (await iq.send(timeout=10)).xml.find(f"{{{MAM}}}prefs")
    try:
        current = alice.run(lambda x: prefs(x, "get", f"<prefs xmlns='{MAM}'/>"))
        assert current.get("default") == "always"
        assert [(child.tag, list(child)) for child in current] == [(f"{{{MAM}}}always", []), (f"{{{MAM}}}never", [])]
        with pytest.raises(IqError) as refused:
            alice.run(lambda x: prefs(x, "set", f"<prefs xmlns='{MAM}' default='never'><always/><never/></prefs>"))
        assert refused.value.condition == "feature-not-implemented"
    finally:
        alice.close()


def test_mam_options_are_checked(tmp_path):
    port = free_port()
    bad = Server(tmp_path, two_c2s_listeners(port, free_port()), extra="""
[modules.mod_mam]
  max_result_limit = 10
  no_such_option = true
""")
    result = bad.run("check-config", check=False)
    assert result.returncode != 0 and "no_such_option" in (result.stdout + result.stderr)
    for section in ("", "  [modules.mod_mam.pm]\n"):
        bad.write_config(two_c2s_listeners(port, free_port()), extra=f"[modules.mod_mam]\n{section}  user_prefs_store = \"rdbms\"\n")
        result = bad.run("check-config", check=False)
        printed = result.stdout + result.stderr
        assert result.returncode != 0 and "user_prefs_store" in printed and "expected it unset" in printed, printed
    bad.write_config(two_c2s_listeners(port, free_port()), extra="""
[modules.mod_carboncopy]
  iqdisc = "one_queue"
  extra = 1
""")
    result = bad.run("check-config", check=False)
    assert result.returncode != 0 and "extra" in (result.stdout + result.stderr)


def test_carbons_without_mam(tmp_path):
    instance = start_two_listeners(tmp_path, extra="[modules.mod_carboncopy]\n", users=("alice", "bob"))
    a, b = instance.port_a, instance.port_b
    one = login(a, "alice@localhost/one")
    two = login(b, "alice@localhost/two")
    bob = login(b, "bob@localhost/b")
    try:
        two.run(lambda x: x.plugin["xep_0280"].enable(timeout=5))
        bob.send_message("alice@localhost/one", "r")
        assert one.wait_message()["body"] == "r"
        kind, carbon = wait_carbon(two)
        assert (kind, forwarded_body(carbon, "received")[0]) == ("received", "r")
        one.send_message("bob@localhost/b", "s")
        delivered = bob.wait_message()
        assert delivered["body"] == "s" and delivered.xml.find(f"{{{SID}}}stanza-id") is None
        kind, carbon = wait_carbon(two)
        assert (kind, forwarded_body(carbon, "sent")[0]) == ("sent", "s")
        send_private(one, "bob@localhost/b", "p")
        assert bob.wait_message()["body"] == "p"
        assert_quiet(one, two)
    finally:
        for client in (one, two, bob):
            client.close()
        instance.stop()


def test_mam_limits_and_bad_queries(tmp_path):
    instance = start_two_listeners(tmp_path, extra="""
[modules.mod_mam]
  default_result_limit = 2
  max_result_limit = 3
  no_stanzaid_element = true
""", users=("alice", "bob"))
    a, b = instance.port_a, instance.port_b
    alice = login(a, "alice@localhost/a")
    bob = login(b, "bob@localhost/b")
    try:
        for i in range(5):
            alice.send_message("bob@localhost", f"n{i}")
            message = bob.wait_message()
            assert message["body"] == f"n{i}" and message.xml.find(f"{{{SID}}}stanza-id") is None
        # alice's worker archives them a moment after routing.
        wait_for(lambda: retrieve(bob, rsm={"max": 0})[1]["count"] == 5, message="5 messages archived")
        results, fin = retrieve(bob)  # no <max/>: default_result_limit
        assert [m["body"] for m in results] == ["n0", "n1"] and not fin["complete"] and fin["count"] == 5
        results, fin = retrieve(bob, rsm={"max": 100})  # capped at max_result_limit
        assert [m["body"] for m in results] == ["n0", "n1", "n2"] and not fin["complete"]
        results, fin = retrieve(bob, rsm={"max": 3, "index": 3})
        assert [m["body"] for m in results] == ["n3", "n4"] and fin["complete"] and fin["index"] == 3
        # XEP-0082 offsets: an end far in the past (in +14:00) matches nothing.
        reply = bob.run(lambda x: raw_query(x, {"end": "2000-01-01T10:00:00+14:00"}))
        assert results_of(reply) == [] and fin_of(reply)["count"] == 0
        for bad in ({"start": "yesterday"}, {"with": "@@"}, {"no-such-field": "1"}):
            with pytest.raises(IqError) as refused:
                bob.run(lambda x: raw_query(x, bad))
            assert refused.value.condition == "bad-request", bad
    finally:
        alice.close()
        bob.close()
        instance.stop()


def test_carbons_state_after_bind_replaces_session(pair):
    one = login(pair.port_a, "alice@localhost/one")
    old = login(pair.port_b, "alice@localhost/two")
    bob = login(pair.port_a, "bob@localhost/b")
    new = None
    try:
        old.run(lambda x: x.plugin["xep_0280"].enable(timeout=5))
        new = login(pair.port_b, "alice@localhost/two")
        assert old.disconnected.wait(10), "the old session was not replaced"
        # The new session starts with carbons off...
        bob.send_message("alice@localhost/one", "x1")
        assert one.wait_message()["body"] == "x1"
        assert_quiet(new)
        # ...and enabling it is not undone by the old session's end.
        new.run(lambda x: x.plugin["xep_0280"].enable(timeout=5))
        time.sleep(0.3)
        bob.send_message("alice@localhost/one", "x2")
        assert one.wait_message()["body"] == "x2"
        kind, carbon = wait_carbon(new)
        assert (kind, forwarded_body(carbon, "received")[0]) == ("received", "x2")
    finally:
        for client in (one, old, bob, new):
            if client:
                client.close()
