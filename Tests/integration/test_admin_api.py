"""MongooseIM's REST API for backend administration (`mongoose_api_admin` on a
[[listen.http]] listener), driven over HTTP as an operator's script would, with the
effects checked by real XMPP clients on a c2s listener (another worker)."""
import time

import pytest

from rest_client import basic, request
from test_roster import roster, set_item
from xmpp_client import Client
from xmppd_harness import Server, free_port, wait_for

ADMIN = basic("admin", "s3cret")


def start(tmp_path, host="_", modules=""):
    http_port, c2s_port = free_port(), free_port()
    server = Server(tmp_path, f"""
[[listen.http]]
  port = {http_port}
  ip_address = "127.0.0.1"

  [[listen.http.handlers.mongoose_api_admin]]
    host = "{host}"
    path = "/api"
    username = "admin"
    password = "s3cret"

[[listen.c2s]]
  port = {c2s_port}
  ip_address = "127.0.0.1"
""", extra=modules)
    server.http_port, server.c2s_port = http_port, c2s_port
    server.start()
    return server


def call(server, method, path, body=None, auth=ADMIN, host=None):
    return request(server.http_port, method, path, body, authorization=auth, host=host)


def test_users_are_managed_and_used_over_xmpp(tmp_path):
    server = start(tmp_path)
    try:
        status, body, _ = call(server, "POST", "/api/users/localhost", {"username": "alice", "password": "first"})
        assert (status, body) == (201, "User alice@localhost successfully registered")
        assert call(server, "POST", "/api/users/localhost", {"username": "alice", "password": "x"})[0] == 409
        assert call(server, "POST", "/api/users/localhost", {"username": "bob", "password": "secret"})[0] == 201
        assert call(server, "GET", "/api/users/localhost")[:2] == (200, ["alice@localhost", "bob@localhost"])

        Client("alice@localhost/desk", "first", server.c2s_port).wait_session().close()
        assert call(server, "PUT", "/api/users/localhost/alice", {"newpass": "second"})[0] == 204
        refused = Client("alice@localhost/desk", "first", server.c2s_port, presence=False)
        wait_for(lambda: refused.auth_failed.is_set() or refused.disconnected.is_set())
        assert not refused.session_started.is_set()
        refused.close()
        alice = Client("alice@localhost/desk", "second", server.c2s_port).wait_session()

        # Removing an account ends its sessions, and it cannot log in again.
        assert call(server, "DELETE", "/api/users/localhost/alice")[0] == 204
        wait_for(lambda: alice.disconnected.is_set())
        assert call(server, "GET", "/api/users/localhost")[1] == ["bob@localhost"]
        assert call(server, "DELETE", "/api/users/localhost/alice")[0] == 404
        alice.close()
    finally:
        server.stop()


def test_sessions_are_listed_and_kicked_and_messages_sent(tmp_path):
    server = start(tmp_path)
    try:
        for user in ("alice", "bob"):
            server.register(user, "secret")
        alice = Client("alice@localhost/desk", "secret", server.c2s_port).wait_session()
        try:
            # alice is on the c2s worker; the API's worker sees her through the mesh.
            wait_for(lambda: call(server, "GET", "/api/sessions/localhost")[1] == ["alice@localhost/desk"])

            assert call(server, "POST", "/api/messages",
                        {"caller": "bob@localhost", "to": "alice@localhost/desk", "body": "from the admin"})[0] == 204
            message = alice.wait_message()
            assert message["body"] == "from the admin" and str(message["from"]) == "bob@localhost"

            status, body, _ = call(server, "DELETE", "/api/sessions/localhost/alice/desk")
            assert (status, body) == (200, "kicked")
            wait_for(lambda: alice.disconnected.is_set())
            assert "conflict" in alice.stream_errors
            wait_for(lambda: call(server, "GET", "/api/sessions/localhost")[1] == [])
            assert call(server, "DELETE", "/api/sessions/localhost/alice/desk")[0] == 404
        finally:
            alice.close()
    finally:
        server.stop()


def test_authentication_and_bad_requests(tmp_path):
    server = start(tmp_path)
    try:
        status, _, headers = call(server, "GET", "/api/commands", auth=None)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
        wrong = basic("admin", "guess")
        assert call(server, "GET", "/api/commands", auth=wrong)[0] == 401
        status, commands, _ = call(server, "GET", "/api/commands")
        assert status == 200 and {"list_users", "register_user", "kick_user", "send_message"} <= {c["name"] for c in commands}

        assert call(server, "POST", "/api/users/localhost", "not an object")[0] == 400
        assert call(server, "POST", "/api/users/localhost", {"username": "carol"})[0] == 400
        assert call(server, "POST", "/api/users/localhost", {"username": "a b", "password": "x"})[0] == 400
        assert call(server, "GET", "/api/users/example.net")[0] == 404
        assert call(server, "GET", "/api/no-such-command")[0] == 404
        assert call(server, "PATCH", "/api/users/localhost")[0] == 404
        assert call(server, "POST", "/api/messages", {"caller": "someone@example.net", "to": "x@localhost", "body": "b"})[0] == 400
    finally:
        server.stop()


def test_the_handler_answers_only_its_host(tmp_path):
    server = start(tmp_path, host="localhost")
    try:
        assert call(server, "GET", "/api/commands", host="localhost")[0] == 200
        assert call(server, "GET", "/api/commands", host="other.example")[0] == 404
    finally:
        server.stop()


def test_a_removed_account_takes_its_data_with_it(tmp_path):
    """A new account of the same name starts empty: no roster, no offline messages
    (MongooseIM's remove_user hook), whether removed by the API or by xmppctl."""
    server = start(tmp_path, modules="[modules.mod_roster]\n[modules.mod_offline]\n")
    try:
        server.register("bob", "secret")
        bob = Client("bob@localhost/b", "secret", server.c2s_port).wait_session()
        try:
            for remove in (lambda: call(server, "DELETE", "/api/users/localhost/alice")[0] == 204,
                           lambda: "unregistered" in server.ctl("unregister", "alice", "localhost").stdout):
                assert call(server, "POST", "/api/users/localhost", {"username": "alice", "password": "secret"})[0] == 201
                alice = Client("alice@localhost/desk", "secret", server.c2s_port).wait_session()
                set_item(alice, "bob@localhost", name="Bob")
                assert "bob@localhost" in roster(alice)
                alice.close()
                wait_for(lambda: call(server, "GET", "/api/sessions/localhost")[1] == ["bob@localhost/b"])
                bob.send_message("alice@localhost", "kept for alice")
                time.sleep(0.5)   # stored offline

                assert remove()
                assert call(server, "POST", "/api/users/localhost", {"username": "alice", "password": "secret"})[0] == 201
                alice = Client("alice@localhost/desk", "secret", server.c2s_port).wait_session()
                assert roster(alice) == {}
                with pytest.raises(AssertionError):
                    alice.wait_message(timeout=1)
                alice.close()
                wait_for(lambda: call(server, "GET", "/api/sessions/localhost")[1] == ["bob@localhost/b"])
                assert call(server, "DELETE", "/api/users/localhost/alice")[0] == 204
        finally:
            bob.close()
    finally:
        server.stop()


def test_contacts_are_managed_through_the_roster_module(tmp_path):
    server = start(tmp_path, modules="[modules.mod_roster]\n")
    try:
        for user in ("alice", "bob"):
            server.register(user, "secret")
        assert call(server, "GET", "/api/contacts/alice@localhost")[:2] == (200, [])
        assert call(server, "POST", "/api/contacts/alice@localhost", {"jid": "bob@localhost"})[0] == 204
        assert call(server, "GET", "/api/contacts/alice@localhost")[1] == \
            [{"jid": "bob@localhost", "subscription": "none", "ask": "none"}]

        # The subscription flow of RFC 6121 §3, each step as the user's client would send it.
        assert call(server, "PUT", "/api/contacts/alice@localhost/bob@localhost", {"action": "subscribe"})[0] == 204
        wait_for(lambda: call(server, "GET", "/api/contacts/alice@localhost")[1][0]["ask"] == "out")
        assert call(server, "PUT", "/api/contacts/bob@localhost/alice@localhost", {"action": "subscribed"})[0] == 204
        wait_for(lambda: call(server, "GET", "/api/contacts/alice@localhost")[1] ==
                 [{"jid": "bob@localhost", "subscription": "to", "ask": "none"}])
        assert call(server, "GET", "/api/contacts/bob@localhost")[1] == \
            [{"jid": "alice@localhost", "subscription": "from", "ask": "none"}]

        assert call(server, "DELETE", "/api/contacts/alice@localhost/bob@localhost")[0] == 204
        assert call(server, "GET", "/api/contacts/alice@localhost")[1] == []
        assert call(server, "DELETE", "/api/contacts/alice@localhost/bob@localhost")[0] == 404
        assert call(server, "GET", "/api/contacts/nobody@localhost")[0] == 404
        assert call(server, "GET", "/api/contacts/alice@example.net")[0] == 400
        assert call(server, "PUT", "/api/contacts/alice@localhost/bob@localhost", {"action": "steal"})[0] == 400

        # Mutual subscription in one call, and undone in one.
        assert call(server, "PUT", "/api/contacts/alice@localhost/bob@localhost/manage", {"action": "connect"})[0] == 204
        for (owner, contact) in (("alice", "bob"), ("bob", "alice")):
            wait_for(lambda: call(server, "GET", f"/api/contacts/{owner}@localhost")[1] ==
                     [{"jid": f"{contact}@localhost", "subscription": "both", "ask": "none"}])
        assert call(server, "PUT", "/api/contacts/alice@localhost/bob@localhost/manage", {"action": "disconnect"})[0] == 204
        assert call(server, "GET", "/api/contacts/alice@localhost")[1] == [] and call(server, "GET", "/api/contacts/bob@localhost")[1] == []
    finally:
        server.stop()


def test_the_last_messages_come_from_the_archive(tmp_path):
    server = start(tmp_path, modules="[modules.mod_mam]\n[modules.mod_offline]\n")
    try:
        for user in ("alice", "bob", "carol"):
            server.register(user, "secret")
        bob = Client("bob@localhost/b", "secret", server.c2s_port).wait_session()
        try:
            def archive():
                return call(server, "GET", "/api/messages/alice@localhost")[1]
            for i in range(3):
                bob.send_message("alice@localhost", f"bob {i}")
            wait_for(lambda: len(archive()) == 3)
            assert call(server, "POST", "/api/messages", {"caller": "carol@localhost", "to": "alice@localhost",
                                                          "body": "carol 0"})[0] == 204
            wait_for(lambda: len(archive()) == 4)
            messages = archive()
            assert [m["body"] for m in messages] == ["bob 0", "bob 1", "bob 2", "carol 0"]
            assert messages[0]["sender"].startswith("bob@localhost") and messages[3]["sender"] == "carol@localhost"
            assert all(abs(m["timestamp"] - time.time()) < 60 for m in messages)

            status, last, _ = call(server, "GET", "/api/messages/alice@localhost/bob@localhost?limit=2")
            assert status == 200 and [m["body"] for m in last] == ["bob 1", "bob 2"]
            assert call(server, "GET", "/api/messages/alice@localhost?before=1000")[1] == []
            assert call(server, "GET", "/api/messages/alice@localhost?limit=501")[0] == 400
            assert call(server, "GET", "/api/messages/alice@localhost?limit=many")[0] == 400
            assert call(server, "GET", "/api/messages/nobody@localhost")[0] == 404
            # The lookup's own session is gone again.
            assert call(server, "GET", "/api/sessions/localhost")[1] == ["bob@localhost/b"]
        finally:
            bob.close()
    finally:
        server.stop()


def test_muc_light_commands(tmp_path):
    """mod_muc_light_commands on the admin API: rooms made, joined, written to,
    renamed and destroyed for users, with an XMPP member seeing the effects."""
    server = start(tmp_path, modules="[modules.mod_muc_light]\n")
    try:
        for user in ("alice", "bob"):
            server.register(user, "secret")
        bob = Client("bob@localhost/xmpp", "secret", server.c2s_port).wait_session()
        status, room, _ = call(server, "POST", "/api/muc-lights/localhost",
                               {"name": "Coven", "owner": "alice@localhost", "subject": "Spells"})
        assert status == 201 and room.endswith("@muclight.localhost")
        # Rooms are named by id or by name among the sender's rooms.
        assert call(server, "POST", "/api/muc-lights/localhost/Coven/participants",
                    {"sender": "alice@localhost", "recipient": "bob@localhost"})[0] == 204
        joined = bob.wait_message()
        assert str(joined["from"]) == room and joined["type"] == "groupchat"
        room_id = room.split("@")[0]
        assert call(server, "POST", f"/api/muc-lights/localhost/{room_id}/messages",
                    {"from": "alice@localhost", "body": "from the admin API"})[0] == 204
        message = bob.wait_message()
        assert message["body"] == "from the admin API" and str(message["from"]) == f"{room}/alice@localhost"
        assert call(server, "PUT", "/api/muc-lights/localhost/config",
                    {"id": room_id, "name": "Coven 2", "user": "alice@localhost", "subject": "Potions"})[0] == 204
        assert call(server, "PUT", "/api/muc-lights/localhost",
                    {"id": "fixed", "name": "Fixed", "owner": "alice@localhost", "subject": "Nails"})[0] == 204
        # Only the owner destroys; a room nobody is in is not found.
        assert call(server, "DELETE", f"/api/muc-lights/localhost/{room_id}/bob@localhost/management")[0] == 403
        assert call(server, "DELETE", f"/api/muc-lights/localhost/{room_id}/alice@localhost/management")[0] == 204
        assert call(server, "DELETE", f"/api/muc-lights/localhost/{room_id}/alice@localhost/management")[0] == 404
        assert call(server, "POST", "/api/muc-lights/elsewhere", {"name": "x", "owner": "alice@localhost", "subject": "y"})[0] \
            == 404
        assert "create_muc_light_room" in [c["name"] for c in call(server, "GET", "/api/commands")[1]]
        bob.close()
    finally:
        server.stop()


def test_muc_light_commands_need_the_module(tmp_path):
    server = start(tmp_path)
    try:
        server.register("alice", "secret")
        status, body, _ = call(server, "POST", "/api/muc-lights/localhost",
                               {"name": "Coven", "owner": "alice@localhost", "subject": "Spells"})
        assert status == 404 and "mod_muc_light" in body
    finally:
        server.stop()
