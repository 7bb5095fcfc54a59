/// A fatal condition in xmppd's TLS 1.3 record layer: the alert (RFC 8446 §6) we send
/// before closing, with a reason for the log.
enum TLS13Alert: Error, CustomStringConvertible {
    case unexpectedMessage(String)
    case badRecordMAC
    case recordOverflow
    case decodeError(String)
    /// The peer ended the connection with an error alert of its own.
    case peerAlert(UInt8)

    /// The AlertDescription byte we send; nil when the peer's alert ended the connection.
    var code: UInt8? {
        switch self {
        case .unexpectedMessage: return 10
        case .badRecordMAC: return 20
        case .recordOverflow: return 22
        case .decodeError: return 50
        case .peerAlert: return nil
        }
    }

    var description: String {
        switch self {
        case .unexpectedMessage(let what): return "unexpected message: \(what)"
        case .badRecordMAC: return "bad record MAC (a record failed to decrypt)"
        case .recordOverflow: return "record overflow"
        case .decodeError(let what): return "decode error: \(what)"
        case .peerAlert(let code): return "the peer sent alert \(code)"
        }
    }
}
