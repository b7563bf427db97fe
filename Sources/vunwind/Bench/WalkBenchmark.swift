// WalkBenchmark (`vunwind bench walk`): the default matrix (every path of every entry of
// our page; the remote walkers at every ptrace stop, then libgcc and libunwind local in an
// untraced, self-stepping helper, then gdb; eu-stack sampled) beside its anchor in the same run: single-stepping the
// same calls with no walker at all (spawn, ptrace, wait). Reported: the medians of
// interleaved rounds, their ratio, and each walker's stops per second: for the remote
// walkers the time in the walker; for the in-process pair, the self-stepping helper's whole
// run (shared by both); for gdb, its whole process.

import StackWalk

struct WalkBenchmarkResult: Codable {
    struct Walker: Codable {
        var name: String
        var stops: Int
        /// Median over rounds of the seconds spent in this walker.
        var medianSeconds: Double
        var stopsPerSecond: Double
    }

    var subjects: Int
    var stops: Int
    /// The matrix with every walker, and the same calls stepped with none.
    var matrixMilliseconds: Double
    var steppingMilliseconds: Double
    var ratioToStepping: Double
    var walkers: [Walker]
}

enum WalkBenchmark {
    static func run(rounds: Int) throws -> WalkBenchmarkResult {
        let helper = StackWalkTester.defaultHelper()
        var walkerSeconds: [String: [Double]] = [:]
        var stops: [String: Int] = [:]
        let candidates = [
            Candidate(name: "matrix") {
                let tester = StackWalkTester(helper: helper, walkers: StackWalkTester.remoteWalkers())
                tester.inProcess = true
                tester.gdb = true
                tester.euStack = true
                let report = try tester.run(WalkSubject.page)
                for (name, cells) in Dictionary(grouping: report.cells, by: \.walker) {
                    walkerSeconds[name, default: []].append(cells.reduce(0) { $0 + $1.seconds })
                    stops[name] = cells.reduce(0) { $0 + $1.stops }
                }
                return report.cells.reduce(0) { $0 + $1.stops }
            },
            Candidate(name: "stepping") {
                _ = try StackWalkTester(helper: helper, walkers: []).run(WalkSubject.page)
                return 0
            },
        ]
        let measured = try Measurement.interleaved(candidates, rounds: rounds)
        let matrix = Double(measured[0].medianNanoseconds) / 1e6, stepping = Double(measured[1].medianNanoseconds) / 1e6
        let names = StackWalkTester.remoteWalkers().map(\.name) + [EuStackSampler.name] + StackWalkTester.inProcessWalkerNames
            + [StackWalkTester.gdbWalkerName]
        let walkers = names.map { name -> WalkBenchmarkResult.Walker in
            let s = (walkerSeconds[name] ?? [0]).sorted()
            let median = s[s.count / 2]
            let n = stops[name] ?? 0
            return .init(name: name, stops: n, medianSeconds: median, stopsPerSecond: median > 0 ? Double(n) / median : 0)
        }
        return WalkBenchmarkResult(subjects: WalkSubject.page.count, stops: walkers.first?.stops ?? 0, matrixMilliseconds: matrix,
                                   steppingMilliseconds: stepping, ratioToStepping: stepping > 0 ? matrix / stepping : 0,
                                   walkers: walkers)
    }

    static func render(_ r: WalkBenchmarkResult) -> String {
        var out = "walk: the default matrix, \(r.subjects) subject paths, \(r.stops) stops per remote walker (medians of interleaved rounds)\n"
        out += "  matrix, every walker   \(String(format2: r.matrixMilliseconds, 1)) ms\n"
        out += "  stepping, no walker    \(String(format2: r.steppingMilliseconds, 1)) ms\n"
        out += "  ratio                  \(String(format2: r.ratioToStepping, 2))x\n"
        for w in r.walkers {
            let name = w.name + String(repeating: " ", count: max(0, 18 - w.name.count))
            out += "  \(name) \(Int(w.stopsPerSecond.rounded())) stops/s (\(String(format2: w.medianSeconds * 1000, 1)) ms)\n"
        }
        return out
    }
}
