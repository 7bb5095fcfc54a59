import XMPPCore
import XMPPModuleAPI

/// iq get (the query form) and iq set (a query) to an archive's owner (the user's
/// own bare JID, or a room's), once the caller has checked the requester may read it.
enum MAMQueryHandler {
    static func handle(_ request: IQRequest, store: ArchiveStore, host: ModuleHost, archive: MAMOptions.Archive) {
        if let payload = request.payload, payload.name == "prefs" { return preferences(request) }
        guard let payload = request.payload, payload.name == "query" else { return request.fail("bad-request", "modify") }
        if request.type == "get" { return request.reply(MAMStanzas.form(fullTextSearch: archive.fullTextSearch)) }
        let query: ArchiveQuery
        do {
            query = try ArchiveQuery(payload, owner: request.to.bare, defaultMax: archive.defaultResultLimit,
                                     maxLimit: archive.maxResultLimit, fullTextSearch: archive.fullTextSearch)
        } catch {
            return request.fail("bad-request", "modify")
        }
        store.run(query) { outcome in
            switch outcome {
            case .success(let page):
                // Results first, then the iq result: both go through the requesting
                // session's delivery queue, so they arrive in this order.
                // Routed to a full JID that is gone, a result would fall back to the
                // bare JID (other resources, offline storage): only to a live session.
                let live = host.boundResources(of: request.from.bare).contains(request.from)
                for row in page.rows where live {
                    guard let message = XMLElement.parseStored(row.xml).first else { continue }
                    host.route(MAMStanzas.result(row, message: message, owner: query.owner, to: request.from,
                                                 queryID: query.queryID))
                }
                request.reply(MAMStanzas.fin(page))
            case .failure(ArchiveError.itemNotFound):
                request.fail("item-not-found", "cancel")
            case .failure(let error):
                host.logger.error("mod_mam: query failed: \(error)")
                request.fail("internal-server-error", "wait")
            }
        }
    }

    /// XEP-0313 §6 archiving preferences, as MongooseIM answers them without a
    /// `user_prefs_store`: everything is archived (`default='always'`, no lists), and
    /// changing that is not implemented.
    private static func preferences(_ request: IQRequest) {
        guard request.type == "get" else { return request.fail("feature-not-implemented", "cancel") }
        var prefs = XMLElement(name: "prefs", namespace: ModMAM.namespace, attributes: ["default": "always"])
        prefs.append(XMLElement(name: "always", namespace: ModMAM.namespace))
        prefs.append(XMLElement(name: "never", namespace: ModMAM.namespace))
        request.reply(prefs)
    }
}
