import XCTest
@testable import XMPPConfig

/// [acl], [access] and [shaper] as MongooseIM documents them, and their evaluation.
final class AccessControlTests: XCTestCase {
    private let text = generalHeader + """
    [acl]
      blocked = [{user = "mallory"}, {user_regexp = "^spam"}]
      admin = [{user = "alice", server = "localhost"}]
      testers = [{user_glob = "test*"}]
      everyone = [{match = "all"}]
    [access]
      c2s = [{acl = "blocked", value = "deny"}, {acl = "all", value = "allow"}]
      c2s_shaper = [{acl = "admin", value = "none"}, {acl = "all", value = "normal"}]
      max_user_offline_messages = [{acl = "admin", value = 5000}, {acl = "all", value = 100}]
      testers_only = [{acl = "testers", value = "allow"}]
    [shaper]
      normal = {max_rate = 1000}
      fast = {max_rate = 50_000}

    [[listen.c2s]]
      port = 5222
      access = "c2s"
      shaper = "c2s_shaper"
    """

    func testRulesEvaluateInOrderWithDenyByDefault() throws {
        let config = try parse(text)
        let rules = AccessRules(config: config.accessControl, hosts: config.hosts)
        XCTAssertTrue(rules.allows("c2s", local: "bob", domain: "localhost"))
        XCTAssertFalse(rules.allows("c2s", local: "mallory", domain: "localhost"))
        XCTAssertFalse(rules.allows("c2s", local: "spammer", domain: "localhost"))
        XCTAssertEqual(rules.evaluate("max_user_offline_messages", local: "alice", domain: "localhost"), .int(5000))
        XCTAssertEqual(rules.evaluate("max_user_offline_messages", local: "bob", domain: "localhost"), .int(100))
        XCTAssertTrue(rules.allows("testers_only", local: "tester1", domain: "localhost"))
        XCTAssertFalse(rules.allows("testers_only", local: "atester", domain: "localhost"))
        XCTAssertEqual(rules.evaluate("undefined_rule", local: "bob", domain: "localhost"), .deny)
        XCTAssertTrue(rules.allows("all", local: "mallory", domain: "localhost"))
        XCTAssertFalse(rules.allows("none", local: "alice", domain: "localhost"))
    }

    func testShaperRulesGiveShapers() throws {
        let config = try parse(text)
        let rules = AccessRules(config: config.accessControl, hosts: config.hosts)
        XCTAssertNil(rules.shaper(forRule: "c2s_shaper", local: "alice", domain: "localhost"))
        XCTAssertEqual(rules.shaper(forRule: "c2s_shaper", local: "bob", domain: "localhost")?.maxRate, 1000)
        XCTAssertEqual(config.accessControl.shapers["fast"]?.maxRate, 50_000)
    }

    func testListenerMustNameDefinedRules() {
        assertError(generalHeader + "[[listen.c2s]]\n  port = 5222\n  access = \"c2s\"\n", line: 5,
                    keyPath: "listen.c2s[1].access", contains: ["access rule \"c2s\" is not defined in [access]"])
        assertError(generalHeader + "[[listen.service]]\n  port = 8888\n  password = \"x\"\n  shaper_rule = \"fast\"\n",
                    line: 6, keyPath: "listen.service[1].shaper_rule", contains: ["shaper \"fast\" is not defined in [shaper]"])
    }

    func testBadPatternsAndClauses() {
        assertError(generalHeader + "[acl]\n  x = [{usr = \"a\"}]\n", line: 4, keyPath: "acl.x[1].usr", contains: ["unknown key"])
        assertError(generalHeader + "[acl]\n  x = [{user_regexp = \"(\"}]\n", line: 4, keyPath: "acl.x[1].user_regexp",
                    contains: ["expected a valid regular expression"])
        assertError(generalHeader + "[access]\n  r = [{acl = \"all\"}]\n", line: 4, keyPath: "acl.r[1].value".replacingOccurrences(of: "acl.", with: "access."),
                    contains: ["missing mandatory key"])
        assertError(generalHeader + "[shaper]\n  s = {max_rate = 0}\n", line: 4, keyPath: "shaper.s.max_rate",
                    contains: ["expected a positive integer"])
    }
}
