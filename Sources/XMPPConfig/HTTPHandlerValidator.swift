/// Validates `[[listen.http]]` listeners: transport, tls, protocol and the handler tables.
struct HTTPValidator {
    let ctx: ParseContext

    func parse(_ t: TableReader) throws -> HTTPOptions {
        var o = HTTPOptions()
        if let handlers = try t.table("handlers", expected: "a table of handler types ([[listen.http.handlers.<type>]])") {
            o.handlers = try parseHandlers(handlers)
        }
        if let transport = try t.table("transport") {
            try transport.checkKnownKeys(["num_acceptors", "max_connections"])
            o.transport.numAcceptors = try transport.int("num_acceptors", .positive) ?? 100
            switch try transport.intOrKeyword("max_connections", keyword: "infinity") {
            case .absent: break
            case .keyword: o.transport.maxConnections = .infinity
            case .value(let n): o.transport.maxConnections = .value(n)
            }
        }
        if let tls = try t.table("tls") { o.tls = try TLSValidator.http(tls) }
        if let proto = try t.table("protocol") {
            try proto.checkKnownKeys(["compress"])
            o.compress = try proto.bool("compress") ?? false
        }
        return o
    }

    static var knownTypesDescription: String {
        (HTTPHandlerConfig.knownTypes + [HTTPHandlerConfig.clientAPIPrefix + "*"]).joined(separator: ", ")
    }

    /// `handlers` is a table keyed by handler type; each value is an array of handler tables.
    /// TOMLKit sorts keys, so the result is put back into file order by header line.
    private func parseHandlers(_ handlers: TableReader) throws -> [HTTPHandlerConfig] {
        var result: [(line: Int, config: HTTPHandlerConfig)] = []
        let types = handlers.entries.keys.sorted {
            (ctx.lines.lines[handlers.keyPath($0)] ?? Int.max, $0) < (ctx.lines.lines[handlers.keyPath($1)] ?? Int.max, $1)
        }
        for type in types {
            guard HTTPHandlerConfig.knownTypes.contains(type)
                    || (type.hasPrefix(HTTPHandlerConfig.clientAPIPrefix) && type.count > HTTPHandlerConfig.clientAPIPrefix.count) else {
                throw handlers.error(type, "unknown handler type (known types: \(HTTPValidator.knownTypesDescription))")
            }
            let expected = "an array of tables ([[\(handlers.keyPath(type))]])"
                .replacingListenerIndices()
            guard let tables = try handlers.tableArray(type, expected: expected) else { continue }
            for (n, table) in tables.enumerated() {
                let config = try parseHandler(type: type, index: n + 1, table)
                result.append((ctx.lines.line(for: table.path) ?? Int.max, config))
            }
        }
        return result.enumerated()
            .sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
            .map { $0.element.config }
    }

    private func parseHandler(type: String, index: Int, _ t: TableReader) throws -> HTTPHandlerConfig {
        let common = ["host", "path"]
        let options: HTTPHandlerOptions
        switch type {
        case "mod_bosh":
            try t.checkKnownKeys(common)
            options = .bosh
        case "mod_websockets":
            try t.checkKnownKeys(common + ["timeout", "ping_rate", "max_stanza_size", "service"])
            options = .websockets(try parseWebSockets(t))
        case "mongoose_api_admin":
            try t.checkKnownKeys(common + ["username", "password"])
            let username = try t.string("username")
            let password = try t.string("password")
            if username != nil, password == nil { throw t.missing("password", "a string (username requires password)") }
            if password != nil, username == nil { throw t.missing("username", "a string (password requires username)") }
            options = .apiAdmin(username: username, password: password)
        case "mongoose_api":
            try t.checkKnownKeys(common + ["handlers"])
            let expected = "an array of strings (Erlang handler modules)"
            guard let modules = try t.stringArray("handlers", expected: expected) else { throw t.missing("handlers", expected) }
            options = .metricsAPI(handlers: modules)
        case "lasse_handler":
            try t.checkKnownKeys(common + ["module"])
            options = .lasse(module: try t.requiredString("module", expected: "a string (Erlang module name)"))
        case "cowboy_swagger_redirect_handler":
            try t.checkKnownKeys(common)
            options = .swaggerRedirect
        case "cowboy_swagger_json_handler":
            try t.checkKnownKeys(common)
            options = .swaggerJSON
        case "cowboy_static":
            try t.checkKnownKeys(common + ["type", "app", "content_path"])
            options = .cowboyStatic(type: try t.string("type"), app: try t.string("app"), contentPath: try t.string("content_path"))
        default: // mongoose_client_api_*
            try t.checkKnownKeys(common)
            options = .clientAPI
        }
        let host = try t.requiredString("host", expected: "a string (host name or \"_\" for any host)")
        let path = try t.requiredString("path", expected: "a string (URL path)")
        return HTTPHandlerConfig(type: type, index: index, host: host, path: path, options: options)
    }

    private func parseWebSockets(_ t: TableReader) throws -> WebSocketHandlerOptions {
        var o = WebSocketHandlerOptions()
        switch try t.intOrKeyword("timeout", keyword: "infinity") {
        case .absent, .keyword: o.timeout = .infinity
        case .value(let n): o.timeout = .value(n)
        }
        switch try t.intOrKeyword("ping_rate", keyword: "none") {
        case .absent, .keyword: o.pingRate = nil
        case .value(let n): o.pingRate = n
        }
        switch try t.intOrKeyword("max_stanza_size", keyword: "infinity") {
        case .absent, .keyword: o.maxStanzaSize = .infinity
        case .value(let n): o.maxStanzaSize = .value(n)
        }
        if let service = try t.table("service") {
            // Same as a [[listen.service]] without the socket options (the HTTP listener owns the socket).
            try service.checkKnownKeys(ListenValidator.xmppKeys + ListenValidator.serviceKeys)
            o.service = WebSocketServiceOptions(service: try ListenValidator.parseServiceOptions(service),
                                                xmpp: try ListenValidator.parseXMPPOptions(service))
        }
        return o
    }
}

private extension String {
    /// `listen.http[2].handlers.x` → `listen.http.handlers.x`, for showing TOML header syntax.
    func replacingListenerIndices() -> String {
        var out = ""
        var skipping = false
        for ch in self {
            if ch == "[" { skipping = true; continue }
            if ch == "]" { skipping = false; continue }
            if !skipping { out.append(ch) }
        }
        return out
    }
}
