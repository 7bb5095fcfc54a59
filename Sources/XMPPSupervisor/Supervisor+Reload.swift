import Foundation
import XMPPConfig
import XMPPServer
#if canImport(Glibc)
import Glibc
#endif

/// Reload and rolling restart: serialised operations that replace workers one
/// listener at a time, each through the same handover as a changed listener.
extension Supervisor {
    func handle(_ request: ControlRequest, reply: @escaping (ControlResponse) -> Void) {
        switch request.command {
        case .status: reply(ControlResponse(ok: true, message: "running", status: status()))
        case .reload: enqueueReload(reply: reply)
        case .restart: enqueue { done in self.rollingRestart { error in
            reply(ControlResponse(ok: error == nil, message: error ?? "restarted every worker"))
            done()
        } }
        case .stop: stop(reply: reply)
        }
    }

    func enqueueReload(reply: ((ControlResponse) -> Void)?) {
        enqueue { done in
            self.reload { response in
                self.logger.info("reload: \(response.message)")
                reply?(response)
                done()
            }
        }
    }

    private func enqueue(_ operation: @escaping (@escaping () -> Void) -> Void) {
        guard !stopping else { return }
        operations.append(operation)
        runNextOperation()
    }

    private func runNextOperation() {
        guard !operationRunning, !operations.isEmpty, !stopping else { return }
        operationRunning = true
        let operation = operations.removeFirst()
        operation { [self] in
            queue.async { [self] in
                operationRunning = false
                runNextOperation()
            }
        }
    }

    /// Validates the file again; if it is bad nothing changes. Otherwise unchanged
    /// listeners keep their worker, changed ones get a new worker on the same socket,
    /// removed ones drain, added ones are bound and started.
    private func reload(completion: @escaping (ControlResponse) -> Void) {
        let new: ServerConfig
        do {
            new = try ServerConfig.load(path: config.configPath)
            try validate(new)
            try ListenerTLSMaterial.prepare(new, logger: logger)
        } catch {
            return completion(ControlResponse(ok: false, message: "\(error)"))
        }
        if let problem = ListenerWorker.unservedListeners(in: new).first {
            return completion(ControlResponse(ok: false, message: problem))
        }
        if new.xmppd.stateDirectory != config.xmppd.stateDirectory {
            return completion(ControlResponse(ok: false, message: "xmppd.state_dir cannot change on reload; restart the server"))
        }
        // Global settings (hosts, auth, ...) reach workers only through a new worker.
        let globalChanged = Self.withoutListeners(new) != Self.withoutListeners(config)
        let oldByID = Dictionary(uniqueKeysWithValues: slots.filter { !$0.removing }.map { ($0.id, $0) })
        let newByID = Dictionary(uniqueKeysWithValues: new.listeners.map { ($0.bindKey, $0) })

        // Bind added listeners first: if any bind fails, nothing changes.
        var added: [ListenerSlot] = []
        for listener in new.listeners where oldByID[listener.bindKey] == nil {
            do { added.append(ListenerSlot(config: listener, fd: try ListenerSocket.bind(listener))) } catch {
                for slot in added { close(slot.fd) }
                return completion(ControlResponse(ok: false, message: "\(error)"))
            }
        }
        config = new
        var changed: [(ListenerSlot, ListenerConfig)] = []
        var unchanged = 0
        for slot in oldByID.values {
            guard let listener = newByID[slot.id] else { continue }
            let renewedCertificates = ListenerTLSMaterial.fingerprint(listener, in: new) != slot.tlsFingerprint
            if globalChanged || renewedCertificates || !Self.sameListener(slot.config, listener) {
                changed.append((slot, listener))
            } else {
                slot.config = listener // index in the file may have moved
                unchanged += 1
            }
        }
        let removed = oldByID.values.filter { newByID[$0.id] == nil }
        let summary = "\(changed.count) changed, \(added.count) added, \(removed.count) removed, \(unchanged) unchanged"
        var pending = changed.count + removed.count + added.count
        var errors: [String] = []
        let finishOne: (String?) -> Void = { error in
            if let error { errors.append(error) }
            pending -= 1
            if pending == 0 {
                completion(ControlResponse(ok: errors.isEmpty, message: errors.isEmpty ? "reloaded: \(summary)" : errors.joined(separator: "; ")))
            }
        }
        if pending == 0 { return completion(ControlResponse(ok: true, message: "reloaded: \(summary)")) }
        for (slot, listener) in changed {
            slot.config = listener
            replaceWorker(in: slot, completion: finishOne)
        }
        for slot in removed { retire(slot, completion: finishOne) }
        for slot in added {
            slots.append(slot)
            slot.handoverCompletion = finishOne
            spawnWorker(for: slot, as: .active) // completes once the worker accepts
        }
    }

    /// Replaces every worker, one listener at a time.
    private func rollingRestart(completion: @escaping (String?) -> Void) {
        var remaining = slots.filter { !$0.removing }
        func next() {
            guard !remaining.isEmpty else { return completion(nil) }
            let slot = remaining.removeFirst()
            replaceWorker(in: slot) { error in
                if let error { return completion(error) }
                self.queue.async { next() }
            }
        }
        next()
    }

    /// A new worker adopts the same socket; the old one drains once the new one is ready.
    private func replaceWorker(in slot: ListenerSlot, completion: @escaping (String?) -> Void) {
        slot.handoverCompletion = completion
        spawnWorker(for: slot, as: .replacement)
    }

    private func retire(_ slot: ListenerSlot, completion: @escaping (String?) -> Void) {
        slot.removing = true
        slot.handoverCompletion = completion
        if let replacement = slot.replacement { drain(replacement, in: slot); slot.replacement = nil }
        if let active = slot.active {
            drain(active, in: slot)
        } else {
            close(slot.fd)
            slot.finishHandover()
        }
    }

    static func sameListener(_ a: ListenerConfig, _ b: ListenerConfig) -> Bool {
        var a = a
        a.index = b.index
        return a == b
    }

    static func withoutListeners(_ config: ServerConfig) -> ServerConfig {
        var copy = config
        copy.listeners = []
        return copy
    }
}
