"""mod_muc_light: MongooseIM's MUC Light (urn:xmpp:muclight:0) for slixmpp users on
two workers: rooms created, configured, joined, left and destroyed, with every change
announced to the occupants, and groupchat messages to all of them."""
import queue

import pytest
import slixmpp

from mam_results import MAM, SID, fin_of, results_of
from muc_light_client import ML, announcement, iq
from xmpp_client import Client, next_matching
from xmppd_harness import Server, free_port, start_two_listeners, wait_for

SERVICE = "muclight.localhost"


@pytest.fixture
def server(tmp_path):
    instance = start_two_listeners(tmp_path, extra="[modules.mod_disco]\n[modules.mod_muc_light]\n  rooms_per_user = 3\n",
                                   users=("alice", "bob", "carol"))
    yield instance
    instance.stop()


def users(x, namespace):
    return {u.text: u.get("affiliation") for u in x.findall(f"{{{namespace}}}user")}


def test_room_life(server):
    alice = Client("alice@localhost/a", "secret", server.port_a).wait_session()
    bob = Client("bob@localhost/b", "secret", server.port_b).wait_session()
    carol = Client("carol@localhost/c", "secret", server.port_a).wait_session()
    room = f"coven@{SERVICE}"
    try:
        created = iq(alice, "set", room, f"<query xmlns='{ML}#create'><configuration><roomname>Coven</roomname>"
                                         f"</configuration><occupants><user affiliation='member'>bob@localhost</user>"
                                         f"</occupants></query>")
        assert created is None
        # Each new occupant hears of its own affiliation, with the room's version.
        for client, mine in ((alice, {"alice@localhost": "owner"}), (bob, {"bob@localhost": "member"})):
            message, x = announcement(client, f"{ML}#affiliations")
            assert str(message["from"]) == room and message["type"] == "groupchat"
            assert users(x, f"{ML}#affiliations") == mine
            assert x.findtext(f"{{{ML}#affiliations}}version") and x.find(f"{{{ML}#affiliations}}prev-version") is None
        assert iq(alice, "set", room, f"<query xmlns='{ML}#create'/>") == "conflict"

        # Groupchat to every occupant, from room/<sender's bare JID>.
        bob.send_raw(f"<message to='{room}' type='groupchat' id='g1'><body>hi all</body></message>")
        for client in (alice, bob):
            got = next_matching(client.messages, lambda m: m["body"] == "hi all", timeout=10)
            assert got is not None and str(got["from"]) == f"{room}/bob@localhost"
        # Not an occupant: the room does not exist for carol.
        errors = queue.Queue()

        async def watch_errors(xmpp):
            xmpp.add_event_handler("message_error", errors.put)
        carol.run(watch_errors)
        carol.send_raw(f"<message to='{room}' type='groupchat' id='g2'><body>let me in</body></message>")
        assert errors.get(timeout=10)["error"]["condition"] == "item-not-found"
        assert iq(carol, "get", room, f"<query xmlns='{ML}#configuration'/>") == "item-not-found"

        # The server lists the service (mod_disco), and the service lists a user's rooms.
        services = iq(bob, "get", "localhost", "<query xmlns='http://jabber.org/protocol/disco#items'/>")
        assert SERVICE in [i.get("jid") for i in services.findall("{http://jabber.org/protocol/disco#items}item")]
        items = iq(bob, "get", SERVICE, "<query xmlns='http://jabber.org/protocol/disco#items'/>")
        listed = items.findall("{http://jabber.org/protocol/disco#items}item")
        assert [(i.get("jid"), i.get("name")) for i in listed] == [(room, "Coven")]

        # Configuration: the owner changes it; a member may change the subject only.
        assert iq(alice, "set", room, f"<query xmlns='{ML}#configuration'><subject>Spells</subject></query>") is None
        _, x = announcement(bob, f"{ML}#configuration")
        assert x.findtext(f"{{{ML}#configuration}}subject") == "Spells"
        assert x.findtext(f"{{{ML}#configuration}}prev-version") != x.findtext(f"{{{ML}#configuration}}version")
        assert iq(bob, "set", room, f"<query xmlns='{ML}#configuration'><roomname>Mine</roomname></query>") == "not-allowed"
        assert iq(bob, "set", room, f"<query xmlns='{ML}#configuration'><subject>Spells</subject></query>") is None
        announcement(bob, f"{ML}#configuration")
        config = iq(bob, "get", room, f"<query xmlns='{ML}#configuration'/>")
        assert config.findtext(f"{{{ML}#configuration}}roomname") == "Coven"
        assert config.findtext(f"{{{ML}#configuration}}subject") == "Spells"

        # carol joins: she hears of her own affiliation, the others of the change.
        assert iq(alice, "set", room, f"<query xmlns='{ML}#affiliations'><user affiliation='member'>carol@localhost</user>"
                                      f"</query>") is None
        _, x = announcement(carol, f"{ML}#affiliations")
        assert users(x, f"{ML}#affiliations") == {"carol@localhost": "member"}
        # A change that changes nothing is a bad request.
        assert iq(alice, "set", room, f"<query xmlns='{ML}#affiliations'><user affiliation='member'>carol@localhost</user>"
                                      f"</query>") == "bad-request"
        _, x = announcement(bob, f"{ML}#affiliations")
        assert users(x, f"{ML}#affiliations") == {"carol@localhost": "member"}
        assert x.find(f"{{{ML}#affiliations}}prev-version") is not None
        # A member may leave, not remove others.
        assert iq(bob, "set", room, f"<query xmlns='{ML}#affiliations'><user affiliation='none'>carol@localhost</user>"
                                    f"</query>") == "not-allowed"
        assert iq(bob, "set", room, f"<query xmlns='{ML}#affiliations'><user affiliation='none'>bob@localhost</user>"
                                    f"</query>") is None
        _, x = announcement(bob, f"{ML}#affiliations")
        assert users(x, f"{ML}#affiliations") == {"bob@localhost": "none"}
        info = iq(carol, "get", room, f"<query xmlns='{ML}#info'/>")
        assert users(info.find(f"{{{ML}#info}}occupants"), f"{ML}#info") == {"alice@localhost": "owner",
                                                                             "carol@localhost": "member"}

        # Destroyed: the occupants are told, and the room is gone.
        assert iq(carol, "set", room, f"<query xmlns='{ML}#destroy'/>") == "not-allowed"
        assert iq(alice, "set", room, f"<query xmlns='{ML}#destroy'/>") is None
        for client, me in ((alice, "alice@localhost"), (carol, "carol@localhost")):
            message, _ = announcement(client, f"{ML}#destroy")
            assert str(message["from"]) == room
            assert users(message.xml.find(f"{{{ML}#affiliations}}x"), f"{ML}#affiliations") == {me: "none"}
        assert iq(alice, "get", room, f"<query xmlns='{ML}#configuration'/>") == "item-not-found"
    finally:
        for client in (alice, bob, carol):
            client.close()


def test_generated_room_names_and_the_rooms_per_user_limit(server):
    alice = Client("alice@localhost/a", "secret", server.port_a).wait_session()
    try:
        names = set()
        for _ in range(3):
            assert iq(alice, "set", SERVICE, f"<query xmlns='{ML}#create'/>") is None
            message, _ = announcement(alice, f"{ML}#affiliations")
            names.add(str(message["from"]))
        assert len(names) == 3 and all(n.endswith(f"@{SERVICE}") for n in names)
        # rooms_per_user = 3
        assert iq(alice, "set", SERVICE, f"<query xmlns='{ML}#create'/>") == "not-allowed"
    finally:
        alice.close()


def test_bad_options_are_config_errors(tmp_path):
    instance = Server(tmp_path, f"[[listen.c2s]]\n  port = {free_port()}\n",
                      extra="[modules.mod_muc_light]\n  legacy_mode = true\n")
    assert "modules.mod_muc_light.legacy_mode" in instance.start_refused()


def occupants(client, room):
    info = iq(client, "get", room, f"<query xmlns='{ML}#info'/>")
    return users(info.find(f"{{{ML}#info}}occupants"), f"{ML}#info")


def test_blocking_keeps_a_user_out(server):
    """#blocking (spec §4.5): a user who denies a room, or the user adding it, is left
    out of that room silently; allowing again lets it be added."""
    alice = Client("alice@localhost/a", "secret", server.port_a).wait_session()
    carol = Client("carol@localhost/c", "secret", server.port_b).wait_session()
    coven, chapel = f"coven@{SERVICE}", f"chapel@{SERVICE}"
    try:
        assert iq(carol, "set", SERVICE, f"<query xmlns='{ML}#blocking'><room action='deny'>{coven}</room></query>") is None
        listed = iq(carol, "get", SERVICE, f"<query xmlns='{ML}#blocking'/>")
        assert [(e.tag.split("}")[1], e.get("action"), e.text) for e in listed] == [("room", "deny", coven)]
        assert iq(alice, "set", coven, f"<query xmlns='{ML}#create'><occupants><user affiliation='member'>carol@localhost"
                                       f"</user></occupants></query>") is None
        assert occupants(alice, coven) == {"alice@localhost": "owner"}

        # Denying alice herself: her additions of carol anywhere are ignored.
        assert iq(carol, "set", SERVICE, f"<query xmlns='{ML}#blocking'><user action='deny'>alice@localhost</user>"
                                         f"</query>") is None
        assert iq(alice, "set", chapel, f"<query xmlns='{ML}#create'/>") is None
        assert iq(alice, "set", chapel, f"<query xmlns='{ML}#affiliations'><user affiliation='member'>carol@localhost</user>"
                                        f"</query>") is None
        assert occupants(alice, chapel) == {"alice@localhost": "owner"}
        # Allowed again: added.
        assert iq(carol, "set", SERVICE, f"<query xmlns='{ML}#blocking'><user action='allow'>alice@localhost</user>"
                                         f"</query>") is None
        assert iq(alice, "set", chapel, f"<query xmlns='{ML}#affiliations'><user affiliation='member'>carol@localhost</user>"
                                        f"</query>") is None
        assert occupants(alice, chapel) == {"alice@localhost": "owner", "carol@localhost": "member"}
        assert iq(carol, "set", SERVICE, f"<query xmlns='{ML}#blocking'><room action='maybe'>{coven}</room></query>") \
            == "bad-request"
    finally:
        alice.close()
        carol.close()


MAM_PLUGINS = ["xep_0030", "xep_0004", "xep_0059", "xep_0297", "xep_0313"]


def test_room_archive(tmp_path):
    """mod_mam's muc section on the MUC Light domain (MongooseIM's mod_mam_muc): a
    room's groupchat messages are archived once, as the room sends them, with the
    room's <stanza-id/>; occupants on either worker page through them with slixmpp's
    XEP-0313 client; others are refused."""
    instance = start_two_listeners(
        tmp_path, extra="[modules.mod_disco]\n[modules.mod_muc_light]\n"
                        "[modules.mod_mam]\n  [modules.mod_mam.muc]\n    host = \"muclight.@HOST@\"\n",
        users=("alice", "bob", "carol"))
    alice = Client("alice@localhost/a", "secret", instance.port_a, plugins=MAM_PLUGINS).wait_session()
    bob = Client("bob@localhost/b", "secret", instance.port_b, plugins=MAM_PLUGINS).wait_session()
    carol = Client("carol@localhost/c", "secret", instance.port_a, plugins=MAM_PLUGINS).wait_session()
    room = f"annals@{SERVICE}"
    try:
        assert iq(alice, "set", room, f"<query xmlns='{ML}#create'><occupants><user affiliation='member'>"
                                      f"bob@localhost</user></occupants></query>") is None
        for client in (alice, bob):
            announcement(client, f"{ML}#affiliations")
        ids = []
        for i in range(5):
            sender = bob if i % 2 == 0 else alice
            sender.send_raw(f"<message to='{room}' type='groupchat' id='m{i}'><body>m{i}</body></message>")
            copies = [next_matching(c.messages, lambda m, i=i: m["body"] == f"m{i}", timeout=10) for c in (alice, bob)]
            stamps = {c.xml.find(f"{{{SID}}}stanza-id").get("id") for c in copies}
            assert len(stamps) == 1 and copies[0].xml.find(f"{{{SID}}}stanza-id").get("by") == room
            ids.append(stamps.pop())
        # Chat states without a body are not history.
        alice.send_raw(f"<message to='{room}' type='groupchat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>")

        # bob's messages are archived by his worker, a moment after they are routed.
        wait_for(lambda: retrieve_room(alice, room, rsm={"max": 0})[1]["count"] == 5, message="the room's 5 messages archived")
        page, fin = retrieve_room(alice, room, rsm={"max": 2})
        assert [(r["body"], r["from"], r["id"]) for r in page] == [
            ("m0", f"{room}/bob@localhost", ids[0]), ("m1", f"{room}/alice@localhost", ids[1])]
        assert fin["count"] == 5 and not fin["complete"]
        page, fin = retrieve_room(bob, room, rsm={"max": 2, "after": fin["last"]})
        assert [r["body"] for r in page] == ["m2", "m3"] and fin["index"] == 2
        page, fin = retrieve_room(bob, room, rsm={"max": 10, "after": fin["last"]})
        assert [r["body"] for r in page] == ["m4"] and fin["complete"]

        with pytest.raises(slixmpp.exceptions.IqError) as refused:
            retrieve_room(carol, room)
        assert refused.value.condition == "forbidden"
        # A change of affiliations is history too (as the occupants who stay hear it);
        # carol, now a member, reads it all.
        assert iq(alice, "set", room, f"<query xmlns='{ML}#affiliations'>"
                                      f"<user affiliation='member'>carol@localhost</user></query>") is None
        announcement(carol, f"{ML}#affiliations")
        page, fin = retrieve_room(carol, room, rsm={"max": 10, "after": ids[4]})
        assert [(r["from"], r["body"]) for r in page] == [(room, "")] and fin["count"] == 6
        changed = next_matching(alice.messages, lambda m: m.xml.find(f"{{{ML}#affiliations}}x") is not None, timeout=10)
        assert changed.xml.find(f"{{{ML}#affiliations}}x/{{{ML}#affiliations}}user").text == "carol@localhost"
        info = alice.run(lambda x: x.plugin["xep_0030"].get_info(jid=room, timeout=5))
        assert MAM in info["disco_info"]["features"]
        # Only the muc section: no one-to-one archive.
        with pytest.raises(slixmpp.exceptions.IqError) as absent:
            alice.run(lambda x: x.plugin["xep_0313"].retrieve(timeout=10))
        assert absent.value.condition == "service-unavailable"
        # A retraction in the room (XEP-0424): bob's message by its origin-id becomes a
        # tombstone in the room's archive; the retraction is kept too.
        bob.send_raw(f"<message to='{room}' type='groupchat'><body>regret</body>"
                     f"<origin-id xmlns='{SID}' id='r1'/></message>")
        assert next_matching(alice.messages, lambda m: m["body"] == "regret", timeout=10) is not None
        bob.send_raw(f"<message to='{room}' type='groupchat'><apply-to xmlns='urn:xmpp:fasten:0' id='r1'>"
                     f"<retract xmlns='urn:xmpp:message-retract:0'/></apply-to></message>")

        def tail():
            result = alice.run(lambda x: x.plugin["xep_0313"].retrieve(jid=room, rsm={"max": 50}, timeout=10))
            return [m.xml.find(f"{{{MAM}}}result/{{urn:xmpp:forward:0}}forwarded/{{jabber:client}}message")
                    for m in result["mam"]["results"]][-2:]
        kept = wait_for(lambda: (lambda t: t if len(t) == 2 and t[1].find("{urn:xmpp:fasten:0}apply-to") is not None
                                 else None)(tail()), message="the retraction archived")
        tombstone = kept[0].find("{urn:xmpp:message-retract:0}retracted")
        assert tombstone is not None and tombstone.find(f"{{{SID}}}origin-id").get("id") == "r1"
        assert kept[0].find("{jabber:client}body") is None
    finally:
        for client in (alice, bob, carol):
            client.close()
        instance.stop()


def retrieve_room(client, room, **kw):
    result = client.run(lambda x: x.plugin["xep_0313"].retrieve(jid=room, timeout=10, **kw))
    return results_of(result), fin_of(result)


def test_room_archive_options_are_checked(tmp_path):
    for extra, key in (("[modules.mod_mam.muc]\n  host = \"\"\n", "modules.mod_mam.muc.host"),
                       ("[modules.mod_mam.muc]\n  hots = \"x\"\n", "modules.mod_mam.muc.hots"),
                       ("[modules.mod_mam.pm]\n  archive_groupchats = true\n", "modules.mod_mam.pm.archive_groupchats"),
                       ("[modules.mod_mam.muc]\n  max_result_limit = 0\n", "modules.mod_mam.muc.max_result_limit")):
        instance = Server(tmp_path, "[[listen.c2s]]\n  port = 5999\n", extra="[modules.mod_mam]\n" + extra)
        printed = instance.start_refused()
        assert key in printed, printed
