import XCTest
@testable import XMPPCore

final class RestrictedXMLTests: XCTestCase {
    private func assertCondition(_ input: String, _ condition: String, file: StaticString = #filePath, line: UInt = #line) {
        for chunk in [nil, 1] as [Int?] {
            let (_, error) = parse(input, chunk: chunk)
            XCTAssertEqual(error?.condition, condition, "chunk \(String(describing: chunk)): \(String(describing: error))", file: file, line: line)
        }
    }

    func testDoctype() {
        assertCondition("<?xml version='1.0'?><!DOCTYPE stream:stream>" + clientHeader, "restricted-xml")
    }

    func testDoctypeWithEntityDeclaration() {
        assertCondition("<!DOCTYPE x [<!ENTITY lol 'lol'>]><x/>", "restricted-xml")
    }

    func testComment() {
        assertCondition(clientHeader + "<!-- hi -->", "restricted-xml")
        assertCondition(clientHeader + "<message><!-- hi --></message>", "restricted-xml")
    }

    func testProcessingInstruction() {
        assertCondition(clientHeader + "<?foo bar?>", "restricted-xml")
        assertCondition("<?foo bar?>" + clientHeader, "restricted-xml")
    }

    func testUndeclaredEntityReference() {
        assertCondition(clientHeader + "<message><body>&nbsp;</body></message>", "restricted-xml")
        assertCondition(clientHeader + "<message to='&foo;'/>", "restricted-xml")
    }

    func testPredefinedEntitiesAndCharacterReferencesAllowed() {
        let (events, error) = parse(clientHeader + "<message a='&quot;&apos;'><body>&amp;&lt;&gt;&#65;&#x42;</body></message>")
        XCTAssertNil(error)
        guard case .element(let m) = events[1] else { return XCTFail() }
        XCTAssertEqual(m[attribute: "a"], "\"'")
        XCTAssertEqual(m.child("body")?.text, "&<>AB")
    }

    func testXMLDeclarationAllowedOnlyAtStart() {
        XCTAssertNil(parse(clientHeader).error)
        XCTAssertNotNil(parse(clientHeader + "<?xml version='1.0'?>").error)
    }

    func testMalformed() {
        assertCondition(clientHeader + "<a></b>", "not-well-formed")
        assertCondition("garbage\n", "not-well-formed")   // expat waits for the name to end
        assertCondition(clientHeader + "<<<", "not-well-formed")
        assertCondition(clientHeader + "<message to='x' to='y'/>", "not-well-formed")
        assertCondition(clientHeader + "<foo:bar/>", "not-well-formed")   // unbound prefix
        let (_, error) = parse(clientHeader + "<a></b>")
        guard case .notWellFormed(let detail)? = error else { return XCTFail() }
        XCTAssertTrue(detail.contains("byte"), detail)
    }

    func testInvalidUTF8() {
        let p = XMLStreamParser()
        XCTAssertThrowsError(try p.feed(Array(clientHeader.utf8) + [UInt8(ascii: "<"), 0x61, 0xFF, 0xFE, UInt8(ascii: "/"), UInt8(ascii: ">")]) { _ in }) {
            XCTAssertEqual(($0 as? XMLStreamError)?.condition, "not-well-formed")
        }
    }
}
