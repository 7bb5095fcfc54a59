import NIOCore
import NIOEmbedded
import NIOHTTP1
import XCTest
@testable import XMPPServer

final class HTTPRequestHandlerTests: XCTestCase {
    func responder() -> HTTPRequestHandler {
        HTTPRequestHandler(routes: HTTPListener(routes: [], boshHandlers: [], bosh: nil, adminAPIs: [], clientAPI: nil, docs: nil, tls: nil, maxConnections: nil))
    }

    func testAConnectionWithoutACompleteRequestIsClosedAfterTheRequestTimeout() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(handler: responder(), loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        loop.advanceTime(by: HTTPListener.requestTimeout - .seconds(1))
        XCTAssertTrue(channel.isActive)
        loop.advanceTime(by: .seconds(1))
        XCTAssertFalse(channel.isActive)
    }

    func testAnUnknownPathGets404AndTheConnectionCloses() throws {
        let channel = EmbeddedChannel(handler: responder())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/x")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        guard case .head(let head) = try XCTUnwrap(channel.readOutbound(as: HTTPServerResponsePart.self)) else {
            return XCTFail("no response head")
        }
        XCTAssertEqual(head.status, .notFound)
        XCTAssertFalse(channel.isActive)
    }
}
