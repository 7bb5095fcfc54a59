import XCTest
@testable import XMPPTLS
final class XMPPTLSPlaceholderTests: XCTestCase { func testBuilds() {} }
