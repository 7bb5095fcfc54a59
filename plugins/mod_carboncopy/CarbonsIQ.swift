import XMPPCore
import XMPPModuleAPI

/// `<iq type='set'><enable|disable xmlns='urn:xmpp:carbons:2'/></iq>` to the user's
/// own bare JID (XEP-0280 §4, §5).
enum CarbonsIQ {
    static func handle(_ request: IQRequest, state: CarbonsState) {
        guard request.type == "set", let payload = request.payload,
              payload.name == "enable" || payload.name == "disable" else {
            return request.fail("bad-request", "modify")
        }
        guard request.to == request.from.bare else { return request.fail("forbidden", "auth") }
        state.set(request.from, enabled: payload.name == "enable")
        request.reply(nil)
    }
}
