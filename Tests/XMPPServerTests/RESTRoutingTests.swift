import NIOHTTP1
import XCTest
@testable import XMPPServer

/// The small parsers behind the REST handlers: Cowboy route patterns, Basic
/// credentials, query strings, and the worker named in a BOSH session id.
final class RESTRoutingTests: XCTestCase {
    func testCowboyPathBindsSegmentsAndOptionalTails() {
        let messages = CowboyPath("/api/messages/[:with]")
        XCTAssertEqual(messages.match("/api/messages"), [:])
        XCTAssertEqual(messages.match("/api/messages/"), [:])
        XCTAssertEqual(messages.match("/api/messages/bob%40localhost"), ["with": "bob@localhost"])
        XCTAssertNil(messages.match("/api/messages/bob@localhost/extra"))
        XCTAssertNil(messages.match("/api/contacts"))

        let users = CowboyPath("/api/rooms/:id/users/[:user]")
        XCTAssertEqual(users.match("/api/rooms/r1/users"), ["id": "r1"])
        XCTAssertEqual(users.match("/api/rooms/r1/users/alice"), ["id": "r1", "user": "alice"])
        XCTAssertNil(users.match("/api/rooms/users"))

        let docs = CowboyPath("/api-docs/[...]")
        XCTAssertEqual(docs.match("/api-docs/index.html"), [:])
        XCTAssertEqual(docs.match("/api-docs/a/b/c"), [:])
        XCTAssertNil(docs.match("/api/x"))
    }

    func testBasicCredentials() {
        let header = "Basic " + Data("alice@localhost:se:cret".utf8).base64EncodedString()
        XCTAssertEqual(JSONBody.basicCredentials(header)?.user, "alice@localhost")
        XCTAssertEqual(JSONBody.basicCredentials(header)?.password, "se:cret", "only the first colon separates")
        XCTAssertNil(JSONBody.basicCredentials("Bearer abc"))
        XCTAssertNil(JSONBody.basicCredentials("Basic !!!"))
        XCTAssertNil(JSONBody.basicCredentials("Basic " + Data("no colon".utf8).base64EncodedString()))
        XCTAssertNil(JSONBody.basicCredentials(nil))
    }

    func testQueryItemsAndIntegers() throws {
        XCTAssertEqual(JSONBody.queryItems("/api/messages?limit=5&before=10&limit=7"), ["limit": "7", "before": "10"])
        XCTAssertEqual(JSONBody.queryItems("/api/messages"), [:])
        XCTAssertEqual(try JSONBody.integer("42", name: "limit"), 42)
        XCTAssertNil(try JSONBody.integer(nil, name: "limit"))
        XCTAssertThrowsError(try JSONBody.integer("many", name: "limit"))
    }

    func testJSONFieldsNameWhatIsMissing() throws {
        XCTAssertEqual(try JSONBody.fields(#"{"to": "bob@localhost", "body": "hi"}"#, "to", "body"), ["bob@localhost", "hi"])
        XCTAssertThrowsError(try JSONBody.fields(#"{"to": "bob@localhost"}"#, "to", "body")) { error in
            guard case APIError.badRequest(let text) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(text.contains("body"), text)
        }
        XCTAssertThrowsError(try JSONBody.fields("[1, 2]", "to"))
        XCTAssertEqual(JSONBody.encode(["jid": "a@b/c"]), #"{"jid":"a@b/c"}"#, "slashes unescaped")
    }

    func testBOSHSessionIDsNameTheirWorker() {
        let sid = SessionIDs.make(worker: 4242)
        XCTAssertEqual(SessionIDs.worker(of: sid), 4242)
        XCTAssertEqual(sid.count, 32 + 1 + 4, "128 random bits in hex, then the pid")
        XCTAssertNotEqual(SessionIDs.make(worker: 1), SessionIDs.make(worker: 1))
        XCTAssertNil(SessionIDs.worker(of: "0123456789abcdef"), "an id from before: no worker in it")
    }

    func testAPIDocsPagePrefix() {
        XCTAssertEqual(APIDocs.prefix(of: "/api-docs/[...]"), "/api-docs")
        XCTAssertEqual(APIDocs.prefix(of: "/docs/"), "/docs")
    }

    func testAcceptEncoding() {
        func head(_ value: String?) -> HTTPRequestHead {
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
            if let value { head.headers.add(name: "Accept-Encoding", value: value) }
            return head
        }
        XCTAssertTrue(HTTPRequestHandler.acceptsGzip(head("gzip, deflate, br")))
        XCTAssertTrue(HTTPRequestHandler.acceptsGzip(head("deflate;q=1, GZIP;q=0.5")))
        XCTAssertTrue(HTTPRequestHandler.acceptsGzip(head("*")))
        XCTAssertFalse(HTTPRequestHandler.acceptsGzip(head("gzip;q=0, identity")))
        XCTAssertFalse(HTTPRequestHandler.acceptsGzip(head("identity")))
        XCTAssertFalse(HTTPRequestHandler.acceptsGzip(head(nil)))
    }
}
