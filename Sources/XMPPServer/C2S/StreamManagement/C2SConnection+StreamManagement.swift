import Foundation
import NIOCore
import XMPPCore
import XMPPModuleAPI

/// XEP-0198 on a c2s connection: enable, acks both ways, suspension when the
/// connection drops, resumption (here or in another worker) and what happens to
/// unacked stanzas when a session ends for good.
extension C2SConnection {
    private typealias SM = StreamManagementState

    /// An element in urn:xmpp:sm:3 on an established session.
    func handleStreamManagement(_ element: XMLElement, session: SessionHandle) {
        switch element.name {
        case "enable":
            enableStreamManagement(element, session: session)
        case "r":
            guard let sm = streamManagement else { return sendNonza(SM.failed("unexpected-request")) }
            acknowledge(sm.handledInbound, session: session)
        case "a":
            guard let sm = streamManagement, let h = element[attribute: "h"].flatMap(UInt32.init) else { return }
            do {
                try sm.acked(h)
            } catch StreamManagementState.AckError.tooHigh(let sent) {
                // XEP-0198 §4: an h for stanzas never sent ends the stream.
                logger.info("client acked \(h) stanzas, \(sent) were sent")
                failStream("undefined-condition", text: "h=\(h) but only \(sent) stanzas were sent",
                           extra: SM.element("handled-count-too-high", ["h": String(h), "send-count": String(sent)]))
            } catch {}
        case "resume":
            // Resumption replaces binding: too late on a bound stream.
            sendNonza(SM.failed("unexpected-request"))
        default:
            failStream("unsupported-stanza-type")
        }
    }

    /// `<a h/>` says the server has the stanzas: those a module took for storage
    /// (offline, archive) are committed first, so none that was acked is lost to a
    /// kill -9 of this worker. Without such modules the answer goes out at once.
    private func acknowledge(_ handled: UInt32, session: SessionHandle) {
        let loop = session.eventLoop
        env.hooks.runAfterPendingWrites { [weak self] in
            if loop.inEventLoop { self?.sendNonza(SM.ack(handled)) } else { loop.execute { self?.sendNonza(SM.ack(handled)) } }
        }
    }

    private func enableStreamManagement(_ enable: XMLElement, session: SessionHandle) {
        guard var settings = env.modules.streamManagement else { return sendNonza(SM.failed("feature-not-implemented")) }
        // XEP-0198 §5: the client may ask for less time than we allow (`max`), never
        // more. (A session resumed in another worker gets that worker's setting.)
        if let wanted = enable[attribute: "max"].flatMap(Int.init), wanted > 0, wanted < settings.resumeTimeout {
            settings.resumeTimeout = wanted
        }
        guard streamManagement == nil else { return sendNonza(SM.failed("unexpected-request")) }
        let wantsResume = ["true", "1"].contains(enable[attribute: "resume"] ?? "")
        let id = wantsResume ? Self.makeResumptionID() : nil
        streamManagement = StreamManagementState(settings: settings, resumptionID: id)
        var enabled = SM.element("enabled")
        if let id, let loop = context?.eventLoop {
            env.resumption.register(id, connection: self, on: loop)
            enabled[attribute: "id"] = id
            enabled[attribute: "resume"] = "true"
            enabled[attribute: "max"] = String(settings.resumeTimeout)
        }
        sendNonza(enabled)
    }

    /// Counts a stanza sent to the client; asks for an ack when due, and ends the
    /// stream when the client lets too many go unacked (MongooseIM: buffer_max).
    func countSent(_ stanza: XMLElement, by sm: StreamManagementState) {
        if sm.sent(stanza) && context != nil { sendNonza(SM.element("r")) }
        if sm.bufferOverflowed {
            logger.info("client has not acked \(sm.unacked.count) stanzas; closing")
            if context == nil {
                resumptionExpired()
            } else {
                failStream("resource-constraint", text: "too many unacked stanzas")
            }
        }
    }

    // MARK: suspension

    /// The TCP connection is gone without a closing `</stream:stream>`: a resumable
    /// session waits `resume_timeout` for its client; any other session ends.
    func connectionLost(_ session: SessionHandle) {
        guard let sm = streamManagement, let id = sm.resumptionID else {
            sessionEnded(session)
            state = .closed
            return
        }
        logger.info("connection lost; session \(session.jid) kept \(sm.settings.resumeTimeout) s for resumption")
        env.resumption.markSuspended(id)
        parser.hibernate()
        suspendTimer = session.eventLoop.scheduleTask(in: .seconds(Int64(sm.settings.resumeTimeout))) { [self] in
            logger.info("session \(session.jid) was not resumed in time")
            resumptionExpired()
        }
    }

    /// A suspended session's time is up (or its worker stops, or a new bind of
    /// its full JID replaced it): it ends for good.
    func resumptionExpired() {
        guard case .established(let session) = state, context == nil else { return }
        sessionEnded(session)
        state = .closed
    }

    /// Session end with stream management: the id is forgotten (its `h` kept with
    /// `stale_h`), and messages the client never acked are routed again to the
    /// user's bare JID, as MongooseIM reroutes its buffer: another resource or
    /// offline storage gets them, so an ended session loses nothing. Not errors, and
    /// not carbons (from the user's own bare JID): the other resources had theirs.
    func streamManagementEnded(_ session: SessionHandle) {
        suspendTimer?.cancel()
        suspendTimer = nil
        guard let sm = streamManagement else { return }
        streamManagement = nil
        if let id = sm.resumptionID {
            env.resumption.remove(id, staleH: sm.settings.staleH ? sm.handledInbound : nil,
                                  keepFor: sm.settings.staleHGeriatric)
        }
        let ownBareJID = session.jid.bare.description
        for stanza in sm.takeUnacked() where stanza.name == "message" {
            guard stanza[attribute: "type"] != "error", stanza[attribute: "from"] != ownBareJID,
                  let to = stanza[attribute: "to"].flatMap(JID.init) else { continue }
            _ = env.router.route(stanza, to: to.bare)
        }
    }

    // MARK: resumption

    /// `<resume/>` instead of binding: find the session (here or in another worker)
    /// and continue it on this connection.
    func startResume(_ resume: XMLElement, user: JID) {
        guard env.modules.streamManagement != nil else { return sendNonza(SM.failed("feature-not-implemented")) }
        guard let id = resume[attribute: "previd"], let h = resume[attribute: "h"].flatMap(UInt32.init),
              let context else {
            return sendNonza(SM.failed("bad-request"))
        }
        state = .resuming(user: user)
        let loop = context.eventLoop
        let mailbox = env.mailboxes.mailbox(for: loop)
        let registry = env.registry
        let router = env.router
        env.resumption.resume(ResumeRequest(
            resumptionID: id, user: user.bare, clientHandled: h,
            adopt: { [weak self] handover in
                let session: SessionHandle
                if let self {
                    session = SessionHandle(jid: handover.jid, eventLoop: loop, mailbox: mailbox, connection: self)
                } else {
                    // The connection is gone already: the session's deliveries go nowhere.
                    session = SessionHandle(jid: handover.jid, eventLoop: loop, mailbox: mailbox,
                                            deliver: { _ in }, terminate: { _ in })
                }
                session.presence = handover.presence
                // Before the bind: stanzas for the session queue behind the handover.
                mailbox.post { [weak self] in
                    if let self { return self.completeResume(handover, session: session) }
                    // This connection is gone already: the session ends here, and
                    // its unacked messages go to the user's other resources or storage.
                    registry.unbind(session)
                    for stanza in handover.unacked where stanza.name == "message" {
                        _ = router.route(stanza, to: session.jid.bare)
                    }
                }
                // The old handle it replaces is the session's own past: not a conflict.
                _ = registry.bind(session, at: Date().timeIntervalSince1970)
                return session
            },
            fail: { [weak self] staleH in
                loop.execute {
                    guard let self, case .resuming(let user) = self.state else { return }
                    self.logger.info("cannot resume \(id) for \(user)")
                    self.state = .awaitingBind(user: user)
                    self.sendNonza(SM.failed("item-not-found", h: staleH))
                }
            }))
    }

    private func completeResume(_ handover: SessionHandover, session: SessionHandle) {
        // The settings were checked when <resume/> arrived; a reload cannot change them
        // for this worker, whose modules are fixed at its start.
        let settings = env.modules.streamManagement ?? StreamManagementSettings()
        let sm = StreamManagementState(settings: settings, resumptionID: handover.resumptionID)
        sm.restart(outboundAt: handover.clientHandled, inbound: handover.handledInbound)
        streamManagement = sm
        state = .established(session)
        negotiationFinished()
        env.resumption.register(handover.resumptionID, connection: self, on: session.eventLoop)
        logger.info("session \(session.jid) resumed; resending \(handover.unacked.count) unacked stanzas")
        sendNonza(SM.element("resumed", ["h": String(handover.handledInbound), "previd": handover.resumptionID]))
        for stanza in handover.unacked { send(stanza) }
        // This connection may have dropped while the session travelled here.
        if context == nil { connectionLost(session) }
    }

    /// On the old session's loop: give the session to the connection that resumes it.
    func handOver(to request: ResumeRequest) {
        guard case .established(let session) = state, let sm = streamManagement,
              sm.resumptionID == request.resumptionID, session.jid.bare == request.user else {
            return request.fail(nil)
        }
        do { try sm.acked(request.clientHandled) } catch {
            return request.fail(nil)
        }
        suspendTimer?.cancel()
        suspendTimer = nil
        env.resumption.remove(request.resumptionID, staleH: nil, keepFor: 0)
        streamManagement = nil
        let handover = SessionHandover(resumptionID: request.resumptionID, jid: session.jid,
                                       presence: env.registry.presence(of: session),
                                       handledInbound: sm.handledInbound, clientHandled: request.clientHandled,
                                       unacked: sm.takeUnacked())
        state = .handedOver(request.adopt(handover))
        logger.info("session \(session.jid) handed over to a resuming connection")
        // Stanzas routed here before every worker heard of the move still reach
        // the old handle: this object forwards them, so it must outlive its
        // channel (and the resumption table's reference) for a while.
        session.eventLoop.scheduleTask(in: Self.forwardingPeriod) { withExtendedLifetime(self) {} }
        if let context {
            // The old connection is still open (its client has not noticed it is dead).
            send(StanzaErrors.streamError("conflict", text: "session resumed on another connection") + "</stream:stream>")
            context.flush()
            context.close(promise: nil)
        }
    }

    /// Far longer than the mesh needs to tell every worker where a session went.
    static let forwardingPeriod: TimeAmount = .seconds(30)

    private static func makeResumptionID() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() as UInt64, radix: 36) + String(generator.next() as UInt64, radix: 36)
    }
}
