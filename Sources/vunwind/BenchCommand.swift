// `vunwind bench`: benchmarks, each beside its anchor in the same run, reported as ratios.

import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure vunwind against its anchors in the same run.")

    func run() throws {}
}
