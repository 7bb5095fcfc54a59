import XCTest
@testable import XMPPSASL

/// SCRAM-*-PLUS (RFC 5802 §6 channel binding) and EXTERNAL (XEP-0178), driven with a
/// client computed here from RFC 5802's definitions.
final class ChannelBindingTests: XCTestCase {
    let salt = Array("0123456789abcdef".utf8)
    let binding = Array(repeating: UInt8(0xAB), count: 32)

    private func server(plus: Bool, bindings: [String: [UInt8]]) -> SCRAMServer {
        let creds = SCRAMCredentials.derive(password: "pencil", salt: salt, iterations: 4096, hash: .sha256)
        return SCRAMServer(hash: .sha256, lookup: { $0 == "user" ? creds : nil }, plus: plus,
                           channelBindings: bindings, serverNonce: { "SERVER" })
    }

    /// A client-final for `gs2` with channel binding data `cbind`.
    private func clientFinal(gs2: String, cbind: [UInt8], serverFirst: String, clientFirstBare: String) -> [UInt8] {
        let nonce = String(serverFirst.split(separator: ",")[0].dropFirst(2))
        let withoutProof = "c=\(Base64.encode(Array(gs2.utf8) + cbind)),r=\(nonce)"
        let salted = SASLCrypto.pbkdf2(.sha256, password: Array("pencil".utf8), salt: salt, iterations: 4096)
        let clientKey = SASLCrypto.hmac(.sha256, key: salted, data: Array("Client Key".utf8))
        let storedKey = SASLCrypto.sha256(clientKey)
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let signature = SASLCrypto.hmac(.sha256, key: storedKey, data: authMessage)
        return Array("\(withoutProof),p=\(Base64.encode(SASLCrypto.xor(clientKey, signature)))".utf8)
    }

    private func exchange(_ server: SCRAMServer, gs2: String, cbind: [UInt8]) -> SASLStep {
        let bare = "n=user,r=CLIENT"
        guard case .challenge(let first) = server.start(initialResponse: Array((gs2 + bare).utf8)) else {
            return .failure(.malformedRequest, text: "no server-first")
        }
        return server.respond(clientFinal(gs2: gs2, cbind: cbind, serverFirst: String(decoding: first, as: UTF8.self),
                                          clientFirstBare: bare))
    }

    func testPlusSucceedsWithTheChannelsBindingData() {
        let plus = server(plus: true, bindings: ["tls-exporter": binding])
        XCTAssertEqual(plus.mechanismName, "SCRAM-SHA-256-PLUS")
        guard case .success(let user, _) = exchange(plus, gs2: "p=tls-exporter,,", cbind: binding) else {
            return XCTFail("expected success")
        }
        XCTAssertEqual(user, "user")
    }

    func testPlusFailsWithOtherBindingData() {
        let plus = server(plus: true, bindings: ["tls-exporter": binding])
        expectFailure(exchange(plus, gs2: "p=tls-exporter,,", cbind: Array(repeating: 0, count: 32)), .malformedRequest)
    }

    func testPlusRefusesUnknownTypesAndUnboundClients() {
        expectFailure(server(plus: true, bindings: ["tls-exporter": binding])
            .start(initialResponse: Array("p=tls-unique,,n=user,r=CLIENT".utf8)), .malformedRequest)
        expectFailure(server(plus: true, bindings: ["tls-exporter": binding])
            .start(initialResponse: Array("n,,n=user,r=CLIENT".utf8)), .malformedRequest)
    }

    func testDowngradeIsDetected() {
        // The client could bind ("y") while we offered -PLUS: someone removed it.
        expectFailure(server(plus: false, bindings: ["tls-exporter": binding])
            .start(initialResponse: Array("y,,n=user,r=CLIENT".utf8)), .notAuthorized)
        // Without TLS (nothing offered) "y" is an honest answer.
        XCTAssertNotNil(expectChallenge(server(plus: false, bindings: [:])
            .start(initialResponse: Array("y,,n=user,r=CLIENT".utf8))))
    }

    func testExternalUsesTheCertificatesIdentity() {
        let external = EXTERNALServer(certificateIdentities: ["Alice@localhost"], domain: "localhost") { $0 == "alice" }
        guard case .success(let user, _) = external.start(initialResponse: []) else { return XCTFail("expected success") }
        XCTAssertEqual(user, "alice")
        let named = EXTERNALServer(certificateIdentities: ["alice@localhost"], domain: "localhost") { _ in true }
        expectFailure(named.start(initialResponse: Array("bob@localhost".utf8)), .invalidAuthzid)
        let none = EXTERNALServer(certificateIdentities: [], domain: "localhost") { _ in true }
        expectFailure(none.start(initialResponse: []), .invalidAuthzid)
        let noAccount = EXTERNALServer(certificateIdentities: ["carol@localhost"], domain: "localhost") { _ in false }
        expectFailure(noAccount.start(initialResponse: []), .notAuthorized)
    }
}
