import NIOCore
import XMPPCore

/// `hibernate_after` for one connection: once it has been idle that long, its
/// stream parser frees expat's state (the bulk of what an idle session holds); the
/// next read rebuilds it. 0 means at every opportunity: after each read.
/// Used on the connection's event loop only.
final class IdleHibernation {
    private let after: TimeAmount
    private let parser: XMLStreamParser
    private var lastReadAt = NIODeadline.now()
    private var timer: Scheduled<Void>?

    init(after: TimeAmount, parser: XMLStreamParser) {
        self.after = after
        self.parser = parser
    }

    /// After a read cycle: hibernate now, or once idle long enough. One timer at a
    /// time, re-armed for the remainder when reads happened meanwhile.
    func readCompleted(on loop: EventLoop) {
        if after == .zero {
            parser.hibernate()
            return
        }
        lastReadAt = .now()
        guard timer == nil else { return }
        arm(on: loop, in: after)
    }

    func cancel() {
        timer?.cancel()
        timer = nil
    }

    private func arm(on loop: EventLoop, in delay: TimeAmount) {
        timer = loop.scheduleTask(in: delay) { [weak self] in
            guard let self else { return }
            self.timer = nil
            let idle = NIODeadline.now() - self.lastReadAt
            if idle >= self.after {
                self.parser.hibernate()
            } else {
                self.arm(on: loop, in: self.after - idle)
            }
        }
    }
}
