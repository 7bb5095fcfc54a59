import XCTest
@testable import XMPPCore

/// Feeds `input` in pieces of `chunk` bytes and collects events; returns the error too.
func parse(_ input: String, chunk: Int? = nil, parser: XMLStreamParser = XMLStreamParser()) -> (events: [XMLStreamEvent], error: XMLStreamError?) {
    let bytes = Array(input.utf8)
    var events: [XMLStreamEvent] = []
    let size = chunk ?? max(bytes.count, 1)
    var i = 0
    do {
        while i < bytes.count {
            let end = min(i + size, bytes.count)
            try parser.feed(Array(bytes[i..<end])) { events.append($0) }
            i = end
        }
    } catch let e as XMLStreamError {
        return (events, e)
    } catch {
        XCTFail("unexpected error \(error)")
    }
    return (events, nil)
}

let clientHeader = "<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' xml:lang='en'>"
