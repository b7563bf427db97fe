// Measurement: medians of interleaved runs. Every candidate of a benchmark runs once per
// round, in turn, so drift (frequency, cache, other load) hits all of them alike.

#if canImport(Glibc)
import Glibc
#endif

struct Candidate {
    var name: String
    /// Runs once and returns a checksum (so work cannot be optimised away and candidates
    /// can be checked to do the same amount of it).
    var run: () throws -> Int
}

struct MeasuredCandidate: Codable {
    var name: String
    var medianNanoseconds: UInt64
    var minimumNanoseconds: UInt64
    var maximumNanoseconds: UInt64
    var checksum: Int

    /// The median, minimum and maximum of `samples` (nanoseconds, at least one).
    init(name: String, samples: [UInt64], checksum: Int) {
        let s = samples.sorted()
        self.init(name: name, medianNanoseconds: s[s.count / 2], minimumNanoseconds: s[0],
                  maximumNanoseconds: s[s.count - 1], checksum: checksum)
    }

    init(name: String, medianNanoseconds: UInt64, minimumNanoseconds: UInt64, maximumNanoseconds: UInt64, checksum: Int) {
        self.name = name
        self.medianNanoseconds = medianNanoseconds
        self.minimumNanoseconds = minimumNanoseconds
        self.maximumNanoseconds = maximumNanoseconds
        self.checksum = checksum
    }
}

/// One row of a per-operation table (unwind, registration): nanoseconds per operation,
/// and our median over the anchor's when the row has one.
struct TimedRow: Codable {
    var name: String
    /// Frames walked, for the unwind benchmark.
    var frames: Int?
    var medianNanoseconds: Double
    var minimumNanoseconds: Double
    var maximumNanoseconds: Double
    var anchor: String?
    var ratio: Double?

    /// The name padded to `width`, `detail`, the median (min, max), the ratio.
    func render(width: Int, detail: String = "") -> String {
        var line = "  " + name + String(repeating: " ", count: max(0, width - name.count)) + " " + detail
            + "\(Measurement.time(medianNanoseconds)) (\(Measurement.time(minimumNanoseconds)), \(Measurement.time(maximumNanoseconds)))"
        if let ratio, let anchor { line += "  \(String(format2: ratio, 2))x \(anchor)" }
        return line + "\n"
    }
}

enum Measurement {
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func interleaved(_ candidates: [Candidate], rounds: Int) throws -> [MeasuredCandidate] {
        var samples = [[UInt64]](repeating: [], count: candidates.count)
        var sums = [Int](repeating: 0, count: candidates.count)
        // One warm-up round (page cache, lazy binding, first-touch allocation).
        for c in candidates { _ = try c.run() }
        for _ in 0..<rounds {
            for (i, c) in candidates.enumerated() {
                let t0 = now()
                sums[i] = try c.run()
                samples[i].append(now() - t0)
            }
        }
        return candidates.indices.map { MeasuredCandidate(name: candidates[$0].name, samples: samples[$0], checksum: sums[$0]) }
    }

    /// "850 ns" below 10 µs, "12.3 µs" from there.
    static func time(_ ns: Double) -> String {
        ns >= 10_000 ? String(format2: ns / 1000, 1) + " µs" : String(Int(ns.rounded())) + " ns"
    }

    static func milliseconds(_ ns: UInt64) -> String {
        let ms = Double(ns) / 1e6
        return ms < 10 ? String(format2: ms, 2) : String(format2: ms, 1)
    }
}

extension String {
    /// A fixed-point rendering without Foundation's formatter.
    init(format2 value: Double, _ digits: Int) {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var s = "\(rounded)"
        if let dot = s.firstIndex(of: ".") {
            let decimals = s.distance(from: dot, to: s.endIndex) - 1
            if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
        } else if digits > 0 {
            s += "." + String(repeating: "0", count: digits)
        }
        self = s
    }
}
