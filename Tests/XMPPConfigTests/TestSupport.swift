import XCTest
@testable import XMPPConfig

/// A config header every test can prepend; 2 lines, so listener lines start at 3.
let generalHeader = """
[general]
  hosts = ["Localhost"]

"""

func parse(_ text: String, file: String = "etc/xmppd.toml", base: String = "/srv/xmppd/etc") throws -> ServerConfig {
    try ServerConfig.parse(text: text, file: file, baseDirectory: base)
}

/// Parses and asserts a ConfigError is thrown; returns it for message/line checks.
func expectError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
    do {
        let config = try parse(text)
        XCTFail("expected a ConfigError, got \(config)", file: file, line: line)
        return nil
    } catch let error as ConfigError {
        return error
    } catch {
        XCTFail("expected a ConfigError, got \(error)", file: file, line: line)
        return nil
    }
}

func assertError(_ text: String, line expectedLine: Int?, keyPath: String, contains fragments: [String],
                 file: StaticString = #filePath, line: UInt = #line) {
    guard let error = expectError(text, file: file, line: line) else { return }
    XCTAssertEqual(error.line, expectedLine, "line of \(error)", file: file, line: line)
    XCTAssertEqual(error.keyPath, keyPath, "key path of \(error)", file: file, line: line)
    for fragment in fragments {
        XCTAssertTrue(error.message.contains(fragment), "\(error) should contain \(fragment)", file: file, line: line)
    }
}

/// The [access] rules and [shaper] the spec's examples refer to ("needs to be defined
/// in the access configuration section"); appended after an example, so its lines stay.
let specAccessSections = """

[access]
  c2s = [{acl = "all", value = "allow"}]
  c2s_shaper = [{acl = "all", value = "none"}]
  s2s_shaper = [{acl = "all", value = "none"}]
  component = [{acl = "all", value = "allow"}]
[shaper]
  fast = {max_rate = 50_000}
"""
