import Foundation
import NIOHTTP1
import XMPPCore

/// One answer of the REST handlers (admin and client API).
struct RESTResponse {
    var status: HTTPResponseStatus
    var body: String
    var headers: [(String, String)] = [("Content-Type", "application/json")]

    static let noContent = RESTResponse(status: .noContent, body: "")

    /// Missing or wrong HTTP Basic credentials (realm as MongooseIM's).
    static let unauthorized = RESTResponse(status: .unauthorized, body: JSONBody.encode("authentication required"),
                                           headers: [("Content-Type", "application/json"),
                                                     ("WWW-Authenticate", "Basic realm=\"mongooseim\"")])
}

/// A request the REST handlers refuse, with the reason as a JSON string.
enum APIError: Error {
    case badRequest(String)
    case notFound(String)
    case conflict(String)

    var response: RESTResponse {
        switch self {
        case .badRequest(let text): return RESTResponse(status: .badRequest, body: JSONBody.encode(text))
        case .notFound(let text): return RESTResponse(status: .notFound, body: JSONBody.encode(text))
        case .conflict(let text): return RESTResponse(status: .conflict, body: JSONBody.encode(text))
        }
    }
}

extension RESTResponse {
    static let noRoster = APIError.notFound("no roster (enable mod_roster)").response

    /// The answer to a roster change made for either API.
    static func roster(_ outcome: APIBackend.RosterOutcome) -> RESTResponse {
        switch outcome {
        case .done: return .noContent
        case .notFound: return APIError.notFound("no such user or contact").response
        case .failed(let condition): return APIError.badRequest(condition).response
        case .noModule: return noRoster
        }
    }
}

enum JSONBody {
    /// A JID from the request (path, query or body); 400 if it is none.
    static func jid(_ text: String) throws -> JID {
        guard let jid = JID(text) else { throw APIError.badRequest("not a valid JID: \(text)") }
        return jid
    }

    static func encode(_ value: Any) -> String {
        let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    static func object(_ body: String, expecting what: String) throws -> [String: Any] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            throw APIError.badRequest("the body must be a JSON object with \(what)")
        }
        return object
    }

    /// The named string fields of a JSON object body, in order.
    static func fields(_ body: String, _ names: String...) throws -> [String] {
        let object = try object(body, expecting: names.joined(separator: ", "))
        return try names.map { name in
            guard let value = object[name] as? String, !value.isEmpty else {
                throw APIError.badRequest("missing \(name) (a non-empty string)")
            }
            return value
        }
    }

    /// The query string of `uri` as a dictionary (the last of repeated names wins).
    static func queryItems(_ uri: String) -> [String: String] {
        let items = URLComponents(string: uri)?.queryItems ?? []
        return Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
    }

    static func integer(_ text: String?, name: String) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text) else { throw APIError.badRequest("\(name) must be an integer") }
        return value
    }

    /// HTTP Basic credentials: "user:password" decoded, if the header has them.
    static func basicCredentials(_ header: String?) -> (user: String, password: String)? {
        guard let header, header.lowercased().hasPrefix("basic "),
              let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: decoded, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}
