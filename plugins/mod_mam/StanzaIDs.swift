/// XEP-0359 stanza ids for archived messages: unique across workers without
/// coordination (time plus 64 random bits), short enough for RSM cursors.
enum StanzaIDs {
    static func make(at micros: Int64) -> String {
        var generator = SystemRandomNumberGenerator()
        let random = String(generator.next() as UInt64, radix: 36, uppercase: true)
        let time = String(UInt64(max(0, micros)), radix: 36, uppercase: true)
        return time + "-" + random
    }
}
