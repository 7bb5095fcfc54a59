import Foundation

/// A handler path in Cowboy's route syntax, as MongooseIM's configuration writes them:
/// literal segments, `:name` (one segment, bound to `name`), `[:name]` (an optional
/// trailing segment) and `[...]` (any rest), e.g. "/api/messages/[:with]".
struct CowboyPath: Sendable {
    private enum Segment: Sendable {
        case literal(String)
        case binding(String)
        case optionalBinding(String)
        case rest
    }

    private let segments: [Segment]

    init(_ pattern: String) {
        segments = pattern.split(separator: "/").map { part in
            if part == "[...]" { return .rest }
            if part.hasPrefix("[:"), part.hasSuffix("]") { return .optionalBinding(String(part.dropFirst(2).dropLast())) }
            if part.hasPrefix(":") { return .binding(String(part.dropFirst())) }
            return .literal(String(part))
        }
    }

    /// The bindings if `path` (without a query string) matches, else nil. Bound
    /// segments are percent-decoded.
    func match(_ path: String) -> [String: String]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var bindings: [String: String] = [:]
        var index = 0
        for segment in segments {
            switch segment {
            case .rest:
                return bindings
            case .literal(let text):
                guard index < parts.count, parts[index] == text else { return nil }
            case .binding(let name):
                guard index < parts.count else { return nil }
                bindings[name] = parts[index].removingPercentEncoding ?? parts[index]
            case .optionalBinding(let name):
                guard index < parts.count else { continue }
                bindings[name] = parts[index].removingPercentEncoding ?? parts[index]
            }
            index += 1
        }
        return index >= parts.count ? bindings : nil
    }
}
