import XCTest
@testable import XMPPSASL

/// Drives a mechanism and returns challenge bytes, failing the test on anything else.
func expectChallenge(_ step: SASLStep, file: StaticString = #filePath, line: UInt = #line) -> [UInt8]? {
    if case .challenge(let bytes) = step { return bytes }
    XCTFail("expected challenge, got \(step)", file: file, line: line)
    return nil
}

func expectFailure(_ step: SASLStep, _ failure: SASLFailure, file: StaticString = #filePath, line: UInt = #line) {
    if case .failure(let got, _) = step, got == failure { return }
    XCTFail("expected failure \(failure), got \(step)", file: file, line: line)
}

final class SCRAMTests: XCTestCase {
    // RFC 5802 §5
    let sha1Salt = Base64.decode("QSXCR+Q6sek8bf92")!
    let sha1ClientFirst = "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
    let sha1ServerFirst = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"
    let sha1ClientFinal = "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
    let sha1ServerFinal = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="

    // RFC 7677 §3
    let sha256Salt = Base64.decode("W22ZaJ0SNY7soEsUEjb6gQ==")!
    let sha256ClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    let sha256ServerFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    let sha256ClientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    let sha256ServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

    func sha1Server(lookup: CredentialLookup? = nil, domain: String? = nil) -> SCRAMServer {
        let creds = SCRAMCredentials.derive(password: "pencil", salt: sha1Salt, iterations: 4096, hash: .sha1)
        return SCRAMServer(hash: .sha1, lookup: lookup ?? { $0 == "user" ? creds : nil },
                           domain: domain, serverNonce: { "3rfcNHYJY1ZVvWVs7j" })
    }

    func sha256Server() -> SCRAMServer {
        let creds = SCRAMCredentials.derive(password: "pencil", salt: sha256Salt, iterations: 4096, hash: .sha256)
        return SCRAMServer(hash: .sha256, lookup: { $0 == "user" ? creds : nil },
                           serverNonce: { "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" })
    }

    func testRFC5802Exchange() {
        let server = sha1Server()
        XCTAssertEqual(server.mechanismName, "SCRAM-SHA-1")
        guard let first = expectChallenge(server.start(initialResponse: utf8(sha1ClientFirst))) else { return }
        XCTAssertEqual(String(decoding: first, as: UTF8.self), sha1ServerFirst)
        guard case .success(let user, let data) = server.respond(utf8(sha1ClientFinal)) else {
            return XCTFail("expected success")
        }
        XCTAssertEqual(user, "user")
        XCTAssertEqual(data.map { String(decoding: $0, as: UTF8.self) }, sha1ServerFinal)
        // The exchange is over; further input is refused.
        expectFailure(server.respond(utf8(sha1ClientFinal)), .malformedRequest)
    }

    func testRFC7677Exchange() {
        let server = sha256Server()
        // Without an initial response the server first sends an empty challenge.
        XCTAssertEqual(expectChallenge(server.start(initialResponse: nil)), [])
        guard let first = expectChallenge(server.respond(utf8(sha256ClientFirst))) else { return }
        XCTAssertEqual(String(decoding: first, as: UTF8.self), sha256ServerFirst)
        guard case .success(let user, let data) = server.respond(utf8(sha256ClientFinal)) else {
            return XCTFail("expected success")
        }
        XCTAssertEqual(user, "user")
        XCTAssertEqual(data.map { String(decoding: $0, as: UTF8.self) }, sha256ServerFinal)
    }

    /// A real client computation, to test variants the RFC examples do not cover.
    func clientFinal(password: String, hash: SCRAMHash, clientFirstBare: String, gs2: String,
                     serverFirst: String) -> String {
        let attrs = Dictionary(uniqueKeysWithValues: serverFirst.split(separator: ",").map {
            (String($0.prefix(1)), String($0.dropFirst(2)))
        })
        let salted = SASLCrypto.pbkdf2(hash, password: utf8(password), salt: Base64.decode(attrs["s"]!)!,
                                       iterations: Int(attrs["i"]!)!)
        let clientKey = SASLCrypto.hmac(hash, key: salted, data: utf8("Client Key"))
        let storedKey = SASLCrypto.hash(hash, clientKey)
        let withoutProof = "c=\(Base64.encode(utf8(gs2))),r=\(attrs["r"]!)"
        let authMessage = "\(clientFirstBare),\(serverFirst),\(withoutProof)"
        let signature = SASLCrypto.hmac(hash, key: storedKey, data: utf8(authMessage))
        return withoutProof + ",p=" + Base64.encode(SASLCrypto.xor(clientKey, signature))
    }

    func testGS2YFlagAndAuthzidAndEscapedName() {
        let creds = SCRAMCredentials.derive(password: "pw", salt: [1, 2, 3], iterations: 16, hash: .sha256)
        let server = SCRAMServer(hash: .sha256, lookup: { $0 == "a,b=c" ? creds : nil }, domain: "example.com")
        let gs2 = "y,a=a=2Cb=3Dc@example.com,"
        let bare = "n=a=2Cb=3Dc,r=abcdef"
        guard let first = expectChallenge(server.start(initialResponse: utf8(gs2 + bare))) else { return }
        let serverFirst = String(decoding: first, as: UTF8.self)
        XCTAssertTrue(serverFirst.hasPrefix("r=abcdef"))
        XCTAssertTrue(serverFirst.hasSuffix(",s=AQID,i=16"))
        let final = clientFinal(password: "pw", hash: .sha256, clientFirstBare: bare, gs2: gs2, serverFirst: serverFirst)
        guard case .success(let user, _) = server.respond(utf8(final)) else { return XCTFail("expected success") }
        XCTAssertEqual(user, "a,b=c")
    }

    func testWrongPasswordIsNotAuthorized() {
        let server = sha1Server()
        guard let first = expectChallenge(server.start(initialResponse: utf8(sha1ClientFirst))) else { return }
        let final = clientFinal(password: "pencil2", hash: .sha1, clientFirstBare: "n=user,r=fyko+d2lbbFgONRv9qkxdawL",
                                gs2: "n,,", serverFirst: String(decoding: first, as: UTF8.self))
        expectFailure(server.respond(utf8(final)), .notAuthorized)
    }

    func testUnknownUserLooksLikeAKnownUser() {
        let server = sha1Server()
        let clientFirst = "n,,n=nobody,r=fyko+d2lbbFgONRv9qkxdawL"
        guard let first = expectChallenge(server.start(initialResponse: utf8(clientFirst))) else { return }
        let serverFirst = String(decoding: first, as: UTF8.self)
        // Same shape as for a real user: nonce, 16-byte salt, the default iteration count.
        let parts = serverFirst.split(separator: ",")
        XCTAssertEqual(parts.count, 3)
        XCTAssertEqual(Base64.decode(String(parts[1].dropFirst(2)))?.count, 16)
        XCTAssertEqual(parts[2], "i=4096")
        // Deterministic: a second probe sees the same salt, as for a real account.
        let again = sha1Server()
        let second = String(decoding: expectChallenge(again.start(initialResponse: utf8(clientFirst))) ?? [], as: UTF8.self)
        XCTAssertEqual(second.split(separator: ",")[1], parts[1])
        // Even a proof made with the fake salt fails, with the same error as a wrong password.
        let final = clientFinal(password: "pencil", hash: .sha1, clientFirstBare: "n=nobody,r=fyko+d2lbbFgONRv9qkxdawL",
                                gs2: "n,,", serverFirst: serverFirst)
        expectFailure(server.respond(utf8(final)), .notAuthorized)
    }

    func testCredentialsOfOtherHashCountAsUnknown() {
        let creds = SCRAMCredentials.derive(password: "pencil", salt: sha1Salt, iterations: 4096, hash: .sha1)
        let server = SCRAMServer(hash: .sha256, lookup: { _ in creds }, serverNonce: { "x" })
        guard let first = expectChallenge(server.start(initialResponse: utf8(sha256ClientFirst))) else { return }
        XCTAssertFalse(String(decoding: first, as: UTF8.self).contains("QSXCR+Q6sek8bf92"))
    }

    func testMalformedClientFirst() {
        let cases: [(String, SASLFailure)] = [
            ("p=tls-unique,,n=user,r=abc", .malformedRequest),     // channel binding refused
            ("x,,n=user,r=abc", .malformedRequest),
            ("n,,r=abc", .malformedRequest),                       // missing n=
            ("n,,n=user", .malformedRequest),                      // missing r=
            ("n,,n=user,r=", .malformedRequest),                   // empty nonce
            ("n,,n=us=2Xer,r=abc", .malformedRequest),             // bad saslname escape
            ("n,,m=ext,n=user,r=abc", .malformedRequest),          // mandatory extension
            ("n,,n=,r=abc", .malformedRequest),
            ("n,a=other@example.com,n=user,r=abc", .invalidAuthzid),
            ("n,a=user@example.com,n=user,r=abc", .invalidAuthzid),  // no domain configured
            ("", .malformedRequest),
        ]
        for (message, failure) in cases {
            expectFailure(sha1Server().start(initialResponse: utf8(message)), failure)
        }
        expectFailure(sha1Server().start(initialResponse: [0x6e, 0x2c, 0x2c, 0xff]), .incorrectEncoding)
        // Authzid equal to the user's bare JID is fine once the domain is known.
        _ = expectChallenge(sha1Server(domain: "example.com").start(initialResponse: utf8("n,a=user@example.com,n=user,r=abc")))
        // After a failure the exchange stays failed.
        let server = sha1Server()
        expectFailure(server.start(initialResponse: utf8("bogus")), .malformedRequest)
        expectFailure(server.respond(utf8(sha1ClientFirst)), .malformedRequest)
    }

    func testMalformedClientFinal() {
        let nonce = "fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j"
        let proof = "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        let cases: [(String, SASLFailure)] = [
            ("c=biws,r=\(nonce)", .malformedRequest),                        // missing proof
            ("r=\(nonce),\(proof)", .malformedRequest),                      // missing c=
            ("c=biws,\(proof)", .malformedRequest),                          // missing r=
            ("c=biws,r=\(nonce)x,\(proof)", .malformedRequest),              // nonce mismatch
            ("c=biws,r=fyko+d2lbbFgONRv9qkxdawL,\(proof)", .malformedRequest),
            ("c=eSws,r=\(nonce),\(proof)", .malformedRequest),               // "y,," vs "n,,"
            ("c=cD10bHMtdW5pcXVlLCw=,r=\(nonce),\(proof)", .malformedRequest), // p=tls-unique,,
            ("c=biws!,r=\(nonce),\(proof)", .incorrectEncoding),
            ("c=biws,r=\(nonce),p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts", .incorrectEncoding),
            ("c=biws,r=\(nonce),p=AAAA", .notAuthorized),                    // short proof
            ("c=biws,r=\(nonce),\(proof),x=1", .malformedRequest),           // proof not last
        ]
        for (message, failure) in cases {
            let server = sha1Server()
            _ = expectChallenge(server.start(initialResponse: utf8(sha1ClientFirst)))
            expectFailure(server.respond(utf8(message)), failure)
        }
        // An extension before the proof is allowed by the grammar but the proof then covers it,
        // so the RFC example proof no longer verifies.
        let server = sha1Server()
        _ = expectChallenge(server.start(initialResponse: utf8(sha1ClientFirst)))
        expectFailure(server.respond(utf8("c=biws,r=\(nonce),x=1,\(proof)")), .notAuthorized)
    }

    func testOutOfOrderCalls() {
        expectFailure(sha1Server().respond(utf8(sha1ClientFirst)), .malformedRequest)  // respond before start
        let server = sha1Server()
        _ = expectChallenge(server.start(initialResponse: nil))
        expectFailure(server.start(initialResponse: nil), .malformedRequest)            // second start
        expectFailure(sha1Server().start(initialResponse: []), .malformedRequest)       // empty client-first
    }

    func testYFlagNeedsMatchingBinding() {
        let server = sha1Server()
        _ = expectChallenge(server.start(initialResponse: utf8("y,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")))
        // The client-final carries "biws" (n,,) although the header was y,, → refused.
        expectFailure(server.respond(utf8(sha1ClientFinal)), .malformedRequest)
    }
}
