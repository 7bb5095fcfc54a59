"""mod_blocking (XEP-0191) and mod_private (XEP-0049) with the users on two c2s
listeners, i.e. two worker processes sharing one SQLite file, driven by slixmpp's
xep_0191 / xep_0049 plugins (raw iqs where a test needs a malformed request)."""
import queue
import time

import pytest
from slixmpp.exceptions import IqError
from slixmpp.xmlstream import ET, ElementBase

from xmpp_client import Client, next_matching
from xmppd_harness import Server, free_port, two_c2s_listeners, start_two_listeners

BLOCKING = "urn:xmpp:blocking"
BLOCKING_ERRORS = "urn:xmpp:blocking:errors"
PRIVATE = "jabber:iq:private"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
MAM = "urn:xmpp:mam:2"
FORWARD = "urn:xmpp:forward:0"
PLUGINS = ["xep_0030", "xep_0191", "xep_0049", "xep_0199", "xep_0004", "xep_0059", "xep_0297", "xep_0313"]
QUIET = 1.5  # seconds a blocked stanza is given to (wrongly) arrive


MODULES = """
[modules.mod_disco]
[modules.mod_offline]
[modules.mod_roster]
[modules.mod_mam]
[modules.mod_blocking]
[modules.mod_private]
  backend = "rdbms"
  iqdisc = "one_queue"
"""


@pytest.fixture
def pair(tmp_path):
    instance = start_two_listeners(tmp_path, extra=MODULES)
    yield instance
    instance.stop()


class Prefs(ElementBase):
    """A private fragment: <prefs xmlns='xmppd:test:prefs'><nick/></prefs>."""
    name = "prefs"
    namespace = "xmppd:test:prefs"
    plugin_attrib = "prefs"
    interfaces = {"nick"}
    sub_interfaces = {"nick"}


def login(port, jid, presence=True):
    client = Client(jid, "secret", port, plugins=PLUGINS, presence=presence)
    client.pushes = queue.Queue()
    client.errors = queue.Queue()

    async def watch(xmpp):
        # The tests answer subscription requests themselves.
        xmpp.auto_authorize = None
        xmpp.auto_subscribe = False
        xmpp.add_event_handler("blocked", lambda iq: client.pushes.put(("block", iq)))
        xmpp.add_event_handler("unblocked", lambda iq: client.pushes.put(("unblock", iq)))
        xmpp.add_event_handler("message_error", lambda m: client.errors.put(m))
        xmpp.plugin["xep_0049"].register(Prefs)

    client.run(watch)
    return client.wait_session()


def on_two_workers(server):
    assert server.listener(server.port_a)["workerPID"] != server.listener(server.port_b)["workerPID"]


# MARK: blocking helpers

def block(client, *jids):
    client.run(lambda x: x.plugin["xep_0191"].block(list(jids), timeout=5))


def unblock(client, *jids):
    """No JID: unblock everyone (an empty <unblock/>, which slixmpp's helper refuses)."""
    if jids:
        client.run(lambda x: x.plugin["xep_0191"].unblock(list(jids), timeout=5))
    else:
        blocking_iq(client, "set", "unblock")


def blocklist(client):
    return client.run(lambda x: x.plugin["xep_0191"].get_blocked_jids(timeout=5))


def blocking_iq(client, kind, name, items=(), to=None):
    async def send(xmpp):
        iq = xmpp.Iq()
        iq["type"] = kind
        if to:
            iq["to"] = to
        element = ET.SubElement(iq.xml, f"{{{BLOCKING}}}{name}")
        for jid in items:
            ET.SubElement(element, f"{{{BLOCKING}}}item", jid=jid)
        return await iq.send(timeout=5)
    return client.run(send)


def error_condition(excinfo):
    return excinfo.value.iq["error"]["condition"]


def chats(client, timeout):
    """Bodies of the chat messages (not errors) that arrive within `timeout`."""
    bodies = []
    deadline = time.time() + timeout
    while True:
        remaining = deadline - time.time()
        if remaining <= 0:
            return bodies
        try:
            message = client.messages.get(timeout=remaining)
        except queue.Empty:
            return bodies
        if message["type"] != "error":
            bodies.append(message["body"])


def wait_body(client, body, timeout=10):
    message = next_matching(client.messages, lambda m: m["type"] != "error" and m["body"] == body, timeout)
    if message is None:
        raise AssertionError(f"{client.jid}: no message {body!r} within {timeout}s")
    return message


def wait_error(client, timeout=10):
    try:
        return client.errors.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError(f"{client.jid}: no message error within {timeout}s") from None


def wait_push(client, kind, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            got, iq = client.pushes.get(timeout=max(0.01, deadline - time.time()))
        except queue.Empty:
            break
        if got == kind:
            return iq
    raise AssertionError(f"{client.jid}: no {kind} push within {timeout}s")


def push_items(iq, kind):
    element = iq.xml.find(f"{{{BLOCKING}}}{kind}")
    assert element is not None, ET.tostring(iq.xml)
    return sorted(item.get("jid") for item in element.findall(f"{{{BLOCKING}}}item"))


def assert_delivered(sender, recipient, body):
    sender.send_message(recipient.bare_jid, body)
    wait_body(recipient, body)


def assert_blocked_error(sender, to, body):
    """`sender` blocked `to`: its message comes back as not-acceptable + <blocked/>."""
    sender.send_message(to, body)
    error = wait_error(sender)
    assert error["from"].bare == to and error["body"] == body
    assert error["error"]["condition"] == "not-acceptable"
    assert error.xml.find(f"{{jabber:client}}error/{{{BLOCKING_ERRORS}}}blocked") is not None, ET.tostring(error.xml)


Client.bare_jid = property(lambda self: self.jid.split("/")[0])


# MARK: blocking

def test_block_stops_messages_both_ways_across_workers(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        on_two_workers(pair)
        assert blocklist(alice) == set()
        assert_delivered(bob, alice, "before the block")
        assert_delivered(alice, bob, "hello bob")

        block(alice, "bob@localhost")
        assert {str(j) for j in blocklist(alice)} == {"bob@localhost"}
        # Inbound, decided on bob's worker: dropped without an error (the block is
        # not revealed), nothing reaches alice on the other worker.
        bob.send_message("alice@localhost", "blocked 1")
        bob.send_message("alice@localhost/a", "blocked 2")
        assert chats(alice, QUIET) == []
        assert bob.errors.empty()
        # An iq get to one of alice's resources: service-unavailable, as if offline.
        with pytest.raises(IqError) as excinfo:
            bob.run(lambda x: x.plugin["xep_0199"].send_ping("alice@localhost/a", timeout=5))
        assert error_condition(excinfo) == "service-unavailable"
        # Outbound: alice's own message to bob comes back with the blocked error.
        assert_blocked_error(alice, "bob@localhost", "can you hear me")
        assert chats(bob, QUIET) == []
        # Others are not affected.
        carol = login(pair.port_b, "carol@localhost/c")
        assert_delivered(carol, alice, "from carol")
        assert_delivered(alice, carol, "to carol")
        carol.close()
    finally:
        alice.close()
        bob.close()


def test_block_push_to_every_resource_and_unblock(pair):
    one = login(pair.port_a, "alice@localhost/one")
    two = login(pair.port_b, "alice@localhost/two")
    bob = login(pair.port_b, "bob@localhost/b")
    carol = login(pair.port_a, "carol@localhost/c")
    try:
        on_two_workers(pair)
        block(one, "bob@localhost", "carol@localhost")
        # The push reaches the resource on the other worker, and the sender too.
        assert push_items(wait_push(two, "block"), "block") == ["bob@localhost", "carol@localhost"]
        assert push_items(wait_push(one, "block"), "block") == ["bob@localhost", "carol@localhost"]
        assert {str(j) for j in blocklist(two)} == {"bob@localhost", "carol@localhost"}
        bob.send_message("alice@localhost", "while blocked")
        assert chats(one, QUIET) == [] and chats(two, 0.2) == []

        # Unblock one contact from the other resource: bob's messages arrive again.
        unblock(two, "bob@localhost")
        assert push_items(wait_push(one, "unblock"), "unblock") == ["bob@localhost"]
        assert push_items(wait_push(two, "unblock"), "unblock") == ["bob@localhost"]
        assert {str(j) for j in blocklist(one)} == {"carol@localhost"}
        bob.send_message("alice@localhost/one", "after unblock")
        wait_body(one, "after unblock")
        assert_delivered(one, bob, "hello again bob")
        carol.send_message("alice@localhost/two", "still blocked")
        assert chats(two, QUIET) == []

        # An empty <unblock/> unblocks everyone, and the push says so with no items.
        unblock(one)
        assert push_items(wait_push(two, "unblock"), "unblock") == []
        assert blocklist(two) == set()
        carol.send_message("alice@localhost/two", "carol again")
        wait_body(two, "carol again")
    finally:
        for client in (one, two, bob, carol):
            client.close()


def test_blocking_a_subscriber_sends_unavailable_and_hides_presence(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        for (sub, contact) in ((alice, bob), (bob, alice)):
            sub.loop.call_soon_threadsafe(lambda s=sub, c=contact: s.xmpp.send_presence(pto=c.bare_jid, ptype="subscribe"))
            contact.wait_presence(lambda p, s=sub: p["type"] == "subscribe" and p["from"].bare == s.bare_jid)
            contact.loop.call_soon_threadsafe(lambda s=sub, c=contact: c.xmpp.send_presence(pto=s.bare_jid, ptype="subscribed"))
            sub.wait_presence(lambda p, c=contact: p["type"] == "subscribed" and p["from"].bare == c.bare_jid)
        block(alice, "bob@localhost")
        # §3.3: bob, a subscriber, sees alice go unavailable.
        bob.wait_presence(lambda p: str(p["from"]) == "alice@localhost/a" and p["type"] == "unavailable")
        # New presence of either side does not reach the other.
        alice.loop.call_soon_threadsafe(lambda: alice.xmpp.send_presence(pshow="dnd"))
        bob.loop.call_soon_threadsafe(lambda: bob.xmpp.send_presence(pshow="away"))
        time.sleep(QUIET)
        assert not [p for p in drain(bob.presences) if p["from"].bare == "alice@localhost"]
        assert not [p for p in drain(alice.presences) if p["from"].bare == "bob@localhost"]
        # §3.4: unblocking sends alice's current presence to bob.
        unblock(alice, "bob@localhost")
        bob.wait_presence(lambda p: str(p["from"]) == "alice@localhost/a" and p["show"] == "dnd")
    finally:
        alice.close()
        bob.close()


def drain(q):
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


def test_blocklist_survives_restart_and_offline_storage(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    block(alice, "bob@localhost", "spammer.example")
    alice.close()
    pair.stop()
    pair.start()
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        assert {str(j) for j in blocklist(alice)} == {"bob@localhost", "spammer.example"}
        bob.send_message("alice@localhost", "after restart")
        assert chats(alice, QUIET) == []
        assert_blocked_error(alice, "bob@localhost", "still blocked")
        # A message to alice while she is offline is not stored for her either.
        alice.close()
        time.sleep(0.3)
        bob.send_message("alice@localhost", "while you were away")
        time.sleep(0.5)
        alice = login(pair.port_a, "alice@localhost/a2")
        assert chats(alice, QUIET) == []
        # The control: unblocked, offline messages are stored again.
        unblock(alice, "bob@localhost")
        alice.close()
        time.sleep(0.3)
        bob.send_message("alice@localhost", "stored for later")
        time.sleep(0.5)
        alice = login(pair.port_a, "alice@localhost/a3")
        wait_body(alice, "stored for later")
    finally:
        alice.close()
        bob.close()


def test_stored_messages_from_a_blocked_contact_are_not_delivered(pair):
    """Messages stored while alice was offline, before the block, reach her at login
    by the server's routing, not bob's send: stopped on alice's worker."""
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        bob.send_message("alice@localhost", "stored before the block")
        bob.send_message("alice@localhost", "also stored")
        time.sleep(0.5)
        # Bound without presence: not available, so nothing is delivered yet.
        alice = login(pair.port_a, "alice@localhost/a", presence=False)
        block(alice, "bob@localhost")
        alice.loop.call_soon_threadsafe(alice.xmpp.send_presence)
        assert chats(alice, QUIET) == []
        unblock(alice, "bob@localhost")
        alice.close()
        # The control: the same, with someone else blocked, is delivered.
        bob.send_message("alice@localhost", "stored after the unblock")
        time.sleep(0.5)
        alice = login(pair.port_a, "alice@localhost/a2", presence=False)
        block(alice, "carol@localhost")
        alice.loop.call_soon_threadsafe(alice.xmpp.send_presence)
        wait_body(alice, "stored after the unblock")
        alice.close()
    finally:
        bob.close()


def archived_bodies(client, with_jid):
    iq = client.run(lambda x: x.plugin["xep_0313"].retrieve(with_jid=with_jid, timeout=10))
    bodies = []
    for message in iq["mam"]["results"]:
        inner = message.xml.find(f"{{{MAM}}}result/{{{FORWARD}}}forwarded/{{jabber:client}}message")
        bodies.append(inner.findtext("{jabber:client}body"))
    return bodies


def test_blocked_stanzas_leave_no_trace(pair):
    """Stopped before the other modules see them (mod_blocking's hooks run first,
    whatever the config order): not archived, no pending subscription request."""
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        assert_delivered(bob, alice, "archived")
        block(alice, "bob@localhost")
        bob.send_message("alice@localhost", "not archived")
        assert_blocked_error(alice, "bob@localhost", "not archived either")
        bob.loop.call_soon_threadsafe(lambda: bob.xmpp.send_presence(pto="alice@localhost", ptype="subscribe"))
        assert chats(alice, QUIET) == []
        assert archived_bodies(alice, "bob@localhost") == ["archived"]
        # Not in the sender's archive either: the message never left the server.
        assert archived_bodies(bob, "alice@localhost") == ["archived"]
        unblock(alice, "bob@localhost")
        alice.close()
        # mod_roster would hand a request it had taken to alice at her next login.
        alice = login(pair.port_a, "alice@localhost/a2")
        time.sleep(QUIET)
        assert not [p for p in drain(alice.presences) if p["type"] == "subscribe"]
        # The control: a request sent now is delivered.
        bob.loop.call_soon_threadsafe(lambda: bob.xmpp.send_presence(pto="alice@localhost", ptype="subscribe"))
        alice.wait_presence(lambda p: p["type"] == "subscribe" and p["from"].bare == "bob@localhost")
    finally:
        alice.close()
        bob.close()


def test_blocking_requests_are_checked(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        info = alice.run(lambda x: x.plugin["xep_0030"].get_info(jid="localhost", timeout=5))
        assert BLOCKING in info["disco_info"]["features"]
        with pytest.raises(IqError) as excinfo:
            blocking_iq(alice, "set", "block")
        assert error_condition(excinfo) == "bad-request"
        with pytest.raises(IqError) as excinfo:
            blocking_iq(alice, "set", "block", ["@@bad@@"])
        assert error_condition(excinfo) == "jid-malformed"
        with pytest.raises(IqError) as excinfo:
            blocking_iq(alice, "get", "block", ["bob@localhost"])
        assert error_condition(excinfo) == "bad-request"
        # Someone else's list is not bob's business.
        with pytest.raises(IqError) as excinfo:
            blocking_iq(bob, "get", "blocklist", to="alice@localhost")
        assert error_condition(excinfo) == "forbidden"
        assert blocklist(alice) == set()
        # A full JID item blocks only that resource; a domain item every address at it.
        block(alice, "bob@localhost/other")
        assert_delivered(bob, alice, "from b")
        block(alice, "localhost/nobody", "example.org")
        assert_delivered(bob, alice, "still from b")
        block(alice, "bob@localhost/b")
        bob.send_message("alice@localhost", "now blocked")
        assert chats(alice, QUIET) == []
    finally:
        alice.close()
        bob.close()


def test_blocking_options_are_checked(tmp_path):
    bad = Server(tmp_path, two_c2s_listeners(free_port(), free_port()), extra="""
[modules.mod_blocking]
  backend = "mnesia"
""")
    result = bad.run("check-config", check=False)
    assert result.returncode != 0 and "modules.mod_blocking.backend" in result.stderr, result.stderr
    bad.write_config(two_c2s_listeners(free_port(), free_port()), extra="""
[modules.mod_private]
  no_such_option = 1
""")
    result = bad.run("check-config", check=False)
    assert result.returncode != 0 and "modules.mod_private.no_such_option" in result.stderr, result.stderr


# MARK: private storage

def private_iq(client, kind, children=(), to=None):
    """A raw jabber:iq:private iq; `children` are (namespace, name, text)."""
    async def send(xmpp):
        iq = xmpp.Iq()
        iq["type"] = kind
        if to:
            iq["to"] = to
        query = ET.SubElement(iq.xml, f"{{{PRIVATE}}}query")
        for namespace, name, text in children:
            ET.SubElement(query, f"{{{namespace}}}{name}").text = text
        return await iq.send(timeout=5)
    return client.run(send)


def stored_nick(client):
    result = client.run(lambda x: x.plugin["xep_0049"].retrieve("prefs", timeout=5))
    return result["private"]["prefs"]["nick"]


def store_nick(client, nick):
    prefs = Prefs()
    prefs["nick"] = nick
    client.run(lambda x: x.plugin["xep_0049"].store(prefs, timeout=5))


def test_private_storage_across_resources_and_restart(pair):
    one = login(pair.port_a, "alice@localhost/one")
    two = login(pair.port_b, "alice@localhost/two")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        on_two_workers(pair)
        # Nothing stored: the requested element comes back empty.
        assert stored_nick(one) == ""
        store_nick(one, "Hamlet")
        assert stored_nick(one) == "Hamlet"
        assert stored_nick(two) == "Hamlet"
        # A set replaces the namespace's data; other namespaces are kept apart.
        private_iq(two, "set", [("xmppd:test:other", "other", "kept")])
        store_nick(two, "Macbeth")
        assert stored_nick(one) == "Macbeth"
        other = private_iq(one, "get", [("xmppd:test:other", "other", None)])
        assert other.xml.find(f"{{{PRIVATE}}}query/{{xmppd:test:other}}other").text == "kept"
        # Per user: bob has none of it.
        assert stored_nick(bob) == ""
    finally:
        for client in (one, two, bob):
            client.close()
    pair.stop()
    pair.start()
    again = login(pair.port_b, "alice@localhost/again")
    try:
        assert stored_nick(again) == "Macbeth"
    finally:
        again.close()


def test_private_storage_errors(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        store_nick(alice, "secret nick")
        cases = [
            # Another user's data: forbidden, for get and set.
            (bob, "get", [("xmppd:test:prefs", "prefs", None)], "alice@localhost", "forbidden"),
            (bob, "set", [("xmppd:test:prefs", "prefs", "x")], "alice@localhost", "forbidden"),
            # Reserved namespaces.
            (alice, "set", [("jabber:client", "message", "x")], None, "not-acceptable"),
            (alice, "set", [("vcard-temp", "vCard", "x")], None, "not-acceptable"),
            (alice, "get", [("http://jabber.org/protocol/disco#info", "query", None)], None, "not-acceptable"),
            # No child element.
            (alice, "get", [], None, "not-acceptable"),
            (alice, "set", [], None, "not-acceptable"),
            # A get for two namespaces at once.
            (alice, "get", [("a:b", "a", None), ("c:d", "c", None)], None, "bad-request"),
        ]
        for client, kind, children, to, condition in cases:
            with pytest.raises(IqError) as excinfo:
                private_iq(client, kind, children, to=to)
            assert error_condition(excinfo) == condition, (kind, children, to)
        # Nothing of bob's attempt got stored.
        assert stored_nick(alice) == "secret nick"
    finally:
        alice.close()
        bob.close()
