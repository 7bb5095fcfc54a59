import XCTest
@testable import XMPPConfig

/// The examples from MongooseIM's `listen` documentation, verbatim.
enum SpecExamples {
    static let c2s = """
    [[listen.c2s]]
      port = 5222
      zlib = 10000
      access = "c2s"
      shaper = "c2s_shaper"
      max_stanza_size = 65536
      tls.mode = "starttls"
      tls.certfile = "server.pem"
      tls.dhfile = "dh_server.pem"

    [[listen.c2s]]
      port = 5223
      zlib = 4096
      access = "c2s"
      shaper = "c2s_shaper"
      max_stanza_size = 65536

    """

    static let s2s = """
    [[listen.s2s]]
      port = 5269
      shaper = "s2s_shaper"
      max_stanza_size = 131072
      tls.dhfile = "dh_server.pem"

    """

    static let service = """
    [[listen.service]]
      port = 8888
      access = "all"
      shaper_rule = "fast"
      ip_address = "127.0.0.1"
      password = "secret"

    """

    static let http1 = """
    [[listen.http]]
      port = 5285
      tls.certfile = "mycert.pem"
      tls.keyfile = "mykey.pem"
      tls.password =  "secret"

      [[listen.http.handlers.mod_bosh]]
        host = "_"
        path = "/http-bind"

      [[listen.http.handlers.mod_websockets]]
        host = "_"
        path = "/ws-xmpp"

    """

    static let http2 = """
    [[listen.http]]
      ip_address = "127.0.0.1"
      port = 8088
      transport.num_acceptors = 5
      transport.max_connections = 10

      [[listen.http.handlers.mongoose_api_admin]]
        host = "localhost"
        path = "/api"

    """

    static let http3 = """
    [[listen.http]]
      port = 8089
      transport.max_connections = 1024
      protocol.compress = true

      [[listen.http.handlers.lasse_handler]]
        host = "_"
        path = "/api/sse"
        module = "mongoose_client_api_sse"

      [[listen.http.handlers.mongoose_client_api_messages]]
        host = "_"
        path = "/api/messages/[:with]"

      [[listen.http.handlers.mongoose_client_api_contacts]]
        host = "_"
        path = "/api/contacts/[:jid]"

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

    """

    /// Deliberately interleaved types: listeners must still come out grouped by type.
    static let all = http1 + c2s + s2s + service + http2 + http3
}

final class SpecExampleTests: XCTestCase {
    func testC2SExample() throws {
        let config = try parse(generalHeader + SpecExamples.c2s + specAccessSections)
        XCTAssertEqual(config.listeners.count, 2)
        let first = config.listeners[0], second = config.listeners[1]
        XCTAssertEqual(first.port, 5222)
        XCTAssertEqual(first.index, 1)
        XCTAssertEqual(first.c2s?.zlib, 10000)
        XCTAssertEqual(first.c2s?.access, "c2s")
        XCTAssertEqual(first.c2s?.shaper, "c2s_shaper")
        XCTAssertEqual(first.xmpp?.maxStanzaSize, 65536)
        XCTAssertEqual(first.c2s?.tls.mode, .starttls)
        XCTAssertEqual(first.c2s?.tls.certfile, "server.pem")
        XCTAssertEqual(first.c2s?.tls.dhfile, "dh_server.pem")
        XCTAssertEqual(first.c2s?.tls.module, .fastTLS)
        XCTAssertEqual(second.port, 5223)
        XCTAssertEqual(second.index, 2)
        XCTAssertEqual(second.keyPath, "listen.c2s[2]")
        XCTAssertEqual(second.c2s?.zlib, 4096)
        XCTAssertNil(second.c2s?.tls.mode)
        XCTAssertEqual(second.xmpp?.maxStanzaSize, 65536)
    }

    func testS2SExample() throws {
        let l = try parse(generalHeader + SpecExamples.s2s + specAccessSections).listeners[0]
        XCTAssertEqual(l.type, .s2s)
        XCTAssertEqual(l.port, 5269)
        XCTAssertEqual(l.s2s?.shaper, "s2s_shaper")
        XCTAssertEqual(l.xmpp?.maxStanzaSize, 131072)
        XCTAssertEqual(l.s2s?.tls.dhfile, "dh_server.pem")
        XCTAssertNil(l.s2s?.tls.cacertfile)
        XCTAssertEqual(l.s2s?.tls.ciphers, "TLSv1.2:TLSv1.3")
        XCTAssertNil(l.c2s)
    }

    func testServiceExample() throws {
        let l = try parse(generalHeader + SpecExamples.service + specAccessSections).listeners[0]
        XCTAssertEqual(l.type, .service)
        XCTAssertEqual(l.port, 8888)
        XCTAssertEqual(l.ipAddress, "127.0.0.1")
        var expected = ServiceOptions(password: "secret")
        expected.shaperRule = "fast"
        XCTAssertEqual(l.service, expected)
        XCTAssertEqual(l.service?.access, "all")
        XCTAssertEqual(l.service?.checkFrom, true)
        XCTAssertEqual(l.service?.hiddenComponents, false)
        XCTAssertEqual(l.service?.conflictBehaviour, .disconnect)
        XCTAssertEqual(l.xmpp, XMPPListenerOptions())
    }

    func testHTTPExample1() throws {
        let l = try parse(generalHeader + SpecExamples.http1).listeners[0]
        XCTAssertEqual(l.type, .http)
        XCTAssertEqual(l.port, 5285)
        XCTAssertNil(l.xmpp)
        XCTAssertEqual(l.backlog, 1024)
        let http = try XCTUnwrap(l.http)
        var tls = HTTPTLSOptions()
        tls.certfile = "mycert.pem"
        tls.keyfile = "mykey.pem"
        tls.password = "secret"
        XCTAssertEqual(http.tls, tls)
        XCTAssertEqual(http.handlers, [
            HTTPHandlerConfig(type: "mod_bosh", index: 1, host: "_", path: "/http-bind", options: .bosh),
            HTTPHandlerConfig(type: "mod_websockets", index: 1, host: "_", path: "/ws-xmpp", options: .websockets(WebSocketHandlerOptions())),
        ])
        XCTAssertEqual(http.transport, HTTPTransportOptions())
        XCTAssertEqual(http.transport.numAcceptors, 100)
        XCTAssertEqual(http.transport.maxConnections, .value(1024))
        XCTAssertFalse(http.compress)
    }

    func testHTTPExample2() throws {
        let l = try parse(generalHeader + SpecExamples.http2).listeners[0]
        XCTAssertEqual(l.ipAddress, "127.0.0.1")
        XCTAssertEqual(l.port, 8088)
        XCTAssertEqual(l.http?.transport.numAcceptors, 5)
        XCTAssertEqual(l.http?.transport.maxConnections, .value(10))
        XCTAssertNil(l.http?.tls)
        XCTAssertEqual(l.http?.handlers, [
            HTTPHandlerConfig(type: "mongoose_api_admin", index: 1, host: "localhost", path: "/api",
                              options: .apiAdmin(username: nil, password: nil)),
        ])
    }

    func testHTTPExample3KeepsHandlerFileOrder() throws {
        let l = try parse(generalHeader + SpecExamples.http3).listeners[0]
        let http = try XCTUnwrap(l.http)
        XCTAssertEqual(l.port, 8089)
        XCTAssertEqual(http.transport.maxConnections, .value(1024))
        XCTAssertTrue(http.compress)
        XCTAssertEqual(http.handlers.map(\.type), [
            "lasse_handler", "mongoose_client_api_messages", "mongoose_client_api_contacts",
            "mongoose_client_api_rooms", "mongoose_client_api_rooms_config", "mongoose_client_api_rooms_users",
            "mongoose_client_api_rooms_messages", "cowboy_swagger_redirect_handler",
            "cowboy_swagger_json_handler", "cowboy_static",
        ])
        XCTAssertEqual(http.handlers[0].options, .lasse(module: "mongoose_client_api_sse"))
        XCTAssertEqual(http.handlers[1].path, "/api/messages/[:with]")
        XCTAssertEqual(http.handlers[1].options, .clientAPI)
        XCTAssertEqual(http.handlers[7].options, .swaggerRedirect)
        XCTAssertEqual(http.handlers[8].options, .swaggerJSON)
        XCTAssertEqual(http.handlers[9].path, "/api-docs/[...]")
        XCTAssertEqual(http.handlers[9].options, .cowboyStatic(type: "priv_dir", app: "cowboy_swagger", contentPath: "swagger"))
        XCTAssertTrue(http.handlers.allSatisfy { $0.host == "_" && $0.index == 1 })
    }

    func testAllExamplesTogetherAreGroupedByType() throws {
        let config = try parse(generalHeader + SpecExamples.all + specAccessSections)
        XCTAssertEqual(config.listeners.map(\.keyPath), [
            "listen.c2s[1]", "listen.c2s[2]", "listen.s2s[1]", "listen.service[1]",
            "listen.http[1]", "listen.http[2]", "listen.http[3]",
        ])
        XCTAssertEqual(config.listeners.map(\.port), [5222, 5223, 5269, 8888, 5285, 8088, 8089])
    }
}
