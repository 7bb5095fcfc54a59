import Foundation
import XCTest

/// Test certificates made with the `openssl` CLI in a fresh temp directory (no key material
/// in the repository): a CA, a server cert for localhost, client certs (trusted, revoked,
/// signed by another CA), a CRL revoking one, and DH parameters.
final class TestPKI {
    let directory: String

    static let script = #"""
    set -e
    ec="-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
    openssl req -x509 $ec -subj "/CN=Test CA" -days 30 -keyout ca.key -out ca.pem 2>/dev/null
    openssl req -x509 $ec -subj "/CN=Other CA" -days 30 -keyout other-ca.key -out other-ca.pem 2>/dev/null
    leaf() {
      openssl req ${5:-$ec} -subj "$2" -keyout $1.key -out $1.csr 2>/dev/null
      printf "subjectAltName=%s\nbasicConstraints=CA:FALSE\n" "$3" > $1.ext
      openssl x509 -req -in $1.csr -CA $4.pem -CAkey $4.key -CAcreateserial -days 30 -extfile $1.ext -out $1.crt 2>/dev/null
      cat $1.crt $1.key > $1.pem
    }
    leaf server "/CN=localhost" "DNS:localhost,DNS:xmpp.localhost" ca
    leaf rsa-server "/CN=localhost" "DNS:localhost" ca "-newkey rsa:2048 -nodes"
    leaf client "/CN=alice" "otherName:1.3.6.1.5.5.7.8.5;UTF8:alice@localhost,DNS:client.localhost" ca
    leaf revoked "/CN=mallory" "otherName:1.3.6.1.5.5.7.8.5;UTF8:mallory@localhost" ca
    leaf stranger "/CN=eve" "otherName:1.3.6.1.5.5.7.8.5;UTF8:eve@localhost" other-ca
    printf "[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\ndefault_md=sha256\ndefault_crl_days=30\n" > ca.cnf
    : > index.txt; echo 01 > crlnumber
    openssl ca -config ca.cnf -keyfile ca.key -cert ca.pem -revoke revoked.crt 2>/dev/null
    openssl ca -config ca.cnf -keyfile ca.key -cert ca.pem -gencrl -out crl.pem 2>/dev/null
    openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out dh.pem 2>/dev/null
    echo "not a PEM file" > garbage.pem
    """#

    init() throws {
        directory = NSTemporaryDirectory() + "xmpptls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let (status, output) = try Shell.run(Self.script, in: directory)
        guard status == 0 else { throw NSError(domain: "TestPKI", code: Int(status), userInfo: [NSLocalizedDescriptionKey: output]) }
    }

    func path(_ name: String) -> String { directory + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: directory) }
}

enum Shell {
    /// Runs `sh -c script` in `directory`; returns exit status and combined output.
    static func run(_ script: String, in directory: String? = nil) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
