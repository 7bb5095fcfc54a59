import XCTest
@testable import XMPPStore

final class ListenerStateStoreTests: TempDirectoryTestCase {
    var clock = 1000.0

    func store() throws -> ListenerStateStore {
        try ListenerStateStore(database: SQLiteDatabase(path: databasePath), now: { [unowned self] in clock })
    }

    func record(_ id: String, type: String, port: Int) -> ListenerRecord {
        ListenerRecord(id: id, type: type, address: "0.0.0.0", port: port, since: clock, configJSON: #"{"port":\#(port)}"#,
                       updatedAt: clock)
    }

    func testUpsertListAndOrdering() throws {
        let s = try store()
        try s.upsertListener(record("tcp://0.0.0.0:5269", type: "s2s", port: 5269))
        try s.upsertListener(record("tcp://0.0.0.0:5223", type: "c2s", port: 5223))
        try s.upsertListener(record("tcp://0.0.0.0:5222", type: "c2s", port: 5222))
        XCTAssertEqual(s.listeners().map(\.port), [5222, 5223, 5269])

        var changed = record("tcp://0.0.0.0:5222", type: "c2s", port: 5222)
        changed.address = "::"
        changed.counters.bytesIn = 7
        try s.upsertListener(changed)
        let all = s.listeners()
        XCTAssertEqual(all.count, 3)
        XCTAssertEqual(all[0], changed)
        XCTAssertEqual(try s.listener(id: "tcp://0.0.0.0:5222"), changed)

        try s.removeListener(id: "tcp://0.0.0.0:5223")
        XCTAssertEqual(s.listeners().map(\.port), [5222, 5269])
    }

    func testStateCountersRestarts() throws {
        let s = try store()
        let id = "tcp://0.0.0.0:5222"
        try s.upsertListener(record(id, type: "c2s", port: 5222))

        clock = 1010
        try s.setState(id: id, state: .running, pid: 4242, generation: 1)
        var r = try XCTUnwrap(s.listener(id: id))
        XCTAssertEqual(r.state, .running)
        XCTAssertEqual(r.workerPID, 4242)
        XCTAssertEqual(r.generation, 1)
        XCTAssertEqual(r.since, 1010)
        XCTAssertEqual(r.startedAt, 1010)

        clock = 1020
        try s.setState(id: id, state: .running)  // same state: since unchanged, pid kept
        r = try XCTUnwrap(s.listener(id: id))
        XCTAssertEqual(r.since, 1010)
        XCTAssertEqual(r.workerPID, 4242)
        XCTAssertEqual(r.updatedAt, 1020)

        let old = ListenerCounters(connectionsAccepted: 10, connectionsCurrent: 2, bytesIn: 100, authFailures: 1)
        let new = ListenerCounters(connectionsAccepted: 5, connectionsCurrent: 3, bytesIn: 50, errors: 4)
        let sum = old + new
        XCTAssertEqual(sum, ListenerCounters(connectionsAccepted: 15, connectionsCurrent: 5, bytesIn: 150,
                                             authFailures: 1, errors: 4))
        try s.updateCounters(id: id, counters: sum)
        XCTAssertEqual(try s.listener(id: id)?.counters, sum)

        try s.incrementRestarts(id: id)
        try s.incrementRestarts(id: id)
        XCTAssertEqual(try s.listener(id: id)?.restarts, 2)

        clock = 1030
        try s.setState(id: id, state: .stopped)
        r = try XCTUnwrap(s.listener(id: id))
        XCTAssertNil(r.workerPID)
        XCTAssertEqual(r.counters.connectionsCurrent, 0)
        XCTAssertEqual(r.counters.bytesIn, 150)  // totals survive a stop
        XCTAssertEqual(r.since, 1030)

        XCTAssertThrowsError(try s.setState(id: "nope", state: .running)) {
            XCTAssertEqual($0 as? ListenerStoreError, .notFound("nope"))
        }
        XCTAssertThrowsError(try s.updateCounters(id: "nope", counters: .zero))
        XCTAssertThrowsError(try s.incrementRestarts(id: "nope"))
    }

    func testMarkAllStopped() throws {
        let s = try store()
        try s.upsertListener(record("a", type: "c2s", port: 1))
        try s.upsertListener(record("b", type: "c2s", port: 2))
        try s.setState(id: "a", state: .running, pid: 1, generation: 1)
        try s.setState(id: "b", state: .draining, pid: 2, generation: 1)
        try s.markAllStopped()
        for r in s.listeners() {
            XCTAssertEqual(r.state, .stopped)
            XCTAssertNil(r.workerPID)
        }
    }

    func testEvents() throws {
        let s = try store()
        try s.recordEvent(listenerID: "a", pid: 10, generation: 1, event: .spawned)
        clock += 1
        try s.recordEvent(listenerID: "a", pid: 10, generation: 1, event: .ready)
        try s.recordEvent(listenerID: "b", pid: 11, generation: 1, event: .spawned)
        try s.recordEvent(listenerID: "a", pid: 10, generation: 1, event: .exited, detail: "killed by signal 9")
        try s.recordEvent(listenerID: "a", pid: nil, generation: 2, event: .restarted)

        let a = s.events(listenerID: "a", limit: 10)
        XCTAssertEqual(a.map(\.event), [.restarted, .exited, .ready, .spawned])
        XCTAssertEqual(a[1].detail, "killed by signal 9")
        XCTAssertEqual(a[1].pid, 10)
        XCTAssertNil(a[0].pid)
        XCTAssertEqual(a[3].at, 1000)
        XCTAssertEqual(s.events(listenerID: nil, limit: 2).map(\.listenerID), ["a", "a"])
        XCTAssertEqual(s.events(listenerID: nil, limit: 100).count, 5)

        try s.pruneEvents(keep: 2)
        XCTAssertEqual(s.events(limit: 100).map(\.event), [.restarted, .exited])
    }

    func testCLIConnectionSeesSupervisorWrites() throws {
        let supervisor = try store()
        let cli = try ListenerStateStore(database: SQLiteDatabase(path: databasePath))
        try supervisor.upsertListener(record("tcp://0.0.0.0:5222", type: "c2s", port: 5222))
        try supervisor.setState(id: "tcp://0.0.0.0:5222", state: .running, pid: 99, generation: 3)
        XCTAssertEqual(cli.listeners().first?.workerPID, 99)
        // Records encode to JSON for `xmppctl listeners --json`.
        let json = try JSONEncoder().encode(cli.listeners())
        XCTAssertEqual(try JSONDecoder().decode([ListenerRecord].self, from: json), cli.listeners())
    }
}
