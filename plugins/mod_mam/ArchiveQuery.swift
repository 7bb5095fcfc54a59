import Foundation
import XMPPCore

/// A XEP-0313 query of one user's archive: XEP-0004 form filters and XEP-0059 paging.
struct ArchiveQuery: Sendable {
    struct Page: Sendable {
        var max: Int
        /// Items after this stanza id.
        var after: String?
        /// Items before this stanza id; "" asks for the last page.
        var before: String?
        var index: Int?
    }

    var owner: JID
    var queryID: String?
    var with: JID?
    var start: Int64?
    var end: Int64?
    var afterID: String?
    var beforeID: String?
    /// `full-text-search`: the words every result's body contains, in any order.
    var searchWords: [String] = []
    var page: Page

    struct Invalid: Error { let text: String }

    static let dataForms = "jabber:x:data"
    static let rsm = "http://jabber.org/protocol/rsm"
    static let fields = ["with", "start", "end", "before-id", "after-id"]
    /// MongooseIM's extension field, offered with `full_text_search` (the default).
    static let fullTextSearch = "full-text-search"

    /// Reads `<query xmlns='urn:xmpp:mam:2'>`; throws `Invalid` for a bad request.
    init(_ query: XMLElement, owner: JID, defaultMax: Int, maxLimit: Int, fullTextSearch: Bool = true) throws {
        self.owner = owner
        queryID = query[attribute: "queryid"]
        page = Page(max: defaultMax)
        if let form = query.child("x", namespace: Self.dataForms) {
            for field in form.children("field", namespace: Self.dataForms) {
                guard let name = field[attribute: "var"] else { continue }
                let value = field.child("value", namespace: Self.dataForms)?.text.trimmingCharacters(in: .whitespaces) ?? ""
                switch name {
                case "FORM_TYPE":
                    guard value == ModMAM.namespace else { throw Invalid(text: "FORM_TYPE must be \(ModMAM.namespace)") }
                case "with":
                    guard let jid = JID(value) else { throw Invalid(text: "'with' is not a JID") }
                    with = jid
                case "start":
                    guard let time = Timestamps.parse(value) else { throw Invalid(text: "'start' is not a XEP-0082 date-time") }
                    start = time
                case "end":
                    guard let time = Timestamps.parse(value) else { throw Invalid(text: "'end' is not a XEP-0082 date-time") }
                    end = time
                case "after-id": afterID = value
                case "before-id": beforeID = value
                case Self.fullTextSearch where fullTextSearch:
                    searchWords = value.split(whereSeparator: \.isWhitespace).map(String.init)
                default:
                    throw Invalid(text: "unsupported field '\(name)'")
                }
            }
        }
        if let set = query.child("set", namespace: Self.rsm) {
            if let max = set.child("max", namespace: Self.rsm) {
                guard let n = Int(max.text.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                    throw Invalid(text: "<max/> must be a non-negative integer")
                }
                page.max = min(n, maxLimit)
            }
            page.after = set.child("after", namespace: Self.rsm).map { $0.text.trimmingCharacters(in: .whitespaces) }
            page.before = set.child("before", namespace: Self.rsm).map { $0.text.trimmingCharacters(in: .whitespaces) }
            if let index = set.child("index", namespace: Self.rsm) {
                guard let n = Int(index.text.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                    throw Invalid(text: "<index/> must be a non-negative integer")
                }
                page.index = n
            }
            if page.after?.isEmpty == true { throw Invalid(text: "<after/> needs an id") }
        }
    }
}

/// What a query returns: one page, and where it sits in the whole result set.
struct ArchivePage: Sendable {
    var rows: [ArchiveRow]
    var count: Int
    var firstIndex: Int?
    var complete: Bool
}
