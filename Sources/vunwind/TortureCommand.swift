// `vunwind torture`: the vvar lock under a writer that updates as fast as it can.

import ArgumentParser

struct TortureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "torture", abstract: "Torture the vvar two-counter lock and count torn reads.")

    func run() throws {
        throw ValidationError("not implemented yet")
    }
}
