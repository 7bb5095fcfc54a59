import XCTest
@testable import XMPPConfig

/// `[modules.*]` is kept as typed values with the lines they were written on, so a
/// module's own validation reports errors like every other config error.
final class ModuleConfigTests: XCTestCase {
    private let text = generalHeader + """
    [modules.mod_ping]
      send_pings = true
      ping_interval = 10_000

    [modules.mod_disco]
    """

    func testModulesInFileOrderWithValues() throws {
        let config = try parse(text)
        XCTAssertEqual(config.modules.map(\.name), ["mod_ping", "mod_disco"])
        let ping = config.modules[0]
        XCTAssertEqual(ping.options["send_pings"], .bool(true))
        XCTAssertEqual(ping.options["ping_interval"], .int(10_000))
        XCTAssertTrue(config.modules[1].options.isEmpty)
    }

    func testOptionErrorsCarryFileLineAndKeyPath() throws {
        let reader = try parse(text).modules[0].reader
        XCTAssertThrowsError(try reader.int("send_pings", default: 1)) { error in
            XCTAssertEqual("\(error)", "etc/xmppd.toml:4: modules.mod_ping.send_pings: found boolean true, expected a non-negative integer")
        }
        XCTAssertThrowsError(try reader.checkKnownKeys(["send_pings"])) { error in
            XCTAssertEqual((error as? ConfigError)?.line, 5)
            XCTAssertTrue("\(error)".contains("modules.mod_ping.ping_interval: unknown key (known keys: send_pings)"))
        }
        XCTAssertEqual((reader.error(nil, "unknown module") as ConfigError).line, 3)
    }

    func testModuleSectionMustBeATable() {
        assertError(generalHeader + "[modules]\n  mod_ping = 1\n", line: 4, keyPath: "modules.mod_ping",
                    contains: ["found integer 1, expected a table of module options"])
    }

    func testModulesRoundTripThroughJSON() throws {
        let config = try parse(text)
        let decoded = try JSONDecoder().decode(ServerConfig.self, from: JSONEncoder().encode(config))
        XCTAssertEqual(decoded, config)
    }
}
