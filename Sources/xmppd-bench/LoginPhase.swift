import Foundation
import NIOCore
import NIOPosix
import XMPPTLS

/// Opens `users` connections, at most `concurrency` negotiating at a time, each logging
/// in fully (stream, SCRAM-SHA-256, restart, bind, initial presence). With several c2s
/// listeners, user i connects to listener i mod L.
struct LoginPhase {
    let target: Target
    let group: EventLoopGroup
    let registry: StatsRegistry
    let peers: PeerTable
    let keys: SCRAMKeyCache
    let users: Int
    let concurrency: Int

    struct Result {
        var connections: [BenchConnection?]
        var failures: [String]
    }

    func run() -> Result {
        let slots = DispatchSemaphore(value: concurrency)
        let done = DispatchGroup()
        let lock = NSLock()
        var connections = [BenchConnection?](repeating: nil, count: users)
        var failures: [String] = []
        for i in 0..<users {
            slots.wait()
            done.enter()
            connect(i).whenComplete { result in
                lock.lock()
                switch result {
                case .success(let c): connections[i] = c
                case .failure(let e): failures.append("\(e)")
                }
                lock.unlock()
                slots.signal()
                done.leave()
            }
        }
        done.wait()
        lock.lock(); defer { lock.unlock() }
        return Result(connections: connections, failures: failures)
    }

    private func connect(_ i: Int) -> EventLoopFuture<BenchConnection> {
        // Users in contiguous blocks per loop: user i and its peer i+1 share a loop
        // (except at block edges), so acknowledging a message never wakes another thread.
        let stats = registry.all[i * registry.all.count / users]
        let loop = stats.loop
        let login = loop.makePromise(of: BenchConnection.self)
        let endpoint = target.endpoint(forUser: i)
        let (domain, peers, keys, tls, mode) = (target.domain, self.peers, self.keys, target.tls, target.tlsMode)
        ClientBootstrap(group: loop)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if mode == .tls, let tls { try channel.pipeline.syncOperations.addHandler(OpenSSLHandler(context: tls)) }
                    try channel.pipeline.syncOperations.addHandler(
                        BenchConnection(index: i, domain: domain, loop: loop, stats: stats, peers: peers,
                                        keys: keys, login: login, startTLS: mode == .tls ? nil : tls))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .whenFailure { error in login.fail(BenchError("\(Accounts.username(i)): connect: \(error)")) }
        return login.futureResult
    }
}
