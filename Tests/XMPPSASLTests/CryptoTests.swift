import XCTest
@testable import XMPPSASL

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }

final class CryptoTests: XCTestCase {
    func testSHAVectors() {
        XCTAssertEqual(hex(SASLCrypto.sha1(utf8("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(hex(SASLCrypto.sha256(utf8("abc"))),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(hex(SASLCrypto.sha1([])), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    }

    func testHMACVectors() {
        // RFC 2202 / RFC 4231 test case 2.
        let key = utf8("Jefe"), data = utf8("what do ya want for nothing?")
        XCTAssertEqual(hex(SASLCrypto.hmac(.sha1, key: key, data: data)), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
        XCTAssertEqual(hex(SASLCrypto.hmac(.sha256, key: key, data: data)),
                       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    func testPBKDF2Vectors() {
        // RFC 6070 (SHA-1) and the widely published SHA-256 equivalents.
        let p = utf8("password"), s = utf8("salt")
        XCTAssertEqual(hex(SASLCrypto.pbkdf2(.sha1, password: p, salt: s, iterations: 1)),
                       "0c60c80f961f0e71f3a9b524af6012062fe037a6")
        XCTAssertEqual(hex(SASLCrypto.pbkdf2(.sha1, password: p, salt: s, iterations: 4096)),
                       "4b007901b765489abead49d926f721d065a429c1")
        XCTAssertEqual(hex(SASLCrypto.pbkdf2(.sha256, password: p, salt: s, iterations: 1)),
                       "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b")
        XCTAssertEqual(hex(SASLCrypto.pbkdf2(.sha256, password: p, salt: s, iterations: 4096)),
                       "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a")
    }

    func testRandomAndConstantTime() {
        let a = SASLCrypto.randomBytes(32), b = SASLCrypto.randomBytes(32)
        XCTAssertEqual(a.count, 32)
        XCTAssertNotEqual(a, b)
        XCTAssertTrue(SASLCrypto.constantTimeEqual(a, a))
        XCTAssertFalse(SASLCrypto.constantTimeEqual(a, b))
        XCTAssertFalse(SASLCrypto.constantTimeEqual(a, Array(a.prefix(31))))
        XCTAssertTrue(SASLCrypto.constantTimeEqual([], []))
    }

    func testBase64() {
        // RFC 4648 §10 vectors.
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==",
                       "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            XCTAssertEqual(Base64.encode(utf8(plain)), encoded)
            XCTAssertEqual(Base64.decode(encoded), utf8(plain))
        }
        let all = (0...255).map { UInt8($0) }
        XCTAssertEqual(Base64.decode(Base64.encode(all)), all)
    }

    func testBase64RejectsInvalid() {
        for bad in ["Zg", "Zg=", "Z===", "Zm9v\n", " Zm9v", "Zm9v!A==", "Zg==Zg==", "=Zg=", "Zh==", "Zm9=",
                    "Zm-v", "Zm_v"] {
            XCTAssertNil(Base64.decode(bad), "should reject \(bad.debugDescription)")
        }
    }

    func testSASLPayload() {
        XCTAssertEqual(try SASLPayload.decode("").get(), nil as [UInt8]?)
        XCTAssertEqual(try SASLPayload.decode("=").get(), [])
        XCTAssertEqual(try SASLPayload.decode("Zm9v").get(), utf8("foo"))
        guard case .failure(.incorrectEncoding) = SASLPayload.decode("Zm9") else { return XCTFail() }
        XCTAssertEqual(SASLPayload.encode([]), "=")
    }

    func testCredentialsDeriveAndGenerate() throws {
        let c = SCRAMCredentials.generate(password: "secret", iterations: 10, hash: .sha256)
        XCTAssertEqual(c.salt.count, 16)
        XCTAssertEqual(c.storedKey.count, 32)
        XCTAssertTrue(c.verify(password: "secret"))
        XCTAssertFalse(c.verify(password: "Secret"))
        XCTAssertEqual(c, SCRAMCredentials.derive(password: "secret", salt: c.salt, iterations: 10, hash: .sha256))
        let json = try JSONEncoder().encode(c)
        XCTAssertEqual(try JSONDecoder().decode(SCRAMCredentials.self, from: json), c)
        XCTAssertEqual(SCRAMHash.sha1.mechanismName, "SCRAM-SHA-1")
        XCTAssertEqual(SCRAMHash(mechanismName: "SCRAM-SHA-256"), .sha256)
    }

    func testSASLprepMapsSpacesAndNormalises() {
        XCTAssertEqual(SASLprep.prepare("pencil"), "pencil")
        XCTAssertEqual(SASLprep.prepare("I\u{00AD}X"), "IX")          // RFC 4013 §3 example 1
        XCTAssertEqual(SASLprep.prepare("\u{00AA}"), "a")               // example 3
        XCTAssertEqual(SASLprep.prepare("\u{2168}"), "IX")              // example 5
        XCTAssertEqual(SASLprep.prepare("a\u{00A0}b"), "a b")
    }
}
