// ClockDiscipline: the page's MONOTONIC and REALTIME against the kernel's while the
// kernel's rate is changed with adjtimex (tick and frequency, as NTP daemons do), for
// `vunwind bench clock` and the tests. Each sample brackets one page read between two
// kernel reads (the vDSO's clock_gettime, which is the kernel's clock) and keeps it only
// when the bracket is tight, so the error is the page's, not the bracket's.
//
// Changing the kernel's rate needs CAP_SYS_TIME and changes it for every process on the
// machine: `measure` puts back what it found, also when it fails, and slews away the
// offset its settings left against CLOCK_MONOTONIC_RAW (which no setting moves), so the
// machine's clock ends where it would have been.

import CVunwind
#if canImport(Glibc)
import Glibc
#endif

/// The kernel's NTP rate settings.
public struct KernelClockRate: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Microseconds per USER_HZ tick (10000 at USER_HZ 100 is nominal; the kernel accepts
    /// 9000...11000, that is +-10 %).
    public var tick: Int
    /// Frequency offset in ppm << 16 (the kernel accepts +-500 ppm).
    public var frequency: Int

    public init(tick: Int, frequency: Int) {
        self.tick = tick
        self.frequency = frequency
    }

    public init(tick: Int, ppm: Double) { self.init(tick: tick, frequency: Int(ppm * 65536)) }

    public var ppm: Double { Double(frequency) / 65536 }

    /// The kernel's current setting (no privilege needed).
    public static func current() throws -> KernelClockRate {
        var tick = 0, frequency = 0
        guard vu_kernel_clock_get(&tick, &frequency) == 0 else { throw VsyscallError.system("adjtimex", errno) }
        return KernelClockRate(tick: tick, frequency: frequency)
    }

    /// Makes this the kernel's setting (CAP_SYS_TIME).
    public func apply() throws {
        guard vu_kernel_clock_set(tick, frequency) == 0 else {
            throw VsyscallError.system("adjtimex(tick \(tick), freq \(frequency))", errno)
        }
    }

    /// The kernel's rate relative to a nominal second (1.0 at tick 10000, freq 0).
    public var rate: Double { (Double(tick) * Double(vu_user_hz()) * 1000 + ppm * 1000) / 1e9 }

    public var description: String { "tick \(tick) freq \(ppm) ppm" }
}

public enum ClockDiscipline {
    /// The error of the page's clocks against the kernel's under one setting.
    public struct Result: Sendable, Codable {
        public var setting: KernelClockRate
        /// The worst error in the first `transientSeconds` after the change, in ns.
        public var transientWorstMonotonic: Int64
        public var transientWorstRealtime: Int64
        /// From the change to the first timekeeper update after it, in ns: until then the
        /// page extrapolates at the old rate (one tick at most, unless the timekeeper ran late).
        public var firstUpdateDelay: Int64
        /// After that: the 99th percentile and the worst of |error|, in ns.
        public var steadyP99Monotonic: Int64
        public var steadyWorstMonotonic: Int64
        public var steadyP99Realtime: Int64
        public var steadyWorstRealtime: Int64
        public var samples: Int
    }

    /// The part of each setting's run counted as its transient.
    public static let transientSeconds = 0.2
    /// A sample whose kernel bracket is wider than this is dropped (preempted).
    static let bracket: Int64 = 2_000

    /// Applies each setting for `seconds` and measures; puts the kernel's original setting
    /// back at the end, also when a step fails.
    public static func measure(page: VsyscallPage, settings: [KernelClockRate], seconds: Double) throws -> [Result] {
        let original = try KernelClockRate.current()
        let before = now(CLOCK_MONOTONIC) - now(CLOCK_MONOTONIC_RAW)
        defer {
            try? original.apply()
            let drift = now(CLOCK_MONOTONIC) - now(CLOCK_MONOTONIC_RAW) - before
            _ = vu_kernel_clock_slew(Int(-drift / 1000))
        }
        var results: [Result] = []
        for setting in settings {
            try setting.apply()
            results.append(sample(page: page, setting: setting, seconds: seconds))
        }
        return results
    }

    static func now(_ clock: clockid_t) -> Int64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    static func sample(page: VsyscallPage, setting: KernelClockRate, seconds: Double) -> Result {
        let start = now(CLOCK_MONOTONIC)
        let end = start + Int64(seconds * 1e9)
        let transientEnd = start + Int64(transientSeconds * 1e9)
        var transient = (monotonic: Int64(0), realtime: Int64(0))
        var steadyMonotonic: [Int64] = [], steadyRealtime: [Int64] = []
        var count = 0
        var ts = timespec()
        let updatesAtChange = page.updates
        var firstUpdateDelay: Int64?
        while true {
            if firstUpdateDelay == nil, page.updates != updatesAtChange { firstUpdateDelay = now(CLOCK_MONOTONIC) - start }
            for (clock, id) in [(CLOCK_MONOTONIC, Int32(1)), (CLOCK_REALTIME, Int32(0))] {
                let k1 = now(clock)
                _ = page.clockGettime(id, &ts)
                let k2 = now(clock)
                guard k2 - k1 < bracket else { continue }
                let ours = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
                let error = abs(ours - (k1 + (k2 - k1) / 2))
                let at = now(CLOCK_MONOTONIC)
                count += 1
                if at < transientEnd {
                    if clock == CLOCK_MONOTONIC { transient.monotonic = max(transient.monotonic, error) }
                    else { transient.realtime = max(transient.realtime, error) }
                } else if clock == CLOCK_MONOTONIC {
                    steadyMonotonic.append(error)
                } else {
                    steadyRealtime.append(error)
                }
            }
            if now(CLOCK_MONOTONIC) >= end { break }
            // About 20,000 samples a second: enough to see every tick, little CPU.
            usleep(50)
        }
        func p99(_ v: [Int64]) -> Int64 { v.isEmpty ? 0 : v.sorted()[min(v.count - 1, v.count * 99 / 100)] }
        return Result(setting: setting, transientWorstMonotonic: transient.monotonic, transientWorstRealtime: transient.realtime,
                      firstUpdateDelay: firstUpdateDelay ?? Int64(seconds * 1e9),
                      steadyP99Monotonic: p99(steadyMonotonic), steadyWorstMonotonic: steadyMonotonic.max() ?? 0,
                      steadyP99Realtime: p99(steadyRealtime), steadyWorstRealtime: steadyRealtime.max() ?? 0, samples: count)
    }
}
