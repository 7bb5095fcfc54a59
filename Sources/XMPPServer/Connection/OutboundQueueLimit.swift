/// `max_fsm_queue` for one connection: what waits in memory for a peer that does
/// not read. Stanzas written while the socket cannot take more are counted; once
/// the peer reads again (the channel turns writable) the count starts over.
struct OutboundQueueLimit {
    /// nil: no stanza limit (the byte cap still applies).
    let maxStanzas: Int?
    /// Whatever the setting, a peer that stops reading can make the server hold at
    /// most this much for it.
    static let maxBytes = 16 * 1024 * 1024

    private var stanzas = 0
    private var bytes = 0

    init(maxStanzas: Int?) { self.maxStanzas = maxStanzas }

    mutating func writable() {
        stanzas = 0
        bytes = 0
    }

    /// Records a stanza written while the channel is not writable; true when the
    /// connection must be closed.
    mutating func queued(bytes count: Int) -> Bool {
        stanzas += 1
        bytes += count
        return stanzas > (maxStanzas ?? Int.max) || bytes > Self.maxBytes
    }

    var queuedStanzas: Int { stanzas }
}
