import XCTest
@testable import XMPPCore
final class XMPPCorePlaceholderTests: XCTestCase { func testBuilds() {} }
