import XCTest
@testable import XMPPCore

final class StreamLimitTests: XCTestCase {
    func testStanzaOverLimit() {
        let body = String(repeating: "x", count: 2000)
        let input = clientHeader + "<presence/><message><body>\(body)</body></message>"
        for chunk in [nil, 1, 100] as [Int?] {
            let (events, error) = parse(input, chunk: chunk, parser: XMLStreamParser(maxStanzaSize: 1000))
            XCTAssertEqual(error?.condition, "policy-violation")
            XCTAssertEqual(events.count, 2, "header and presence only")
        }
    }

    func testStanzaExactlyAtLimitPasses() {
        let stanza = "<message><body>abc</body></message>"
        let p = XMLStreamParser(maxStanzaSize: stanza.utf8.count)
        let (events, error) = parse(clientHeader + stanza + stanza, parser: p)
        XCTAssertNil(error)
        XCTAssertEqual(events.count, 3)
        let q = XMLStreamParser(maxStanzaSize: stanza.utf8.count - 1)
        XCTAssertEqual(parse(clientHeader + stanza, parser: q).error?.condition, "policy-violation")
    }

    func testHugeAttributeRefusedWithoutUnboundedBuffering() {
        let p = XMLStreamParser(maxStanzaSize: 10_000)
        var consumed = 0
        XCTAssertNoThrow(try p.feed(Array(clientHeader.utf8)) { _ in })
        let chunk = 4096
        var input = Array("<message to='".utf8)
        input += [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        input += Array("'/>".utf8)
        var thrown: XMLStreamError?
        while consumed < input.count {
            let end = min(consumed + chunk, input.count)
            do {
                try p.feed(Array(input[consumed..<end])) { _ in XCTFail("no event expected") }
            } catch {
                thrown = error as? XMLStreamError
                break
            }
            consumed = end
        }
        XCTAssertEqual(thrown?.condition, "policy-violation")
        XCTAssertLessThanOrEqual(consumed, 10_000 + chunk, "refused after \(consumed) bytes")
    }

    func testHugeTextInOneChunkRefused() {
        // Even a single giant chunk is not handed to expat whole.
        let p = XMLStreamParser(maxStanzaSize: 1000)
        let input = clientHeader + "<message><body>" + String(repeating: "y", count: 1_000_000)
        XCTAssertEqual(parse(input, parser: p).error?.condition, "policy-violation")
    }

    func testDefaultHardLimit() {
        XCTAssertEqual(XMLStreamParser.defaultHardLimit, 10 * 1024 * 1024)
        XCTAssertEqual(XMLStreamParser().stanzaLimit, XMLStreamParser.defaultHardLimit)
    }

    func testGiantStreamHeaderRefused() {
        let input = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" + String(repeating: "a", count: 200_000) + "'>"
        for chunk in [nil, 4096] as [Int?] {
            XCTAssertEqual(parse(input, chunk: chunk).error?.condition, "policy-violation")
        }
    }

    func testDepthLimit() {
        let deep = String(repeating: "<a>", count: 150)
        XCTAssertEqual(parse(clientHeader + deep).error?.condition, "policy-violation")
        let ok = String(repeating: "<a>", count: 50) + String(repeating: "</a>", count: 50)
        XCTAssertNil(parse(clientHeader + ok).error)
    }
}
