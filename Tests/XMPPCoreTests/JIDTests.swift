import XCTest
import Foundation
@testable import XMPPCore

final class JIDTests: XCTestCase {
    func testParsing() throws {
        let j = try XCTUnwrap(JID("Juliet@Example.COM/Balcony"))
        XCTAssertEqual(j.local, "juliet")
        XCTAssertEqual(j.domain, "example.com")
        XCTAssertEqual(j.resource, "Balcony")
        XCTAssertEqual(j.description, "juliet@example.com/Balcony")
        XCTAssertFalse(j.isBare)
        XCTAssertEqual(j.bare, JID("juliet@example.com"))
        XCTAssertTrue(j.bare.isBare)

        let d = try XCTUnwrap(JID("example.com."))
        XCTAssertNil(d.local)
        XCTAssertNil(d.resource)
        XCTAssertEqual(d.description, "example.com")

        // '@' and '/' are fine inside the resource.
        let r = try XCTUnwrap(JID("a@b/c@d/e"))
        XCTAssertEqual(r.local, "a")
        XCTAssertEqual(r.domain, "b")
        XCTAssertEqual(r.resource, "c@d/e")
        XCTAssertEqual(JID("example.com/res")?.resource, "res")
        XCTAssertEqual(JID("[::1]")?.domain, "[::1]")
        XCTAssertEqual(JID("ÉLODIE@Exämple.com")?.local, "élodie")
    }

    func testInvalid() {
        let bad = ["", "@example.com", "a@", "a@/r", "example.com/", "a@b@c", "a b@c", "a\"b@c", "a&b@c", "a'b@c",
                   "a:b@c", "a<b@c", "a>b@c", "a\u{7}@c", "a@exa mple.com", "a@b..c", "a@.", ".", "a@b:5222",
                   "a@b/\u{0}", String(repeating: "a", count: 1024) + "@b", "a@b/" + String(repeating: "r", count: 1024)]
        for s in bad { XCTAssertNil(JID(s), "should reject \(s.debugDescription.prefix(40))") }
        XCTAssertNotNil(JID(String(repeating: "a", count: 1023) + "@b"))
    }

    func testEqualityAndHashing() {
        XCTAssertEqual(JID("ROMEO@example.net"), JID("romeo@EXAMPLE.net."))
        XCTAssertNotEqual(JID("romeo@example.net/A"), JID("romeo@example.net/a"))
        let set: Set<JID> = [JID("a@b")!, JID("A@B")!]
        XCTAssertEqual(set.count, 1)
    }

    func testPartsInitialiser() {
        let j = JID(local: "Romeo", domain: "Example.net", resource: "orchard")
        XCTAssertEqual(j.description, "romeo@example.net/orchard")
        XCTAssertEqual(JID(domain: "example.net").description, "example.net")
        XCTAssertNil(JID(validatingLocal: "a b", domain: "c"))
        XCTAssertEqual(j.withResource("x")?.description, "romeo@example.net/x")
        XCTAssertEqual(j.domainJID.description, "example.net")
    }

    func testCodable() throws {
        let j = JID("romeo@example.net/orchard")!
        let data = try JSONEncoder().encode([j])
        XCTAssertEqual(String(decoding: data, as: UTF8.self), "[\"romeo@example.net\\/orchard\"]")
        XCTAssertEqual(try JSONDecoder().decode([JID].self, from: data), [j])
        XCTAssertThrowsError(try JSONDecoder().decode([JID].self, from: Data("[\"@bad\"]".utf8)))
    }
}
