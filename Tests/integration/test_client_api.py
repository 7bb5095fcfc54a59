"""MongooseIM's REST API for clients on a [[listen.http]] listener: messages (send, and
the archive through mod_mam), contacts (through mod_roster) and server-sent events,
each request authenticated as the user, with XMPP clients on a c2s listener (another
worker) at the other end."""
import gzip
import http.client
import json
import queue
import socket
import threading
import time

import sseclient
from rest_client import basic, request
from xmpp_client import Client
from xmppd_harness import Server, free_port, wait_for


CLIENT_HANDLERS = """
  [[listen.http.handlers.mongoose_client_api_messages]]
    host = "_"
    path = "/api/messages/[:with]"

  [[listen.http.handlers.mongoose_client_api_contacts]]
    host = "_"
    path = "/api/contacts/[:jid]"
"""

ROOM_HANDLERS = """
  [[listen.http.handlers.mongoose_client_api_rooms]]
    host = "_"
    path = "/api/rooms/[:id]"

  [[listen.http.handlers.mongoose_client_api_rooms_config]]
    host = "_"
    path = "/api/rooms/[:id]/config"

  [[listen.http.handlers.mongoose_client_api_rooms_users]]
    host = "_"
    path = "/api/rooms/:id/users/[:user]"

  [[listen.http.handlers.mongoose_client_api_rooms_messages]]
    host = "_"
    path = "/api/rooms/[:id]/messages"
"""


def start(tmp_path):
    http_port, c2s_port = free_port(), free_port()
    server = Server(tmp_path, f"""
[[listen.http]]
  port = {http_port}
  ip_address = "127.0.0.1"

  [[listen.http.handlers.lasse_handler]]
    host = "_"
    path = "/api/sse"
    module = "mongoose_client_api_sse"

{CLIENT_HANDLERS}
{ROOM_HANDLERS}
  [[listen.http.handlers.mongoose_api_admin]]
    host = "_"
    path = "/admin"

[[listen.c2s]]
  port = {c2s_port}
  ip_address = "127.0.0.1"
""", extra="[modules.mod_roster]\n[modules.mod_offline]\n[modules.mod_muc_light]\n"
          "[modules.mod_mam]\n  [modules.mod_mam.pm]\n  [modules.mod_mam.muc]\n    host = \"muclight.@HOST@\"\n")
    server.http_port, server.c2s_port = http_port, c2s_port
    server.start()
    for user in ("alice", "bob"):
        server.register(user, "secret")
    return server


def auth(user, password="secret"):
    return basic(user, password)


ALICE = auth("alice@localhost")


def call(server, method, path, body=None, authorization=ALICE):
    return request(server.http_port, method, path, body, authorization=authorization)[:2]


class EventReader:
    """GET /api/sse read by sseclient-py, an SSE parser nobody here wrote."""

    def __init__(self, server, authorization=ALICE):
        self.connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=30)
        self.connection.request("GET", "/api/sse", headers={"Authorization": authorization, "Accept": "text/event-stream"})
        self.response = self.connection.getresponse()
        self.events = queue.Queue()
        if self.response.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        chunks = iter(lambda: self.response.read1(4096), b"")
        try:
            for event in sseclient.SSEClient(chunks).events():
                self.events.put({"id": event.id, "event": event.event, "data": event.data})
        except Exception:   # the stream was closed under the read: its end, whatever http.client makes of it
            pass

    def next(self, timeout=10):
        return self.events.get(timeout=timeout)

    def close(self):
        # Shut the socket down first: a blocked read holds the response's lock.
        if self.connection.sock:
            self.connection.sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()


def test_authentication(tmp_path):
    server = start(tmp_path)
    try:
        assert call(server, "GET", "/api/contacts", authorization=None)[0] == 401
        assert call(server, "GET", "/api/contacts", authorization=auth("alice@localhost", "wrong"))[0] == 401
        assert call(server, "GET", "/api/contacts", authorization=auth("nobody@localhost"))[0] == 401
        assert call(server, "GET", "/api/contacts", authorization=auth("alice"))[0] == 401
        assert EventReader(server, authorization=auth("alice@localhost", "wrong")).response.status == 401
        assert call(server, "GET", "/api/contacts")[0] == 200
    finally:
        server.stop()


def test_messages_are_sent_received_as_events_and_read_from_the_archive(tmp_path):
    server = start(tmp_path)
    try:
        bob = Client("bob@localhost/b", "secret", server.c2s_port).wait_session()
        events = EventReader(server)
        try:
            assert events.response.getheader("Content-Type") == "text/event-stream"
            # The stream's session is available: a message to alice's bare JID reaches it.
            bob.send_message("alice@localhost", "hello over sse")
            event = events.next()
            assert event["event"] == "message" and event["id"] == "1"
            data = json.loads(event["data"])
            assert data["body"] == "hello over sse" and data["from"].startswith("bob@localhost")
            assert data["to"] == "alice@localhost" and data["timestamp"] > 1_600_000_000_000

            status, sent = call(server, "POST", "/api/messages", {"to": "bob@localhost/b", "body": "hi from rest"})
            assert status == 200 and sent["id"]
            message = bob.wait_message()
            assert message["body"] == "hi from rest" and str(message["from"]) == "alice@localhost" and message["id"] == sent["id"]

            wait_for(lambda: len(call(server, "GET", "/api/messages")[1]) == 2)
            archive = call(server, "GET", "/api/messages")[1]
            assert [m["body"] for m in archive] == ["hello over sse", "hi from rest"]
            assert [m["body"] for m in call(server, "GET", "/api/messages/bob@localhost?limit=1")[1]] == ["hi from rest"]
            assert call(server, "GET", "/api/messages?before=1000")[1] == []
            assert call(server, "POST", "/api/messages", {"to": "bob@localhost"})[0] == 400

            # Once the stream is closed its session is gone: a message waits offline.
            events.close()
            wait_for(lambda: call(server, "GET", "/admin/sessions/localhost")[1] == ["bob@localhost/b"])
            bob.send_message("alice@localhost", "while away")
            alice = Client("alice@localhost/desk", "secret", server.c2s_port).wait_session()
            assert alice.wait_message()["body"] == "while away"
            alice.close()
        finally:
            events.close()
            bob.close()
    finally:
        server.stop()


def test_contacts(tmp_path):
    server = start(tmp_path)
    try:
        assert call(server, "GET", "/api/contacts") == (200, [])
        assert call(server, "POST", "/api/contacts", {"jid": "bob@localhost"})[0] == 204
        assert call(server, "GET", "/api/contacts")[1] == [{"jid": "bob@localhost", "subscription": "none", "ask": "none"}]
        assert call(server, "PUT", "/api/contacts/bob@localhost", {"action": "invite"})[0] == 204
        wait_for(lambda: call(server, "GET", "/api/contacts")[1][0]["ask"] == "out")
        assert call(server, "PUT", "/api/contacts/carol@localhost", {"action": "invite"})[0] == 404
        assert call(server, "PUT", "/api/contacts/bob@localhost", {"action": "dance"})[0] == 501
        assert call(server, "DELETE", "/api/contacts/bob@localhost")[0] == 204
        assert call(server, "GET", "/api/contacts") == (200, [])

        for jid in ("bob@localhost", "carol@localhost"):
            assert call(server, "POST", "/api/contacts", {"jid": jid})[0] == 204
        status, body = call(server, "DELETE", "/api/contacts", {"to_delete": ["bob@localhost", "dave@localhost", "carol@localhost"]})
        assert (status, body) == (200, {"not_deleted": ["dave@localhost"]})
        assert call(server, "GET", "/api/contacts") == (200, [])
    finally:
        server.stop()


def test_api_docs_describe_the_listeners_rest_handlers(tmp_path):
    from openapi_spec_validator import validate
    http_port = free_port()
    server = Server(tmp_path, f"""
[[listen.http]]
  port = {http_port}
  ip_address = "127.0.0.1"
  protocol.compress = true

  [[listen.http.handlers.mongoose_api_admin]]
    host = "_"
    path = "/admin"

{CLIENT_HANDLERS}
{ROOM_HANDLERS}
  [[listen.http.handlers.cowboy_swagger_redirect_handler]]
    host = "_"
    path = "/api-docs"

  [[listen.http.handlers.cowboy_swagger_json_handler]]
    host = "_"
    path = "/api-docs/swagger.json"

  [[listen.http.handlers.cowboy_static]]
    host = "_"
    path = "/api-docs/[...]"
    type = "priv_dir"
    app = "cowboy_swagger"
    content_path = "swagger"
""", extra="[modules.mod_muc_light]\n")
    server.http_port = http_port
    server.start()
    try:
        status, doc = call(server, "GET", "/api-docs/swagger.json", authorization=None)
        assert status == 200
        validate(doc)
        assert {"/admin/users/{host}", "/admin/messages/{caller}/{with}", "/api/messages", "/api/messages/{with}",
                "/api/contacts", "/api/contacts/{jid}", "/api/rooms", "/api/rooms/{id}", "/api/rooms/{id}/config",
                "/api/rooms/{id}/users", "/api/rooms/{id}/users/{user}", "/api/rooms/{id}/messages"} <= set(doc["paths"])
        assert doc["paths"]["/admin/users/{host}"]["post"]["requestBody"]["content"]["application/json"]["schema"]["required"] \
            == ["username", "password"]

        connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        connection.request("GET", "/api-docs")
        response = connection.getresponse()
        response.read()
        assert response.status == 302 and response.getheader("Location") == "/api-docs/index.html"
        connection.request("GET", "/api-docs/index.html")
        response = connection.getresponse()
        page = response.read().decode()
        assert response.status == 200 and response.getheader("Content-Type").startswith("text/html")
        assert "/api-docs/swagger.json" in page
        # protocol.compress: gzip for a client that takes it, plain for one that does not.
        connection.request("GET", "/api-docs/swagger.json", headers={"Accept-Encoding": "gzip, deflate"})
        response = connection.getresponse()
        compressed = response.read()
        assert response.getheader("Content-Encoding") == "gzip" and response.getheader("Vary") == "Accept-Encoding"
        assert json.loads(gzip.decompress(compressed)) == doc and len(compressed) < len(json.dumps(doc)) / 2
        connection.request("GET", "/api-docs/swagger.json", headers={"Accept-Encoding": "gzip;q=0, identity"})
        response = connection.getresponse()
        assert response.getheader("Content-Encoding") is None and json.loads(response.read()) == doc
        connection.request("GET", "/api-docs/swagger-ui.css")
        response = connection.getresponse()
        response.read()
        assert response.status == 404
        connection.close()
    finally:
        server.stop()


def test_rooms(tmp_path):
    """The rooms of the client API, served by mod_muc_light: a room made, listed,
    joined by an XMPP user on the c2s listener, written to, renamed, left."""
    server = start(tmp_path)
    bob = Client("bob@localhost/xmpp", "secret", server.c2s_port).wait_session()
    BOB = auth("bob@localhost")
    bob_events = EventReader(server, authorization=BOB)
    try:
        status, created = call(server, "POST", "/api/rooms", {"name": "Coven", "subject": "Spells"})
        assert status == 200 and created["id"]
        room = created["id"]
        assert call(server, "GET", "/api/rooms") == (200, [{"id": room, "name": "Coven", "subject": "Spells"}])
        assert call(server, "POST", f"/api/rooms/{room}/users", {"user": "bob@localhost"})[0] == 204
        joined = bob.wait_message()
        assert str(joined["from"]) == f"{room}@muclight.localhost" and joined["type"] == "groupchat"
        status, info = call(server, "GET", f"/api/rooms/{room}")
        assert status == 200 and info["name"] == "Coven"
        assert sorted((p["user"], p["role"]) for p in info["participants"]) == [("alice@localhost", "owner"),
                                                                                ("bob@localhost", "member")]
        status, sent = call(server, "POST", f"/api/rooms/{room}/messages", {"body": "hello room"})
        assert status == 200 and sent["id"]
        message = bob.wait_message()
        assert message["body"] == "hello room" and str(message["from"]) == f"{room}@muclight.localhost/alice@localhost"
        # bob's event stream: his joining, then the message, as "room.message" events.
        joined_event, message_event = bob_events.next(), bob_events.next()
        assert joined_event["event"] == "room.message"
        assert {k: v for k, v in json.loads(joined_event["data"]).items() if k not in ("id", "timestamp")} == {
            "from": f"{room}@muclight.localhost", "room": room, "type": "affiliation", "affiliation": "member",
            "user": "bob@localhost"}
        data = json.loads(message_event["data"])
        assert message_event["event"] == "room.message" and data["type"] == "message"
        assert (data["from"], data["room"], data["body"], data["id"]) == ("alice@localhost", room, "hello room", sent["id"])
        # The room's archive (mod_mam's muc section), oldest first, for any occupant.
        time.sleep(0.01)   # "before" counts in ms: the two messages a few ms apart
        bob.send_raw(f"<message to='{room}@muclight.localhost' type='groupchat' id='b1'><body>hi alice</body></message>")
        assert bob.wait_message()["body"] == "hi alice"
        # The c2s worker archives bob's message a moment after routing it.
        def archived():
            status, history = call(server, "GET", f"/api/rooms/{room}/messages", authorization=BOB)
            return (status, history) if status != 200 or len(history) == 3 else None
        status, history = wait_for(archived, message="bob's message archived")
        assert status == 200, history
        # bob's joining (a change of affiliations, as MongooseIM keeps it), then the messages.
        assert [{k: v for k, v in item.items() if k not in ("timestamp", "id")} for item in history] == [
            {"type": "affiliation", "from": f"{room}@muclight.localhost", "affiliation": "member", "user": "bob@localhost"},
            {"type": "message", "from": "alice@localhost", "body": "hello room"},
            {"type": "message", "from": "bob@localhost", "body": "hi alice"}]
        assert [item["id"] for item in history[1:]] == [sent["id"], "b1"]
        assert history[0]["timestamp"] <= history[1]["timestamp"] <= history[2]["timestamp"]
        assert [item["body"] for item in call(server, "GET", f"/api/rooms/{room}/messages?limit=1")[1]] == ["hi alice"]
        before = history[2]["timestamp"] - 1   # just before "hi alice" (the archive keeps µs)
        assert [item["type"] for item in call(server, "GET", f"/api/rooms/{room}/messages?before={before}")[1]] == [
            "affiliation", "message"]

        # Only the owner renames; a member is refused.
        assert call(server, "PUT", f"/api/rooms/{room}/config", {"name": "Mine", "subject": "x"}, authorization=BOB)[0] == 403
        assert call(server, "PUT", f"/api/rooms/{room}/config", {"name": "Coven 2", "subject": "Potions"})[0] == 204
        assert call(server, "GET", f"/api/rooms/{room}", authorization=BOB)[1]["name"] == "Coven 2"
        # A room with a chosen id, once.
        assert call(server, "PUT", "/api/rooms/fixed", {"name": "Fixed", "subject": "Nails"}) == (201, {"id": "fixed"})
        assert call(server, "PUT", "/api/rooms/fixed", {"name": "Fixed", "subject": "Nails"})[0] == 400
        # bob is removed: the room is gone for him.
        assert call(server, "DELETE", f"/api/rooms/{room}/users/bob@localhost")[0] == 204
        assert call(server, "GET", f"/api/rooms/{room}", authorization=BOB)[0] == 404
        assert call(server, "GET", "/api/rooms/nosuchroom")[0] == 404
        assert call(server, "POST", f"/api/rooms/{room}/messages", {"body": "x"}, authorization=BOB)[0] == 404
        # Not an occupant any more: the archive is closed to bob, open to alice.
        assert call(server, "GET", f"/api/rooms/{room}/messages", authorization=BOB)[0] == 403
        assert call(server, "GET", f"/api/rooms/{room}/messages")[0] == 200
        assert call(server, "POST", "/api/rooms", {"name": "no subject"})[0] == 400
    finally:
        bob_events.close()
        bob.close()
        server.stop()
