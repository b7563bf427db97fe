// `vunwind bench`: benchmarks, each beside its anchor in the same run, reported as ratios
// (anchor / ours: above 1 means we are faster). No timed assertion lives in the tests;
// this command is where speed is measured.

import ArgumentParser
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure vunwind against its anchors in the same run.",
        discussion: "cfi: parse and evaluate every FDE of a file (default libc.so.6) against readelf and libdw.")

    @Argument(help: "Which benchmarks: cfi (default: all).")
    var which: [String] = []

    @Option(help: "The file for the CFI benchmark.")
    var file: String = "/lib/x86_64-linux-gnu/libc.so.6"

    @Option(help: "Interleaved rounds per benchmark.")
    var rounds: Int = 15

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        for w in which where !["cfi"].contains(w) { throw ValidationError("unknown benchmark \(w)") }
        guard rounds > 0 else { throw ValidationError("--rounds must be positive") }
    }

    func run() throws {
        let selected = which.isEmpty ? ["cfi"] : which
        let vunwind = selfExecutablePath()
        if selected.contains("cfi") {
            let r = try InputFailure.guarding(file) { try CFIBenchmark.run(file: file, vunwind: vunwind, rounds: rounds) }
            if json {
                let e = JSONEncoder()
                e.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try e.encode(r), as: UTF8.self))
            } else {
                print(CFIBenchmark.render(r), terminator: "")
            }
        }
    }
}

/// This executable's path (/proc/self/exe), so benchmarks can spawn it as a process.
func selfExecutablePath() -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    guard n > 0 else { return CommandLine.arguments[0] }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
