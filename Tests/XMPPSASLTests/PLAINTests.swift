import XCTest
@testable import XMPPSASL

final class PLAINTests: XCTestCase {
    let creds = SCRAMCredentials.derive(password: "pencil", salt: [9, 9, 9], iterations: 64, hash: .sha256)

    func server(domain: String? = nil) -> PLAINServer {
        PLAINServer(lookup: { [creds] in $0 == "user" ? creds : nil }, domain: domain, unknownUserIterations: 64)
    }

    func testSuccess() {
        guard case .success(let user, let data) = server().start(initialResponse: utf8("\0user\0pencil")) else {
            return XCTFail("expected success")
        }
        XCTAssertEqual(user, "user")
        XCTAssertNil(data)
    }

    func testSuccessWithoutInitialResponseAndWithAuthzid() {
        let s = server(domain: "example.com")
        XCTAssertEqual(expectChallenge(s.start(initialResponse: nil)), [])
        guard case .success(let user, _) = s.respond(utf8("user@example.com\0user\0pencil")) else {
            return XCTFail("expected success")
        }
        XCTAssertEqual(user, "user")
    }

    func testSHA1CredentialsWork() {
        let sha1 = SCRAMCredentials.derive(password: "pencil", salt: [1], iterations: 8, hash: .sha1)
        guard case .success = PLAINServer(lookup: { _ in sha1 }).start(initialResponse: utf8("\0user\0pencil")) else {
            return XCTFail("expected success")
        }
    }

    func testBadPasswordAndUnknownUser() {
        expectFailure(server().start(initialResponse: utf8("\0user\0pencil2")), .notAuthorized)
        expectFailure(server().start(initialResponse: utf8("\0nobody\0pencil")), .notAuthorized)
    }

    func testMalformed() {
        expectFailure(server().start(initialResponse: utf8("user\0pencil")), .malformedRequest)
        expectFailure(server().start(initialResponse: utf8("\0user\0pencil\0")), .malformedRequest)
        expectFailure(server().start(initialResponse: utf8("\0\0pencil")), .malformedRequest)
        expectFailure(server().start(initialResponse: utf8("\0user\0")), .malformedRequest)
        expectFailure(server().start(initialResponse: []), .malformedRequest)
        expectFailure(server().start(initialResponse: [0, 0x75, 0, 0xff]), .incorrectEncoding)
        expectFailure(server().start(initialResponse: utf8("other@example.com\0user\0pencil")), .invalidAuthzid)
        expectFailure(server(domain: "example.com").start(initialResponse: utf8("other@example.com\0user\0pencil")),
                      .invalidAuthzid)
    }

    func testOutOfOrderCalls() {
        expectFailure(server().respond(utf8("\0user\0pencil")), .malformedRequest)
        let s = server()
        guard case .success = s.start(initialResponse: utf8("\0user\0pencil")) else { return XCTFail() }
        expectFailure(s.respond(utf8("\0user\0pencil")), .malformedRequest)
    }

    func testParse() {
        XCTAssertEqual(try PLAINAuthenticator.parse(utf8("a\0b\0c")).get(),
                       PLAINMessage(authzid: "a", authcid: "b", password: "c"))
    }
}
