import XCTest
@testable import XMPPTransport
final class XMPPTransportPlaceholderTests: XCTestCase { func testBuilds() {} }
