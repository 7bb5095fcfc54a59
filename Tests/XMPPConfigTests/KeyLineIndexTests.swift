import XCTest
@testable import XMPPConfig

final class KeyLineIndexTests: XCTestCase {
    func testHeadersArraysAndDottedKeys() {
        let index = KeyLineIndex(source: """
        # comment [not.a.header]
        [general]
          hosts = ["a", "b]"]   # a ] in a string and a comment ]

        [[listen.http]]
          port = 5280
          'quoted.key' = 1
          tls . certfile = "c.pem"

          [[listen.http.handlers.mod_bosh]]
            host = "_"
        [[listen.http]]
          port = 5281
          [[ listen.http.handlers.mod_bosh ]]
            path = '''
        not = "a key"
        '''
          [[listen.http.handlers.mod_bosh]]
            host = "x"
        """)
        XCTAssertEqual(index.line(for: "general"), 2)
        XCTAssertEqual(index.line(for: "general.hosts"), 3)
        XCTAssertEqual(index.line(for: "general.hosts[2]"), 3)
        XCTAssertEqual(index.line(for: "listen.http[1]"), 5)
        XCTAssertEqual(index.line(for: "listen.http[1].port"), 6)
        XCTAssertEqual(index.line(for: "listen.http[1].quoted.key"), 7)
        XCTAssertEqual(index.line(for: "listen.http[1].tls"), 8)
        XCTAssertEqual(index.line(for: "listen.http[1].tls.certfile"), 8)
        XCTAssertEqual(index.line(for: "listen.http[1].tls.keyfile"), 8)
        XCTAssertEqual(index.line(for: "listen.http[1].handlers.mod_bosh[1].host"), 11)
        XCTAssertEqual(index.line(for: "listen.http[2].port"), 13)
        XCTAssertEqual(index.line(for: "listen.http[2].handlers.mod_bosh[1]"), 14)
        XCTAssertEqual(index.line(for: "listen.http[2].handlers.mod_bosh[1].path"), 15)
        XCTAssertNil(index.lines["listen.http[2].handlers.mod_bosh[1].not"])
        XCTAssertEqual(index.line(for: "listen.http[2].handlers.mod_bosh[2].host"), 19)
        XCTAssertNil(index.line(for: "nothing.here"))
    }

    func testGarbageNeverCrashes() {
        let samples = ["[", "[[", "]]", "\"", "'''", "\"\"\"", "a.", "a = [", "a = {", "= 1", ".", "[a.]",
                       "[[a]]\n[a.b", "x = \"\\", "k = '''\n", "k = \"\"\"\\", "\u{0}", "[\n", "[[ ,", "a = [\n  }\n]", "a = [1, }]", "a = [{b = [}]}]", "[\"a\nb\"]", "a = ]]]]"]
        for sample in samples {
            _ = KeyLineIndex(source: sample)
            _ = try? parse(sample)
        }
        var generator = SplitMix64(seed: 42) // deterministic, so a failure reproduces
        let alphabet = Array("[]{}\"'.=#\\ \nab_1,")
        for _ in 0..<500 {
            let text = String((0..<Int.random(in: 0..<60, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            _ = KeyLineIndex(source: text)
            _ = try? parse(text)
        }
    }
}

/// Small seeded PRNG for reproducible fuzzing.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs the parser over samples from a file (separated by U+0001); used by an external
/// fuzz driver, since an abort inside toml++ kills the whole test process.
final class FuzzDriverTests: XCTestCase {
    func testParseFromEnvironment() {
        guard let path = ProcessInfo.processInfo.environment["XMPPCONFIG_FUZZ_FILE"],
              let text = try? String(contentsOfFile: path, encoding: .utf8) else { return }
        for sample in text.components(separatedBy: "\u{1}") { _ = try? parse(sample) }
    }
}
