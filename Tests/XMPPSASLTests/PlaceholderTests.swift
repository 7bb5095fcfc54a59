import XCTest
@testable import XMPPSASL
final class XMPPSASLPlaceholderTests: XCTestCase { func testBuilds() {} }
