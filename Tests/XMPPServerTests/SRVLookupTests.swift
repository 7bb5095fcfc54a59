import XCTest
@testable import XMPPServer

/// SRV answers as a DNS server writes them (compressed names included), and the
/// RFC 2782 order of targets.
final class SRVLookupTests: XCTestCase {
    /// A reply to `query` with `records` as (priority, weight, port, target labels).
    private func reply(to query: [UInt8], rcode: UInt8 = 0, _ records: [(UInt16, UInt16, UInt16, [String])]) -> [UInt8] {
        var bytes = Array(query[0..<2]) + [0x81, 0x80 | rcode, 0, 1, 0, UInt8(records.count), 0, 0, 0, 0]
        bytes += query[12...]   // the question, at offset 12
        for (priority, weight, port, labels) in records {
            bytes += [0xC0, 12, 0, 33, 0, 1, 0, 0, 0, 60]   // name: pointer to the question
            var rdata: [UInt8] = [UInt8(priority >> 8), UInt8(priority & 0xff), UInt8(weight >> 8), UInt8(weight & 0xff),
                                  UInt8(port >> 8), UInt8(port & 0xff)]
            for label in labels { rdata += [UInt8(label.utf8.count)] + Array(label.utf8) }
            rdata += [0]
            bytes += [UInt8(rdata.count >> 8), UInt8(rdata.count & 0xff)] + rdata
        }
        return bytes
    }

    func testRecordsInPriorityOrder() {
        let query = SRVLookup.query("_xmpp-server._tcp.example.org")
        let answer = SRVLookup.parse(reply(to: query.bytes, [(20, 0, 5270, ["backup", "example", "org"]),
                                                             (10, 0, 5269, ["xmpp", "example", "org"])]), id: query.id)
        XCTAssertEqual(answer, .records([SRVLookup.Record(priority: 10, weight: 0, port: 5269, target: "xmpp.example.org"),
                                         SRVLookup.Record(priority: 20, weight: 0, port: 5270, target: "backup.example.org")]))
    }

    func testDotMeansNoServiceAndErrorsMeanNoRecords() {
        let query = SRVLookup.query("_xmpp-server._tcp.example.org")
        XCTAssertEqual(SRVLookup.parse(reply(to: query.bytes, [(0, 0, 0, [])]), id: query.id), .serviceRefused)
        XCTAssertEqual(SRVLookup.parse(reply(to: query.bytes, rcode: 3, []), id: query.id), SRVLookup.Answer.none)
        XCTAssertEqual(SRVLookup.parse(reply(to: query.bytes, []), id: query.id), SRVLookup.Answer.none)
        // Another query's reply, and truncated garbage, are not answers.
        XCTAssertNil(SRVLookup.parse(reply(to: query.bytes, []), id: query.id &+ 1))
        XCTAssertNil(SRVLookup.parse(Array(reply(to: query.bytes, [(0, 0, 1, ["a"])]).prefix(40)), id: query.id))
    }

    func testWeightsShareOutOnePriority() {
        let heavy = SRVLookup.Record(priority: 0, weight: 90, port: 1, target: "heavy")
        let light = SRVLookup.Record(priority: 0, weight: 10, port: 2, target: "light")
        var heavyFirst = 0
        for _ in 0..<400 where SRVLookup.ordered([light, heavy]).first == heavy { heavyFirst += 1 }
        XCTAssertGreaterThan(heavyFirst, 300)
        XCTAssertLessThan(heavyFirst, 400)
    }
}
