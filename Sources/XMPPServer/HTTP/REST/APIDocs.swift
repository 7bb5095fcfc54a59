import Foundation
import XMPPConfig

/// The API documentation handlers of MongooseIM's example config, for the REST
/// handlers of the same listener: `cowboy_swagger_json_handler` serves an OpenAPI 3
/// description of them, `cowboy_swagger_redirect_handler` sends a browser to the
/// page, and `cowboy_static` (app "cowboy_swagger") serves that page, a self-contained
/// HTML view of the description (MongooseIM ships the Swagger UI there; xmppd ships no
/// third-party assets).
struct APIDocs: Sendable {
    /// The handler serving the JSON description, if any.
    let json: HTTPHandlerConfig?
    let redirects: [HTTPHandlerConfig]
    /// `cowboy_static` handlers: the page is `<prefix>/index.html`.
    let pages: [HTTPHandlerConfig]
    /// The description, built once from the listener's REST handlers.
    let description: String

    init?(handlers: [HTTPHandlerConfig]) {
        let json = handlers.first { $0.options == .swaggerJSON }
        redirects = handlers.filter { $0.options == .swaggerRedirect }
        pages = handlers.filter { if case .cowboyStatic = $0.options { return true }; return false }
        guard json != nil || !redirects.isEmpty || !pages.isEmpty else { return nil }
        self.json = json
        description = JSONBody.encode(Self.openAPI(handlers))
    }

    /// Where a request goes: the description, the page, a redirect to the page, or nil.
    func route(_ path: String, host: String?) -> Route? {
        if let json, json.serves(host: host), path == json.path { return .json }
        if let redirect = redirects.first(where: { $0.serves(host: host) && $0.path == path }) {
            return .redirect(to: Self.prefix(of: redirect.path) + "/index.html")
        }
        if let page = pages.first(where: { $0.serves(host: host) && path == Self.prefix(of: $0.path) + "/index.html" }) {
            return .page(jsonPath: json?.path ?? Self.prefix(of: page.path) + "/swagger.json")
        }
        return nil
    }

    enum Route: Equatable { case json, page(jsonPath: String), redirect(to: String) }

    /// "/api-docs/[...]" → "/api-docs".
    static func prefix(of pattern: String) -> String {
        var prefix = pattern
        if prefix.hasSuffix("/[...]") { prefix.removeLast(6) }
        while prefix.hasSuffix("/") { prefix.removeLast() }
        return prefix
    }

    // MARK: the description

    /// One documented operation; `command` names it in the admin API's `GET /commands`.
    struct Operation {
        var command: (name: String, category: String)? = nil
        let method: String
        let path: String
        let summary: String
        var body: [String] = []
        var query: [String] = []
        let responses: [Int: String]
    }

    private static func openAPI(_ handlers: [HTTPHandlerConfig]) -> [String: Any] {
        var paths: [String: [String: Any]] = [:]
        func add(_ operations: [Operation], base: String, security: String) {
            for op in operations {
                let path = base + op.path
                var operation: [String: Any] = [
                    "summary": op.summary,
                    "security": [[security: [String]()]],
                    "responses": Dictionary(uniqueKeysWithValues: op.responses.map { (String($0.key), ["description": $0.value]) }),
                ]
                let parameters = parameterNames(in: path).map { name -> [String: Any] in
                    ["name": name, "in": "path", "required": true, "schema": ["type": "string"]]
                } + op.query.map { name -> [String: Any] in
                    ["name": name, "in": "query", "required": false, "schema": ["type": "integer"]]
                }
                if !parameters.isEmpty { operation["parameters"] = parameters }
                if !op.body.isEmpty {
                    let properties = Dictionary(uniqueKeysWithValues: op.body.map { ($0, ["type": "string"]) })
                    operation["requestBody"] = ["required": true, "content": ["application/json": [
                        "schema": ["type": "object", "required": op.body, "properties": properties]]]]
                }
                paths[path, default: [:]][op.method] = operation
            }
        }
        for handler in handlers {
            switch handler.options {
            case .apiAdmin: add(AdminAPI.operations, base: prefix(of: handler.path), security: "admin")
            case .clientAPI where handler.type == "mongoose_client_api_messages":
                add(clientMessages, base: templated(handler.path), security: "user")
            case .clientAPI where handler.type == "mongoose_client_api_contacts":
                add(clientContacts, base: templated(handler.path), security: "user")
            case .clientAPI where handler.type == "mongoose_client_api_rooms":
                add(clientRooms, base: templated(handler.path), security: "user")
            case .clientAPI where handler.type.hasPrefix("mongoose_client_api_rooms_"):
                add(clientRoomParts[handler.type] ?? [], base: templated(handler.path), security: "user")
            case .lasse(module: "mongoose_client_api_sse"):
                add([Operation(method: "get", path: "", summary: "Server-sent events: a \"message\" event per chat message received",
                               responses: [200: "text/event-stream", 401: "bad credentials"])],
                    base: handler.path, security: "user")
            default: break
            }
        }
        return [
            "openapi": "3.0.3",
            "info": ["title": "xmppd REST API", "version": "1",
                     "description": "MongooseIM's admin (mongoose_api_admin) and client (mongoose_client_api_*) REST APIs as xmppd serves them"],
            "paths": paths,
            "components": ["securitySchemes": [
                "admin": ["type": "http", "scheme": "basic", "description": "the handler's username and password"],
                "user": ["type": "http", "scheme": "basic", "description": "the user's bare JID and password"],
            ]],
        ]
    }

    /// "/api/messages/[:with]" → "/api/messages", "/api/rooms/[:id]/users/[:user]" →
    /// "/api/rooms/{id}/users": bindings become path parameters; a last optional
    /// segment is described separately.
    private static func templated(_ pattern: String) -> String {
        var segments = pattern.split(separator: "/").map(String.init)
        if segments.last?.hasPrefix("[") == true { segments.removeLast() }
        return segments.map { segment in
            let name = segment.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            return "/" + (name.hasPrefix(":") ? "{\(name.dropFirst())}" : segment)
        }.joined()
    }

    private static func parameterNames(in path: String) -> [String] {
        path.split(separator: "/").compactMap { $0.hasPrefix("{") ? String($0.dropFirst().dropLast()) : nil }
    }

    private static let clientMessages: [Operation] = [
        Operation(method: "get", path: "", summary: "The last messages of the archive", query: ["limit", "before"],
                  responses: [200: "messages", 401: "bad credentials"]),
        Operation(method: "post", path: "", summary: "Send a chat message", body: ["to", "body"],
                  responses: [200: "{\"id\"}", 400: "bad request", 401: "bad credentials"]),
        Operation(method: "get", path: "/{with}", summary: "The last messages with a contact", query: ["limit", "before"],
                  responses: [200: "messages", 401: "bad credentials"]),
    ]

    private static let clientContacts: [Operation] = [
        Operation(method: "get", path: "", summary: "The roster", responses: [200: "contacts", 401: "bad credentials"]),
        Operation(method: "post", path: "", summary: "Add a contact", body: ["jid"], responses: [204: "added", 401: "bad credentials"]),
        Operation(method: "delete", path: "", summary: "Remove several contacts (to_delete)", responses: [200: "{\"not_deleted\"}"]),
        Operation(method: "put", path: "/{jid}", summary: "invite (subscribe) or accept (subscribed)", body: ["action"],
                  responses: [204: "sent", 404: "not a contact", 501: "unknown action"]),
        Operation(method: "delete", path: "/{jid}", summary: "Remove a contact", responses: [204: "removed", 404: "not a contact"]),
    ]

    private static let clientRooms: [Operation] = [
        Operation(method: "get", path: "", summary: "The user's MUC Light rooms", responses: [200: "[{id, name, subject}]"]),
        Operation(method: "post", path: "", summary: "Create a room", body: ["name", "subject"], responses: [200: "{\"id\"}"]),
        Operation(method: "get", path: "/{id}", summary: "A room: name, subject, participants",
                  responses: [200: "room", 404: "no such room"]),
        Operation(method: "put", path: "/{id}", summary: "Create a room with this id", body: ["name", "subject"],
                  responses: [201: "{\"id\"}", 400: "exists"]),
    ]

    private static let clientRoomParts: [String: [Operation]] = [
        "mongoose_client_api_rooms_config": [
            Operation(method: "put", path: "", summary: "Change the room's name and subject", body: ["name", "subject"],
                      responses: [204: "changed", 403: "not the owner", 404: "no such room"]),
        ],
        "mongoose_client_api_rooms_users": [
            Operation(method: "post", path: "", summary: "Add a member", body: ["user"],
                      responses: [204: "added", 403: "not allowed", 404: "no such room"]),
            Operation(method: "delete", path: "/{user}", summary: "Remove a member, or leave",
                      responses: [204: "removed", 403: "not allowed", 404: "no such room"]),
        ],
        "mongoose_client_api_rooms_messages": [
            Operation(method: "post", path: "", summary: "Send a groupchat message", body: ["body"],
                      responses: [200: "{\"id\"}", 404: "no such room"]),
            Operation(method: "get", path: "", summary: "The last messages of the room's archive, oldest first",
                      query: ["limit", "before"],
                      responses: [200: "[{type, from, id, body, timestamp}]", 403: "not an occupant",
                                  404: "no room archive (mod_mam's muc section)"]),
        ],
    ]

    // MARK: the page

    /// A page of its own that reads the description and lists the operations.
    static func page(jsonPath: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>xmppd REST API</title>
        <style>body{font-family:sans-serif;margin:2em;max-width:60em}code{background:#eee;padding:0 .3em}
        h2{font-size:1.1em;margin-top:1.5em}li{margin:.3em 0}</style></head>
        <body><h1>xmppd REST API</h1><p>From <a href="\(jsonPath)">\(jsonPath)</a> (OpenAPI 3).</p><div id="ops"></div>
        <script>
        fetch("\(jsonPath)").then(r => r.json()).then(doc => {
          const out = document.getElementById("ops");
          for (const [path, ops] of Object.entries(doc.paths).sort()) {
            const h = document.createElement("h2"); h.textContent = path; out.appendChild(h);
            const ul = document.createElement("ul"); out.appendChild(ul);
            for (const [method, op] of Object.entries(ops)) {
              const li = document.createElement("li");
              const body = op.requestBody ? " — body: " + op.requestBody.content["application/json"].schema.required.join(", ") : "";
              li.innerHTML = "<code>" + method.toUpperCase() + "</code> ";
              li.appendChild(document.createTextNode(op.summary + body));
              ul.appendChild(li);
            }
          }
        });
        </script></body></html>
        """
    }
}
