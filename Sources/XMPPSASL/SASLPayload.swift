/// The XMPP wire form of SASL data (RFC 6120 §6.4.2): element text is base64, and a
/// single "=" stands for an empty payload. Keeps that rule in one place for the stream code.
public enum SASLPayload {
    /// Decodes the text of <auth/> or <response/>. Returns `.success(nil)` for no text
    /// (no initial response), `.success([])` for "=", `.failure(.incorrectEncoding)` for bad base64.
    public static func decode(_ text: String) -> Result<[UInt8]?, SASLFailure> {
        if text.isEmpty { return .success(nil) }
        if text == "=" { return .success([]) }
        guard let bytes = Base64.decode(text) else { return .failure(.incorrectEncoding) }
        return .success(bytes)
    }

    /// Encodes a payload for <challenge/> or <success/>; empty data becomes "=".
    public static func encode(_ bytes: [UInt8]) -> String {
        bytes.isEmpty ? "=" : Base64.encode(bytes)
    }
}
