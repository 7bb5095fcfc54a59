import XCTest
@testable import XMPPConfig
final class XMPPConfigPlaceholderTests: XCTestCase { func testBuilds() {} }
