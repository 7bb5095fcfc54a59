import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XMPPConfig
import XMPPCore

/// Why an outgoing connection could not be made, as the stanza error its stanzas get.
struct S2SConnectError: Error, CustomStringConvertible {
    let condition: String
    let description: String
}

/// This worker's way to other servers: the last domain route, taken by stanzas for
/// domains that are neither served here nor a component's. Each worker keeps its
/// own outgoing streams, one per pair of local and remote domain (`S2SLink`), so no
/// stanza crosses the mesh on its way out. It also opens the short-lived streams
/// that verify a dialback key with its authoritative server for inbound streams.
final class S2SOutgoing: DomainRoute, @unchecked Sendable {
    let config: S2SConfig
    let keys: DialbackKey
    let tls: S2STLS
    let logger: Logger
    /// Set by the worker once the router exists (the router holds this route).
    weak var router: StanzaRouter?
    private let group: EventLoopGroup
    /// This worker's streams with other servers, for `xmppctl s2s`.
    let directory = S2SDirectory()
    /// Outgoing streams are not the listener's connections: counted apart.
    private let stats = WorkerStats()
    private let lock = NIOLock()
    private var links: [DomainPair: S2SLink] = [:]

    /// Where SRV records are asked (`[xmppd] dns_servers`, or resolv.conf's).
    private let nameservers: [S2SConfig.Address]
    /// general.max_fsm_queue: stanzas a stream may have waiting for a peer that does
    /// not read, before it is closed.
    let maxQueuedStanzas: Int?

    init(config: ServerConfig, keys: DialbackKey, tls: S2STLS, group: EventLoopGroup, logger: Logger) {
        self.config = config.s2s
        self.nameservers = SRVLookup.nameservers(configured: config.xmppd.dnsServers)
        self.maxQueuedStanzas = config.general.maxFSMQueue
        self.tls = tls
        self.keys = keys
        self.group = group
        self.logger = logger
    }

    // MARK: DomainRoute

    /// Stanzas from one of this server's domains (a served host, a module's service,
    /// a component) to a domain the s2s policy allows; any other is left to the
    /// router, which answers remote-server-not-found.
    func route(_ stanza: XMLElement, to recipient: JID) -> StanzaRouter.Outcome? {
        guard let from = stanza[attribute: "from"].flatMap(JID.init), router?.isServed(from.domain) == true,
              config.allows(recipient.domain) else { return nil }
        let pair = DomainPair(local: from.domain, remote: recipient.domain)
        let link = lock.withLock { () -> S2SLink in
            if let link = links[pair] { return link }
            let link = S2SLink(pair: pair, loop: group.next(), outgoing: self)
            links[pair] = link
            return link
        }
        if link.loop.inEventLoop {
            link.send(stanza)
        } else {
            link.loop.execute { link.send(stanza) }
        }
        return .delivered
    }

    /// Answers a stanza that could not be sent with `condition` (RFC 6120 §8.3).
    func bounce(_ stanza: XMLElement, _ condition: String) {
        guard let router, case .bounce(let error) = router.bounce(stanza, condition),
              let sender = error[attribute: "to"].flatMap(JID.init) else { return }
        _ = router.route(error, to: sender)
    }

    // MARK: dialback verification

    /// Asks the authoritative server of `pair.remote` whether `key`, which it sent on
    /// our inbound stream `streamID`, is its own. `done` runs on `loop`: true valid,
    /// false invalid, nil when the server could not be asked.
    func verify(key: String, pair: DomainPair, streamID: String, on loop: EventLoop, done: @escaping (Bool?) -> Void) {
        var answered = false
        let once: (Bool?) -> Void = { result in
            guard !answered else { return }
            answered = true
            done(result)
        }
        connect(pair, purpose: .verify(key: key, streamID: streamID, done: once), on: loop).whenFailure { [logger] error in
            logger.info("cannot verify a dialback key of \(pair.remote): \(error)")
            once(nil)
        }
    }

    // MARK: connecting

    /// Connects to the remote domain's server, trying its addresses in order; the
    /// stream itself then runs in the connection handler.
    func connect(_ pair: DomainPair, purpose: S2SOutgoingConnection.Purpose, on loop: EventLoop) -> EventLoopFuture<Void> {
        resolve(pair.remote, on: loop).flatMap { addresses in
            self.connect(addresses[...], pair, purpose, on: loop)
        }
    }

    private func connect(_ addresses: ArraySlice<SocketAddress>, _ pair: DomainPair, _ purpose: S2SOutgoingConnection.Purpose,
                         on loop: EventLoop) -> EventLoopFuture<Void> {
        guard let address = addresses.first else {
            return loop.makeFailedFuture(S2SConnectError(condition: "remote-server-not-found",
                                                         description: "no address of \(pair.remote) accepted a connection"))
        }
        let timeout = config.connectionTimeoutMs.map { TimeAmount.milliseconds(Int64($0)) }
        let (keys, tls, stats, logger, queueLimit) = (self.keys, self.tls, self.stats, self.logger, maxQueuedStanzas)
        return ClientBootstrap(group: loop)
            .connectTimeout(timeout ?? .hours(24))
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        S2SOutgoingConnection(pair: pair, purpose: purpose, keys: keys, tls: tls, timeout: timeout ?? .seconds(60),
                                              maxQueuedStanzas: queueLimit,
                                              stats: stats, logger: logger))
                }
            }
            .connect(to: address)
            .map { _ in }
            .flatMapError { error in
                logger.debug("s2s connect to \(address) for \(pair.remote) failed: \(error)")
                return self.connect(addresses.dropFirst(), pair, purpose, on: loop)
            }
    }

    /// `s2s.address` for the domain, or else its SRV records' targets, or else its own
    /// A / AAAA records on `outgoing.port`; addresses in the order of `outgoing.ip_versions`.
    private func resolve(_ domain: String, on loop: EventLoop) -> EventLoopFuture<[SocketAddress]> {
        if let address = config.addresses[domain] {
            return loop.makeCompletedFuture {
                [try SocketAddress(ipAddress: address.ipAddress, port: address.port ?? config.outgoingPort)]
            }
        }
        let promise = loop.makePromise(of: [SocketAddress].self)
        let (port, versions, attempts, timeout) = (config.outgoingPort, config.ipVersions, config.dnsRetries, config.dnsTimeout)
        let nameservers = self.nameservers
        var settled = false
        // The SRV lookup, then the targets' addresses: two rounds of lookups at most.
        let deadline = loop.scheduleTask(in: .seconds(Int64(2 * timeout * attempts))) {
            guard !settled else { return }
            settled = true
            promise.fail(S2SConnectError(condition: "remote-server-timeout", description: "DNS lookup of \(domain) timed out"))
        }
        // getaddrinfo blocks: off the event loop, on a thread of its own.
        NIOThreadPool.singleton.submit { _ in
            let result = S2SResolver.lookup(domain, port: port, versions: versions, attempts: attempts, timeout: timeout,
                                            nameservers: nameservers)
            loop.execute {
                guard !settled else { return }
                settled = true
                deadline.cancel()
                promise.completeWith(result)
            }
        }
        return promise.futureResult
    }
}
