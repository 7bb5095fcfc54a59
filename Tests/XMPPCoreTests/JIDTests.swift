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

    /// The ASCII fast path of `init?(_:)` agrees with the general path on every case.
    func testASCIIFastPathMatchesGeneralPath() {
        func general(_ s: String) -> JID? {
            var rest = Substring(s)
            var resource: Substring?
            if let slash = rest.firstIndex(of: "/") { resource = rest[rest.index(after: slash)...]; rest = rest[..<slash] }
            var local: Substring?
            if let at = rest.firstIndex(of: "@") { local = rest[..<at]; rest = rest[rest.index(after: at)...] }
            return JID(validatingLocal: local.map(String.init), domain: String(rest), resource: resource.map(String.init))
        }
        let pieces = ["", "a", "A", "Bench7", "@", "/", ".", "..", "[", "]", "[::1]", ":", "x y", "\t", "\u{7f}", "\u{0}",
                      "\"", "&", "'", "<", ">", "\\", "loc.al", "EXAMPLE.com", "example.com.", ".example", "r@s/t"]
        var checked = 0
        for a in pieces {
            for b in pieces {
                for candidate in [a + "@" + b, a + "@" + b + "/" + a, b + "/" + a, a + b, b + "." + a, a + "@" + b + "."] {
                    let fast = JID.parseASCII(candidate)
                    switch fast {
                    case .notASCII: XCTFail("\(candidate.debugDescription) is ASCII")
                    case .invalid: XCTAssertNil(general(candidate), candidate.debugDescription)
                    case .valid(let jid):
                        XCTAssertEqual(general(candidate), jid, candidate.debugDescription)
                        XCTAssertEqual(general(candidate)?.description, jid.description, candidate.debugDescription)
                    }
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 4000)
        if case .notASCII = JID.parseASCII("é@b") {} else { XCTFail("non-ASCII goes the general way") }
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
