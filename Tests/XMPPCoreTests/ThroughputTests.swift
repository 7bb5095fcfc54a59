import XCTest
import Foundation
@testable import XMPPCore

/// Not a benchmark gate (debug builds vary), just a smoke check that parsing and
/// serialising many stanzas stays linear and reports a rough rate.
final class ThroughputTests: XCTestCase {
    func testManyStanzas() throws {
        let stanza = "<message to='romeo@example.net/orchard' from='juliet@example.com/balcony' type='chat' id='m1'><body>Wherefore art thou, Romeo?</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>"
        let count = 20_000
        var input = Array(clientHeader.utf8)
        for _ in 0..<count { input += Array(stanza.utf8) }
        let p = XMLStreamParser(maxStanzaSize: 65536)
        var n = 0
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        let start = Date()
        var i = 0
        while i < input.count {
            let end = min(i + 16384, input.count)
            try input[i..<end].withUnsafeBytes { buf in
                try p.feed(buf) { e in
                    if case .element(let el) = e {
                        n += 1
                        out.removeAll(keepingCapacity: true)
                        el.serialize(into: &out, parentNamespace: XMPPNamespace.client)
                    }
                }
            }
            i = end
        }
        let secs = Date().timeIntervalSince(start)
        XCTAssertEqual(n, count)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), stanza)
        print("parsed+serialised \(count) stanzas in \(String(format: "%.3f", secs)) s (\(Int(Double(count) / secs)) /s)")
    }
}
