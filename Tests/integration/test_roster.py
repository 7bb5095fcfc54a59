"""mod_roster (RFC 6121) between users on two c2s listeners, i.e. two worker
processes sharing one SQLite file: roster get / set / push, the presence
subscription flow with pre-approval, presence broadcast and probes at login."""
import os
import queue
import signal
import subprocess
import time

import pytest
from slixmpp.exceptions import IqError
from slixmpp.xmlstream import ET

from xmpp_client import Client, next_matching
from xmppd_harness import XMPPD, Server, free_port, two_c2s_listeners, start_two_listeners

ROSTER = "jabber:iq:roster"


def start(tmp_path, module="[modules.mod_roster]\n"):
    return start_two_listeners(tmp_path, extra="[modules.mod_offline]\n" + module)


@pytest.fixture
def pair(tmp_path):
    instance = start(tmp_path)
    yield instance
    instance.stop()


@pytest.fixture
def versioned(tmp_path):
    instance = start(tmp_path, "[modules.mod_roster]\n  versioning = true\n  store_current_id = true\n")
    yield instance
    instance.stop()


def login(port, jid, presence=True):
    client = Client(jid, "secret", port, presence=presence)
    client.pushes = queue.Queue()
    client.subscription_requests = queue.Queue()

    async def manual(xmpp):
        # The test answers subscription requests itself.
        xmpp.auto_authorize = None
        xmpp.auto_subscribe = False
        xmpp.add_event_handler("roster_update", lambda iq: client.pushes.put(iq))

    client.run(manual)
    return client.wait_session()


def roster_iq(client, kind, build=lambda query: None):
    async def send(xmpp):
        iq = xmpp.Iq()
        iq["type"] = kind
        query = ET.Element(f"{{{ROSTER}}}query")
        build(query)
        iq.xml.append(query)
        return await iq.send(timeout=5)
    return client.run(send)


def roster(client, ver=None):
    """{bare jid: item attributes} of a roster get."""
    result = roster_iq(client, "get", lambda q: q.set("ver", ver) if ver is not None else None)
    return items_of(result)


def items_of(iq):
    query = iq.xml.find(f"{{{ROSTER}}}query")
    if query is None:
        return None
    items = {}
    for item in query.findall(f"{{{ROSTER}}}item"):
        attrs = dict(item.attrib)
        attrs["groups"] = [g.text for g in item.findall(f"{{{ROSTER}}}group")]
        items[attrs.pop("jid")] = attrs
    return items


def set_item(client, jid, name=None, groups=(), subscription=None):
    def build(query):
        item = ET.SubElement(query, f"{{{ROSTER}}}item", jid=jid)
        if name is not None:
            item.set("name", name)
        if subscription is not None:
            item.set("subscription", subscription)
        for group in groups:
            ET.SubElement(item, f"{{{ROSTER}}}group").text = group
    return roster_iq(client, "set", build)


def send_presence(client, to, ptype):
    client.loop.call_soon_threadsafe(lambda: client.xmpp.send_presence(pto=to, ptype=ptype))


def subscription_presence(ptype, sender):
    return lambda p: p["type"] == ptype and str(p["from"]) == sender


def available_from(full):
    return lambda p: str(p["from"]) == full and p["type"] in ("available", "", "chat", "away", "dnd", "xa")


def unavailable_from(full):
    return lambda p: str(p["from"]) == full and p["type"] == "unavailable"


def wait_push(client, jid, timeout=10, where=lambda item: True):
    def wanted(iq):
        items = items_of(iq)
        return bool(items) and jid in items and where(items[jid])
    iq = next_matching(client.pushes, wanted, timeout)
    if iq is None:
        raise AssertionError(f"{client.jid}: no roster push for {jid} within {timeout}s")
    return iq, items_of(iq)[jid]


def wait_roster(client, expected, timeout=5):
    """Polls the roster until `expected(items)` holds (changes to the other user's
    rows are committed before pushes, but the test reads from another worker)."""
    deadline = time.time() + timeout
    while True:
        items = roster(client)
        if expected(items) or time.time() > deadline:
            return items
        time.sleep(0.05)


def subscribe(sub, contact, contact_jid, sub_jid):
    """`sub` subscribes to `contact`'s presence and `contact` approves."""
    send_presence(sub, contact_jid, "subscribe")
    contact.wait_presence(subscription_presence("subscribe", sub_jid), "subscription request")
    send_presence(contact, sub_jid, "subscribed")
    sub.wait_presence(subscription_presence("subscribed", contact_jid), "subscription approval")


def test_roster_get_set_push_on_both_workers(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    alice2 = login(pair.port_b, "alice@localhost/b")
    try:
        assert pair.listener(pair.port_a)["workerPID"] != pair.listener(pair.port_b)["workerPID"]
        assert roster(alice) == {}
        set_item(alice, "bob@localhost", name="Bob", groups=["Friends", "Work"])
        for client in (alice, alice2):
            iq, item = wait_push(client, "bob@localhost")
            assert item["subscription"] == "none" and item["name"] == "Bob"
            assert sorted(item["groups"]) == ["Friends", "Work"]
            assert iq["from"].bare in ("", "alice@localhost")
        assert roster(alice2) == {"bob@localhost": {"name": "Bob", "subscription": "none", "groups": ["Friends", "Work"]}}
        set_item(alice2, "bob@localhost", name="Robert")
        assert wait_push(alice, "bob@localhost")[1]["name"] == "Robert"
        assert roster(alice)["bob@localhost"]["groups"] == []

        # RFC 6121 §2.3.3 errors.
        with pytest.raises(IqError) as error:
            roster_iq(alice, "set", lambda q: [ET.SubElement(q, f"{{{ROSTER}}}item", jid=j)
                                               for j in ("x@localhost", "y@localhost")])
        assert error.value.iq["error"]["condition"] == "bad-request"
        with pytest.raises(IqError) as error:
            set_item(alice, "carol@localhost", name="n" * 2000)
        assert error.value.iq["error"]["condition"] == "not-acceptable"
        with pytest.raises(IqError) as error:
            set_item(alice, "carol@localhost", groups=["same", "same"])
        assert error.value.iq["error"]["condition"] == "bad-request"
        with pytest.raises(IqError) as error:
            set_item(alice, "nobody@localhost", subscription="remove")
        assert error.value.iq["error"]["condition"] == "item-not-found"

        async def others_roster(xmpp):
            iq = xmpp.Iq()
            iq["type"] = "get"
            iq["to"] = "bob@localhost"
            iq.xml.append(ET.Element(f"{{{ROSTER}}}query"))
            return await iq.send(timeout=5)
        with pytest.raises(IqError) as error:
            alice.run(others_roster)
        assert error.value.iq["error"]["condition"] == "forbidden"

        set_item(alice, "bob@localhost", subscription="remove")
        wait_push(alice2, "bob@localhost", where=lambda item: item["subscription"] == "remove")
        assert roster(alice) == {}
    finally:
        alice.close()
        alice2.close()


def test_full_subscription_flow_and_broadcast(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        send_presence(alice, "bob@localhost", "subscribe")
        request = bob.wait_presence(subscription_presence("subscribe", "alice@localhost"), "subscription request")
        assert str(request["to"]).startswith("bob@localhost")
        assert wait_push(alice, "bob@localhost")[1] == {"subscription": "none", "ask": "subscribe", "groups": []}
        # A pending inbound request is not a roster item (RFC 6121 §3.1.3).
        assert roster(bob) == {}

        send_presence(bob, "alice@localhost", "subscribed")
        alice.wait_presence(subscription_presence("subscribed", "bob@localhost"), "subscription approval")
        # §3.1.5: the new subscriber gets the contact's presence at once.
        alice.wait_presence(available_from("bob@localhost/b"), "bob's presence")
        wait_push(bob, "alice@localhost", where=lambda item: item["subscription"] == "from")
        assert roster(alice)["bob@localhost"] == {"subscription": "to", "groups": []}
        assert roster(bob)["alice@localhost"] == {"subscription": "from", "groups": []}

        # And back: mutual.
        subscribe(bob, alice, "alice@localhost", "bob@localhost")
        bob.wait_presence(available_from("alice@localhost/a"), "alice's presence")
        assert wait_roster(alice, lambda r: r["bob@localhost"]["subscription"] == "both")["bob@localhost"]["subscription"] == "both"
        assert wait_roster(bob, lambda r: r["alice@localhost"]["subscription"] == "both")["alice@localhost"]["subscription"] == "both"

        # §4.4: presence updates reach subscribers on the other worker.
        alice.loop.call_soon_threadsafe(lambda: alice.xmpp.send_presence(pshow="away", pstatus="lunch"))
        away = bob.wait_presence(lambda p: str(p["from"]) == "alice@localhost/a" and p["show"] == "away", "alice away")
        assert away["status"] == "lunch"

        # §4.5: bob goes (closes his stream): alice gets his unavailable presence.
        bob.close()
        alice.wait_presence(unavailable_from("bob@localhost/b"), "bob's unavailable presence")
    finally:
        alice.close()
        bob.close()


def test_contacts_presence_at_login(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        subscribe(alice, bob, "bob@localhost", "alice@localhost")
        alice.close()
        bob.loop.call_soon_threadsafe(lambda: bob.xmpp.send_presence(pstatus="here"))
        time.sleep(0.3)
        alice = login(pair.port_a, "alice@localhost/again")
        # Answers to the probes of the initial presence (RFC 6121 §4.2.2).
        presence = alice.wait_presence(available_from("bob@localhost/b"), "bob's presence at login", timeout=5)
        assert presence["status"] == "here"
        # Without a subscription the other way, bob hears nothing of alice.
        with pytest.raises(AssertionError):
            bob.wait_presence(available_from("alice@localhost/again"), "alice's presence", timeout=1)
    finally:
        alice.close()
        bob.close()


def test_request_to_offline_user_delivered_at_next_login(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    try:
        send_presence(alice, "bob@localhost", "subscribe")
        wait_push(alice, "bob@localhost")
        time.sleep(0.3)
        # Bound without presence: not delivered yet.
        bob = login(pair.port_b, "bob@localhost/b", presence=False)
        with pytest.raises(AssertionError):
            bob.wait_presence(subscription_presence("subscribe", "alice@localhost"), "request", timeout=1)
        bob.loop.call_soon_threadsafe(lambda: bob.xmpp.send_presence())
        bob.wait_presence(subscription_presence("subscribe", "alice@localhost"), "request at login")
        send_presence(bob, "alice@localhost", "subscribed")
        alice.wait_presence(subscription_presence("subscribed", "bob@localhost"), "approval")
        assert wait_roster(alice, lambda r: r["bob@localhost"]["subscription"] == "to")["bob@localhost"]["subscription"] == "to"
        bob.close()
        # Answered: not delivered again at the next login.
        bob = login(pair.port_b, "bob@localhost/b2")
        with pytest.raises(AssertionError):
            bob.wait_presence(subscription_presence("subscribe", "alice@localhost"), "request", timeout=1)
    finally:
        alice.close()
        bob.close()


def test_pre_approval(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        assert "preapproval" in bob.xmpp.features
        send_presence(bob, "alice@localhost", "subscribed")
        push = wait_push(bob, "alice@localhost")[1]
        assert push["subscription"] == "none" and push["approved"] == "true"
        # Not routed: alice hears nothing until she asks.
        with pytest.raises(AssertionError):
            alice.wait_presence(subscription_presence("subscribed", "bob@localhost"), "early approval", timeout=1)
        send_presence(alice, "bob@localhost", "subscribe")
        alice.wait_presence(subscription_presence("subscribed", "bob@localhost"), "automatic approval")
        alice.wait_presence(available_from("bob@localhost/b"), "bob's presence")
        assert roster(alice)["bob@localhost"]["subscription"] == "to"
        assert roster(bob)["alice@localhost"] == {"subscription": "from", "groups": []}
        with pytest.raises(AssertionError):
            bob.wait_presence(subscription_presence("subscribe", "alice@localhost"), "request", timeout=1)
    finally:
        alice.close()
        bob.close()


def test_remove_cancels_subscription_both_ways(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        subscribe(alice, bob, "bob@localhost", "alice@localhost")
        subscribe(bob, alice, "alice@localhost", "bob@localhost")
        assert wait_roster(bob, lambda r: r["alice@localhost"]["subscription"] == "both")["alice@localhost"]["subscription"] == "both"
        set_item(alice, "bob@localhost", subscription="remove")
        assert roster(alice) == {}
        bob.wait_presence(subscription_presence("unsubscribe", "alice@localhost"), "unsubscribe")
        bob.wait_presence(subscription_presence("unsubscribed", "alice@localhost"), "unsubscribed")
        bob.wait_presence(unavailable_from("alice@localhost/a"), "alice's unavailable")
        alice.wait_presence(unavailable_from("bob@localhost/b"), "bob's unavailable")
        wait_push(bob, "alice@localhost", where=lambda item: item["subscription"] == "none")
        assert roster(bob)["alice@localhost"]["subscription"] == "none"
        # No more broadcast between them.
        alice.loop.call_soon_threadsafe(lambda: alice.xmpp.send_presence(pshow="dnd"))
        with pytest.raises(AssertionError):
            bob.wait_presence(lambda p: str(p["from"]) == "alice@localhost/a" and p["show"] == "dnd", "dnd", timeout=1)
    finally:
        alice.close()
        bob.close()


def test_roster_versioning(versioned):
    alice = login(versioned.port_a, "alice@localhost/a")
    try:
        assert "rosterver" in alice.xmpp.features
        result = roster_iq(alice, "get", lambda q: q.set("ver", ""))
        first = result.xml.find(f"{{{ROSTER}}}query").get("ver")
        assert first is not None
        set_item(alice, "bob@localhost", name="Bob")
        push, _ = wait_push(alice, "bob@localhost")
        ver = push.xml.find(f"{{{ROSTER}}}query").get("ver")
        assert ver and ver != first
        # Current version: an empty result (RFC 6121 §2.6.3).
        assert roster(alice, ver=ver) is None
        assert list(roster(alice, ver=first)) == ["bob@localhost"]
    finally:
        alice.close()


@pytest.mark.parametrize("options,expected", [
    ("  versioning = \"yes\"\n", "modules.mod_roster.versioning: found string \"yes\", expected a boolean"),
    ("  backend = \"mnesia\"\n", "modules.mod_roster.backend"),
    ("  versionning = true\n", "modules.mod_roster.versionning: unknown key"),
])
def test_bad_roster_options(tmp_path, options, expected):
    instance = Server(tmp_path, two_c2s_listeners(free_port(), free_port()), extra="[modules.mod_roster]\n" + options)
    result = subprocess.run([XMPPD, "check-config", "-c", str(instance.config)], capture_output=True, text=True)
    assert result.returncode == 1
    assert expected in result.stderr, result.stderr


def test_contacts_see_unavailable_when_a_worker_is_killed(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        subscribe(alice, bob, "bob@localhost", "alice@localhost")
        alice.wait_presence(available_from("bob@localhost/b"), "bob's presence")
        os.kill(pair.listener(pair.port_b)["workerPID"], signal.SIGKILL)
        alice.wait_presence(unavailable_from("bob@localhost/b"), "bob's unavailable after the crash")
    finally:
        alice.close()
        bob.close()


def test_denied_request_and_directed_presence(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    carol = login(pair.port_b, "carol@localhost/c")
    try:
        # §3.2: carol denies alice's request.
        send_presence(alice, "carol@localhost", "subscribe")
        carol.wait_presence(subscription_presence("subscribe", "alice@localhost"), "request")
        send_presence(carol, "alice@localhost", "unsubscribed")
        alice.wait_presence(subscription_presence("unsubscribed", "carol@localhost"), "denial")
        assert wait_roster(alice, lambda r: "ask" not in r["carol@localhost"])["carol@localhost"] == {
            "subscription": "none", "groups": []}
        assert roster(carol) == {}

        # §4.6: directed presence without a subscription, then its unavailable.
        alice.loop.call_soon_threadsafe(lambda: alice.xmpp.send_presence(pto="carol@localhost/c", pstatus="hi"))
        assert carol.wait_presence(available_from("alice@localhost/a"), "directed presence")["status"] == "hi"
        alice.close()
        carol.wait_presence(unavailable_from("alice@localhost/a"), "unavailable after directed presence")
    finally:
        alice.close()
        carol.close()


def test_rosters_survive_reload(tmp_path):
    instance = start(tmp_path)
    try:
        alice = login(instance.port_a, "alice@localhost/a")
        bob = login(instance.port_b, "bob@localhost/b")
        subscribe(alice, bob, "bob@localhost", "alice@localhost")
        subscribe(bob, alice, "alice@localhost", "bob@localhost")
        wait_roster(alice, lambda r: r["bob@localhost"]["subscription"] == "both")
        instance.write_config(two_c2s_listeners(instance.port_a, instance.port_b),
                              extra="[modules.mod_offline]\n[modules.mod_roster]\n  versioning = true\n")
        assert "changed" in instance.ctl("reload").stdout
        # A new worker, with the old one draining: rosters and presence carry over.
        fresh = login(instance.port_a, "alice@localhost/fresh")
        fresh.wait_presence(available_from("bob@localhost/b"), "bob's presence after the reload")
        assert roster(fresh)["bob@localhost"]["subscription"] == "both"
        assert "rosterver" in fresh.xmpp.features
        # bob, still on a draining worker, hears of the new resource.
        bob.wait_presence(available_from("alice@localhost/fresh"), "alice's new resource")
        for client in (fresh, alice, bob):
            client.close()
    finally:
        instance.stop()


def test_contacts_hear_a_crash_once_with_several_surviving_workers(tmp_path):
    a, b, c = free_port(), free_port(), free_port()
    listeners = two_c2s_listeners(a, b) + f"""
[[listen.c2s]]
  port = {c}
  ip_address = "127.0.0.1"
"""
    instance = Server(tmp_path, listeners, extra="[modules.mod_roster]\n")
    instance.start()
    for user in ("alice", "bob"):
        instance.register(user, "secret")
    alice = login(a, "alice@localhost/a")
    bob = login(b, "bob@localhost/b")
    try:
        subscribe(alice, bob, "bob@localhost", "alice@localhost")
        alice.wait_presence(available_from("bob@localhost/b"), "bob's presence")
        # Workers a and c survive: only one of them tells bob's contacts.
        os.kill(instance.listener(b)["workerPID"], signal.SIGKILL)
        alice.wait_presence(unavailable_from("bob@localhost/b"), "bob's unavailable after the crash")
        time.sleep(1.5)
        extra = []
        while not alice.presences.empty():
            p = alice.presences.get()
            if unavailable_from("bob@localhost/b")(p):
                extra.append(p)
        assert extra == [], f"{len(extra)} more unavailable presences for one crash"
    finally:
        alice.close()
        bob.close()
        instance.stop()


def test_subscription_request_racing_the_contacts_initial_presence(tmp_path):
    """RFC 6121 §3.1.3: a request to a contact with no available resource is stored and
    delivered with its next initial presence; one to an available contact is delivered
    at once. With the two users on different workers, the sender's worker learns of the
    contact's presence from the mesh a moment after the contact's worker read its
    stored requests: a request sent in that moment must still arrive."""
    rounds = 25
    users = ["alice"] + [f"bob{i}" for i in range(rounds)]
    instance = start_two_listeners(tmp_path, extra="[modules.mod_roster]\n", users=users)
    alice = login(instance.port_a, "alice@localhost/a")
    missed = []
    try:
        for i in range(rounds):
            bob = login(instance.port_b, f"bob{i}@localhost/b", presence=False)
            try:
                # Both at once: the request crosses the mesh while bob's presence does.
                bob.send_raw("<presence/>")
                send_presence(alice, f"bob{i}@localhost", "subscribe")
                if next_matching(bob.presences, subscription_presence("subscribe", "alice@localhost"), 5) is None:
                    missed.append(i)
            finally:
                bob.close()
        assert not missed, f"subscription requests never delivered in rounds {missed} of {rounds}"
    finally:
        alice.close()
        instance.stop()
