import NIOCore
import XMPPCore

/// Stanzas from one local domain to one remote domain, on this worker: queued
/// while the outgoing stream connects and dialback runs, then written to it.
/// When the remote server cannot be reached, the queue is bounced and new
/// stanzas are bounced at once until the retry delay has passed; the delay
/// doubles with each failure up to `s2s.max_retry_delay`. Used on `loop` only.
final class S2SLink {
    private enum State {
        case idle
        case connecting
        case established(S2SOutgoingConnection)
    }

    let pair: DomainPair
    let loop: EventLoop
    private unowned let outgoing: S2SOutgoing
    private var state: State = .idle {
        didSet { recordState() }
    }
    private var queue: [XMLElement] = []
    private var retryDelay: TimeAmount = .seconds(1)
    private var nextAttempt: NIODeadline?

    init(pair: DomainPair, loop: EventLoop, outgoing: S2SOutgoing) {
        self.pair = pair
        self.loop = loop
        self.outgoing = outgoing
    }

    private func recordState() {
        let shown: String
        var tls = false
        var auth: String?
        switch state {
        case .connecting: shown = "connecting"
        case .established(let connection):
            shown = "established"
            tls = connection.tlsActive
            auth = connection.authenticatedByCertificate ? "external" : "dialback"
        case .idle: shown = nextAttempt == nil ? "idle" : "failed"
        }
        outgoing.directory.update(self, pair, direction: "out", state: shown, tls: tls, auth: auth)
    }

    func send(_ stanza: XMLElement) {
        switch state {
        case .established(let connection):
            connection.send(stanza: stanza)
        case .connecting:
            queue.append(stanza)
        case .idle:
            if let nextAttempt, NIODeadline.now() < nextAttempt {
                return outgoing.bounce(stanza, "remote-server-not-found")
            }
            queue.append(stanza)
            state = .connecting
            outgoing.connect(pair, purpose: .link(self), on: loop).whenFailure { [self] error in
                outgoing.logger.info("s2s \(pair.local) -> \(pair.remote): \(error)")
                failed((error as? S2SConnectError)?.condition ?? "remote-server-not-found")
            }
        }
    }

    /// The remote server answered our `<db:result/>`, or took our certificate.
    func streamAuthenticated(_ connection: S2SOutgoingConnection, valid: Bool) {
        guard case .connecting = state else { return }
        guard valid else { return failed("remote-server-not-found") }
        state = .established(connection)
        retryDelay = .seconds(1)
        nextAttempt = nil
        let waiting = queue
        queue = []
        for stanza in waiting { connection.send(stanza: stanza) }
    }

    func connectionEnded(_ connection: S2SOutgoingConnection) {
        switch state {
        case .established(let current) where current === connection:
            // A link that worked reconnects at the next stanza.
            state = .idle
        case .connecting:
            failed("remote-server-not-found")
        default:
            break
        }
    }

    private func failed(_ condition: String) {
        guard case .connecting = state else { return }
        nextAttempt = .now() + retryDelay
        state = .idle
        retryDelay = min(retryDelay * 2, .seconds(Int64(outgoing.config.maxRetryDelay)))
        let bounced = queue
        queue = []
        for stanza in bounced { outgoing.bounce(stanza, condition) }
    }
}
