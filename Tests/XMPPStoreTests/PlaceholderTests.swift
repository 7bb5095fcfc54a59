import XCTest
@testable import XMPPStore
final class XMPPStorePlaceholderTests: XCTestCase { func testBuilds() {} }
