// ClockBenchmark (`vunwind bench clock`): the page's MONOTONIC and REALTIME against the
// kernel's (the anchor) while adjtimex moves the kernel's rate across the range it accepts:
// tick +-1 % and +-10 %, frequency +-500 ppm, and both at once. Each setting runs for
// --seconds; the kernel's setting is put back at the end. Needs CAP_SYS_TIME; without it
// the benchmark says so and measures nothing.

import Vsyscall

struct ClockBenchmarkResult: Codable {
    var tickMilliseconds: Double
    var results: [ClockDiscipline.Result]
}

enum ClockBenchmark {
    static let settings: [KernelClockRate] = [
        .init(tick: 10000, frequency: 0),
        .init(tick: 9900, frequency: 0), .init(tick: 10100, frequency: 0),
        .init(tick: 9000, frequency: 0), .init(tick: 11000, frequency: 0),
        .init(tick: 10000, ppm: 500), .init(tick: 10000, ppm: -500),
        .init(tick: 9000, ppm: -500), .init(tick: 11000, ppm: 500),
        .init(tick: 10000, frequency: 0),
    ]

    static func run(seconds: Double) throws -> ClockBenchmarkResult {
        let page = try Vsyscall.install(registrars: [])
        defer { try? page.uninstall() }
        let results = try ClockDiscipline.measure(page: page, settings: settings, seconds: seconds)
        return ClockBenchmarkResult(tickMilliseconds: Double(page.tick.components.attoseconds) / 1e15
                                        + Double(page.tick.components.seconds) * 1000, results: results)
    }

    static func render(_ r: ClockBenchmarkResult) -> String {
        func us(_ ns: Int64) -> String { String(format2: Double(ns) / 1000, 1) }
        var out = "clock: |page - kernel| in µs under adjtimex settings, in this order (page tick \(String(format2: r.tickMilliseconds, 0)) ms; "
            + "transient: the first \(String(format2: ClockDiscipline.transientSeconds * 1000, 0)) ms after the change)\n"
        out += "  setting                      rate       MONOTONIC transient / p99 / worst   REALTIME transient / p99 / worst\n"
        for x in r.results {
            let name = x.setting.description.padding(28)
            let rate = (String(format2: (x.setting.rate - 1) * 100, 3) + " %").padding(10)
            let mono = "\(us(x.transientWorstMonotonic)) / \(us(x.steadyP99Monotonic)) / \(us(x.steadyWorstMonotonic))".padding(35)
            out += "  \(name) \(rate) \(mono) \(us(x.transientWorstRealtime)) / \(us(x.steadyP99Realtime)) / \(us(x.steadyWorstRealtime))\n"
        }
        return out
    }
}

private extension String {
    func padding(_ width: Int) -> String { padded(width) }
}
