import Foundation

/// CPU and memory of another process, read from /proc (Linux).
struct ProcessStats {
    let pid: Int32
    private let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// utime + stime in milliseconds (fields 14 and 15 of /proc/<pid>/stat).
    func cpuMilliseconds() throws -> Double {
        let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // The command name (field 2) may contain spaces; fields after it start past the last ')'.
        guard let close = text.lastIndex(of: ")") else { throw BenchError("unreadable /proc/\(pid)/stat") }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so field n is fields[n - 3].
        guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12]) else {
            throw BenchError("unreadable /proc/\(pid)/stat")
        }
        return (utime + stime) * 1000 / ticksPerSecond
    }

    /// VmRSS from /proc/<pid>/status, in KiB.
    func rssKiB() throws -> Double {
        let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            if let value = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first,
               let kib = Double(value) { return kib }
        }
        throw BenchError("no VmRSS in /proc/\(pid)/status")
    }

    var isAlive: Bool { kill(pid, 0) == 0 }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// CPU and memory of several processes (the c2s workers), summed.
struct ProcessGroupStats {
    let members: [ProcessStats]
    init(pids: [Int32]) { members = pids.map { ProcessStats(pid: $0) } }

    /// utime + stime of all members, in milliseconds (10 ms resolution per process).
    func cpuMilliseconds() throws -> Double { try members.reduce(0) { $0 + (try $1.cpuMilliseconds()) } }

    func rssKiB() throws -> Double { try members.reduce(0) { $0 + (try $1.rssKiB()) } }
}

/// Busy CPU time of the whole machine (all processes, from /proc/stat), in milliseconds:
/// what the server and the bench did not use of it is other load, which makes figures noisy.
func machineBusyMilliseconds() -> Double {
    guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return 0 }
    let v = line.split(separator: " ").dropFirst().compactMap { Double($0) }
    guard v.count >= 5 else { return 0 }
    // user nice system idle iowait irq softirq steal ...
    let busy = v.enumerated().filter { $0.offset != 3 && $0.offset != 4 && $0.offset < 8 }.reduce(0) { $0 + $1.element }
    return busy * 1000 / Double(sysconf(Int32(_SC_CLK_TCK)))
}
