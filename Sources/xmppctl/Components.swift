import ArgumentParser
import Foundation
import XMPPServer

/// `xmppctl components`: the external components (XEP-0114) connected to any worker,
/// as the replicated component table of a live worker has them.
struct Components: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Connected external components (XEP-0114): domain, worker pid, hidden flag.")
    @OptionGroup var options: ConfigOption
    @Flag(help: "Machine-readable output.")
    var json = false

    func run() throws {
        let config = try options.load()
        let components: [ComponentInfo]
        do { components = try ComponentListing.fetch(stateDirectory: config.stateDirectory) } catch {
            fail("cannot list components: \(error)")
        }
        if json {
            try printJSON(components)
            return
        }
        if components.isEmpty { print("no components connected"); return }
        let width = max(6, components.map(\.domain.count).max() ?? 0)
        print("DOMAIN".padding(toLength: width, withPad: " ", startingAt: 0) + "  WORKER   HIDDEN")
        for component in components {
            print(component.domain.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                  + String(component.workerPID).padding(toLength: 7, withPad: " ", startingAt: 0) + "  "
                  + (component.hidden ? "yes" : "no"))
        }
    }
}
