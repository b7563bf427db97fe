// The installed page's clocks against the kernel's own (clock_gettime from Glibc, through
// the kernel's vDSO: the kernel's clock). One page per process, so each test installs
// and uninstalls its own.
//
// Timing: the machine may be busy (2 CPUs, other tests in parallel), so every bound is on
// a percentile or on a property a delay cannot break (order within a thread, equality
// of values read between brackets); nothing is asserted on elapsed time.

import CVunwind
import Foundation
import Locking
import TestSupport
import Vsyscall
import XCTest

final class ClockTests: XCTestCase {
    // ClockDisciplineTests change the kernel's rate; these bounds assume nobody does.
    override func invokeTest() {
        XCTAssertNoThrow(try KernelClockLock.shared { super.invokeTest() })
    }

    // MARK: Helpers

    func withPage(clockMode: ClockMode? = nil, _ body: (VsyscallPage) throws -> Void) throws {
        let page = try Vsyscall.install(clockMode: clockMode)
        defer { XCTAssertNoThrow(try page.uninstall()) }
        try body(page)
    }

    static func nanoseconds(_ ts: timespec) -> Int64 { Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) }

    static func kernel(_ clock: Int32) -> Int64 {
        var ts = timespec()
        precondition(clock_gettime(clockid_t(clock), &ts) == 0)
        return nanoseconds(ts)
    }

    /// How far `[v, v + width]` (a reading and its resolution) is from the kernel's
    /// bracket `[k1, k2]`: 0 when they meet.
    static func deviation(_ v: Int64, width: Int64 = 0, _ k1: Int64, _ k2: Int64) -> Int64 {
        if v + width < k1 { return k1 - (v + width) }
        if v > k2 { return v - k2 }
        return 0
    }

    struct Percentiles: CustomStringConvertible {
        var count: Int, zero: Int, p50: Int64, p99: Int64, p999: Int64, worst: Int64
        init(_ samples: [Int64]) {
            let s = samples.sorted()
            func at(_ q: Double) -> Int64 { s[min(s.count - 1, Int((Double(s.count - 1) * q).rounded(.up)))] }
            count = s.count
            zero = s.prefix { $0 == 0 }.count
            p50 = at(0.5); p99 = at(0.99); p999 = at(0.999); worst = s.last ?? 0
        }
        var description: String {
            "\(count) samples, \(zero) inside the kernel's bracket; p50 \(p50) ns, p99 \(p99) ns, p99.9 \(p999) ns, worst \(worst) ns"
        }
    }

    /// CPUs this thread may run on (after vu_unpin: every CPU its cpuset allows), from
    /// /proc/thread-self/status, e.g. "0-3,6".
    static func allowedCPUs() -> [Int32] {
        vu_unpin()
        guard let status = try? String(contentsOfFile: "/proc/thread-self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return Array(0..<vu_cpu_count()) }
        return line.dropFirst("Cpus_allowed_list:".count).split(separator: ",").flatMap { part -> [Int32] in
            let ends = part.split(separator: "-").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
            guard let first = ends.first else { return [] }
            return Array(first...(ends.last ?? first))
        }
    }

    /// CPUs this thread may be pinned to, with their NUMA nodes (from sysfs; 0 without it).
    static func cpusAndNodes() -> [(cpu: Int32, node: UInt32)] {
        allowedCPUs().map { cpu in
            let dir = "/sys/devices/system/cpu/cpu\(cpu)"
            let node = (try? FileManager.default.contentsOfDirectory(atPath: dir))?
                .first { $0.hasPrefix("node") }.flatMap { UInt32($0.dropFirst(4)) } ?? 0
            return (cpu, node)
        }
    }

    // MARK: (a) MONOTONIC never decreases

    func testMonotonicNeverDecreasesWithinAThreadAcrossTenMillionCallsAndManyTicks() throws {
        try withPage { page in
            XCTAssertEqual(page.clockMode, .tsc, "this machine has an invariant TSC: the entries must use it")
            let clockGettime = page.clockGettime
            let perThread = 5_000_000
            let startUpdates = page.updates
            struct Outcome: Sendable { var calls = 0, failures = 0, backsteps = 0, worstBackstep: Int64 = 0, first: Int64 = 0, last: Int64 = 0 }
            let outcomes = Locked<[Outcome]>([])
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                var o = Outcome()
                var ts = timespec()
                var previous = Int64.min
                // At least perThread calls, and on until 25 updates are behind us (a cap of
                // 20x keeps a stalled timekeeper from hanging the test; the assertion below
                // then fails).
                while o.calls < perThread || (page.updates - startUpdates < 25 && o.calls < 20 * perThread) {
                    if clockGettime(CLOCK_MONOTONIC, &ts) != 0 { o.failures += 1 }
                    let v = Int64(ts.tv_sec) &* 1_000_000_000 &+ Int64(ts.tv_nsec)
                    if v < previous {
                        o.backsteps += 1
                        o.worstBackstep = max(o.worstBackstep, previous - v)
                    }
                    if o.calls == 0 { o.first = v }
                    previous = v
                    o.calls += 1
                }
                o.last = previous
                outcomes.withLock { $0.append(o) }
            }
            let updates = page.updates - startUpdates
            let all = outcomes.withLock { $0 }
            print("monotonic: \(all.map(\.calls)) calls over \(updates) timekeeper updates, "
                  + "spans \(all.map { ($0.last - $0.first) / 1_000_000 }) ms")
            XCTAssertEqual(all.count, 2)
            XCTAssertGreaterThanOrEqual(all.reduce(0) { $0 + $1.calls }, 10_000_000)
            XCTAssertGreaterThanOrEqual(updates, 25)
            for o in all {
                XCTAssertEqual(o.failures, 0)
                XCTAssertEqual(o.backsteps, 0, "MONOTONIC went back by up to \(o.worstBackstep) ns")
                XCTAssertGreaterThan(o.last, o.first)
            }
        }
    }

    // MARK: (b) REALTIME within 5 us of the kernel's

    func testRealtimeStaysWithinFiveMicrosecondsOfTheKernelsAtTheNinetyNinthPercentile() throws {
        try withPage { page in
            XCTAssertEqual(page.clockMode, .tsc)
            let (gettimeofday, clockGettime) = (page.gettimeofday, page.clockGettime)
            var tod: [Int64] = [], real: [Int64] = [], mono: [Int64] = []
            let batches = 200, perBatch = 1000
            tod.reserveCapacity(batches * perBatch)
            real.reserveCapacity(batches * perBatch)
            mono.reserveCapacity(batches * perBatch)
            var failures = 0
            let startUpdates = page.updates
            let start = Self.kernel(CLOCK_MONOTONIC)
            var tv = timeval(), ts = timespec()
            for batch in 0..<batches {
                for _ in 0..<perBatch {
                    var k1 = Self.kernel(CLOCK_REALTIME)
                    if gettimeofday(&tv, nil) != 0 { failures += 1 }
                    var k2 = Self.kernel(CLOCK_REALTIME)
                    // Microseconds, truncated: the true time is in [v, v + 999 ns].
                    tod.append(Self.deviation(Int64(tv.tv_sec) * 1_000_000_000 + Int64(tv.tv_usec) * 1000, width: 999, k1, k2))
                    k1 = Self.kernel(CLOCK_REALTIME)
                    if clockGettime(CLOCK_REALTIME, &ts) != 0 { failures += 1 }
                    k2 = Self.kernel(CLOCK_REALTIME)
                    real.append(Self.deviation(Self.nanoseconds(ts), k1, k2))
                    k1 = Self.kernel(CLOCK_MONOTONIC)
                    if clockGettime(CLOCK_MONOTONIC, &ts) != 0 { failures += 1 }
                    k2 = Self.kernel(CLOCK_MONOTONIC)
                    mono.append(Self.deviation(Self.nanoseconds(ts), k1, k2))
                }
                // 3-7 ms apart: every phase of the 4 ms tick, over more than a second.
                usleep(UInt32(3000 + (batch * 1700) % 4000))
            }
            let span = Self.kernel(CLOCK_MONOTONIC) - start
            let updates = page.updates - startUpdates
            let results = [("vgettimeofday", Percentiles(tod)), ("vclock_gettime(REALTIME)", Percentiles(real)),
                           ("vclock_gettime(MONOTONIC)", Percentiles(mono))]
            print("deviation from the kernel over \(span / 1_000_000) ms and \(updates) timekeeper updates:")
            for (name, p) in results { print("  \(name): \(p)") }
            XCTAssertEqual(failures, 0)
            XCTAssertGreaterThanOrEqual(span, 1_000_000_000)
            XCTAssertGreaterThanOrEqual(updates, 50, "the samples must cover many ticks")
            for (name, p) in results {
                XCTAssertLessThan(p.p99, 5_000, "\(name): \(p)")
                XCTAssertLessThan(p.worst, 1_000_000, "\(name): \(p)")
            }
        }
    }

    // MARK: (c) vgetcpu

    func testGetcpuAgreesWithSchedGetcpuOnEveryCPUIncludingTheNode() throws {
        try withPage { page in
            defer { vu_unpin() }
            let getcpu = page.getcpu
            var checked = 0
            let cpus = Self.cpusAndNodes()
            XCTAssertGreaterThan(cpus.count, 0)
            for (cpu, node) in cpus {
                guard vu_pin_to_cpu(cpu) == 0 else {
                    XCTFail("cannot pin to CPU \(cpu), which this thread is allowed")
                    continue
                }
                var mismatches: [String] = []
                for _ in 0..<2000 {
                    var c: UInt32 = .max, n: UInt32 = .max
                    let before = vu_sched_getcpu()
                    let rc = getcpu(&c, &n, nil)
                    let after = vu_sched_getcpu()
                    if rc != 0 || before != cpu || after != cpu || c != UInt32(cpu) || n != node {
                        mismatches.append("rc \(rc) cpu \(c) node \(n), sched_getcpu \(before)/\(after)")
                    }
                }
                XCTAssertEqual(mismatches.count, 0, "pinned to CPU \(cpu) (node \(node)): \(mismatches.prefix(3))")
                // Either pointer may be NULL.
                var c: UInt32 = .max, n: UInt32 = .max
                XCTAssertEqual(getcpu(&c, nil, nil), 0)
                XCTAssertEqual(c, UInt32(cpu))
                XCTAssertEqual(getcpu(nil, &n, nil), 0)
                XCTAssertEqual(n, node)
                XCTAssertEqual(getcpu(nil, nil, nil), 0)
                checked += 1
            }
            XCTAssertEqual(checked, cpus.count)
        }
    }

    // MARK: (d) vtime

    func testTimeEqualsTheSecondsOfGettimeofdayAndStoresWhatItReturns() throws {
        try withPage { page in
            let (gettimeofday, time) = (page.gettimeofday, page.time)
            var compared = 0, mismatches: [String] = []
            var a = timeval(), b = timeval()
            for i in 0..<200_000 {
                _ = gettimeofday(&a, nil)
                let t = time(nil)
                _ = gettimeofday(&b, nil)
                if a.tv_sec == b.tv_sec {
                    compared += 1
                    if t != a.tv_sec { mismatches.append("\(a.tv_sec).\(a.tv_usec) <= \(t) <= \(b.tv_sec).\(b.tv_usec)") }
                }
                if i % 20_000 == 0 { usleep(1500) }
            }
            XCTAssertEqual(mismatches.count, 0, "\(mismatches.prefix(3))")
            XCTAssertGreaterThan(compared, 190_000)
            // A second boundary may fall inside a bracket; try until it does not.
            var stored = 0
            for _ in 0..<100 {
                stored = -1
                _ = gettimeofday(&a, nil)
                let t = time(&stored)
                _ = gettimeofday(&b, nil)
                XCTAssertEqual(t, stored)
                if a.tv_sec == b.tv_sec {
                    XCTAssertEqual(t, a.tv_sec)
                    break
                }
            }
            XCTAssertNotEqual(stored, -1)
        }
    }

    // MARK: (e) clock mode, fallbacks, coarse clocks

    /// Every entry, read between two kernel reads; all must be right with the given page.
    func checkEveryEntryAgainstTheKernel(_ page: VsyscallPage, samples: Int) {
        var worst: [String: Int64] = [:]
        var failures: [String] = []
        var tv = timeval(), ts = timespec()
        for _ in 0..<samples {
            var k1 = Self.kernel(CLOCK_REALTIME)
            var rc = page.gettimeofday(&tv, nil)
            var k2 = Self.kernel(CLOCK_REALTIME)
            if rc != 0 { failures.append("gettimeofday \(rc)") }
            let d1 = Self.deviation(Int64(tv.tv_sec) * 1_000_000_000 + Int64(tv.tv_usec) * 1000, width: 999, k1, k2)
            worst["vgettimeofday", default: 0] = max(worst["vgettimeofday", default: 0], d1)
            for (name, clock) in [("REALTIME", CLOCK_REALTIME), ("MONOTONIC", CLOCK_MONOTONIC)] {
                k1 = Self.kernel(clock)
                rc = page.clockGettime(clock, &ts)
                k2 = Self.kernel(clock)
                if rc != 0 { failures.append("clock_gettime(\(name)) \(rc)") }
                worst[name, default: 0] = max(worst[name, default: 0], Self.deviation(Self.nanoseconds(ts), k1, k2))
            }
            let s1 = Self.kernel(CLOCK_REALTIME) / 1_000_000_000
            let t = page.time(nil)
            let s2 = Self.kernel(CLOCK_REALTIME) / 1_000_000_000
            if t < s1 || t > s2 { failures.append("time \(t) outside [\(s1), \(s2)]") }
        }
        XCTAssertEqual(failures, [])
        print("\(page.clockMode) mode, worst deviations (ns): \(worst.sorted { $0.key < $1.key })")
        if page.clockMode == .syscall {
            // The real syscall reads the kernel's clock: always inside the bracket.
            for (name, d) in worst { XCTAssertEqual(d, 0, name) }
        }
    }

    func testSyscallModeAnswersEveryEntryThroughTheRealSyscall() throws {
        try withPage(clockMode: .syscall) { page in
            XCTAssertEqual(page.clockMode, .syscall)
            XCTAssertEqual(page.vvar.load(fromByteOffset: VvarLayout.clockMode, as: UInt32.self), ClockMode.syscall.rawValue)
            // No timekeeper runs: the data page holds no time at all, so right answers can
            // only have come from the kernel.
            usleep(20_000)
            XCTAssertEqual(page.updates, 0)
            XCTAssertEqual(page.vvar.load(fromByteOffset: VvarLayout.realtimeSeconds, as: UInt64.self), 0)
            XCTAssertEqual(page.vvar.load(fromByteOffset: VvarLayout.mult, as: UInt64.self), 0)
            checkEveryEntryAgainstTheKernel(page, samples: 2000)
            var ts = timespec()
            XCTAssertEqual(page.clockGettime(99, &ts), -22)
            XCTAssertEqual(page.clockGettime(CLOCK_REALTIME_COARSE, &ts), 0)
            XCTAssertEqual(page.clockGettime(CLOCK_MONOTONIC_COARSE, &ts), 0)
            defer { vu_unpin() }
            for (cpu, node) in Self.cpusAndNodes() where vu_pin_to_cpu(cpu) == 0 {
                var c: UInt32 = .max, n: UInt32 = .max
                XCTAssertEqual(page.getcpu(&c, &n, nil), 0)
                XCTAssertEqual(c, UInt32(cpu))
                XCTAssertEqual(n, node)
            }
        }
    }

    func testTSCModeEntriesAgreeWithTheKernel() throws {
        try withPage { page in
            XCTAssertEqual(page.clockMode, .tsc)
            XCTAssertEqual(page.vvar.load(fromByteOffset: VvarLayout.clockMode, as: UInt32.self), ClockMode.tsc.rawValue)
            checkEveryEntryAgainstTheKernel(page, samples: 2000)
        }
    }

    func testClocksTheEntryDoesNotHandleFallBackToTheSyscallInTSCMode() throws {
        try withPage { page in
            XCTAssertEqual(page.clockMode, .tsc)
            var ts = timespec()
            // Clocks the kernel keeps that the page does not: the syscall's answer, inside
            // the kernel's own bracket.
            let fallbacks: [(String, Int32)] = [("PROCESS_CPUTIME_ID", CLOCK_PROCESS_CPUTIME_ID),
                                                ("THREAD_CPUTIME_ID", CLOCK_THREAD_CPUTIME_ID),
                                                ("MONOTONIC_RAW", CLOCK_MONOTONIC_RAW), ("BOOTTIME", CLOCK_BOOTTIME),
                                                ("TAI", 11),
                                                // The calling thread's CPU clock by id: ~0 << 3 | per-thread | SCHED.
                                                ("this thread's CPU clock", -2)]
            for (name, clock) in fallbacks {
                for _ in 0..<200 {
                    let k1 = Self.kernel(clock)
                    let rc = page.clockGettime(clock, &ts)
                    let k2 = Self.kernel(clock)
                    XCTAssertEqual(rc, 0, name)
                    let v = Self.nanoseconds(ts)
                    guard k1 <= v && v <= k2 else { return XCTFail("\(name): \(v) not in [\(k1), \(k2)]") }
                }
            }
            // An invalid clock is the kernel's error, exactly.
            for clock: Int32 in [99, 12, 16, Int32.max] {
                ts = timespec(tv_sec: 1234, tv_nsec: 5678)
                XCTAssertEqual(page.clockGettime(clock, &ts), -22, "clock \(clock)")
                XCTAssertEqual(ts.tv_sec, 1234, "clock \(clock): nothing stored")
            }
        }
    }

    /// A coarse clock is the time the vvar last published. That is a fact about each
    /// reading that holds under any load (the timekeeper may wake late; a bound in ticks
    /// would be a timed assertion): the reading is not ahead of the kernel's fine clock read
    /// just after it, and not behind the kernel's fine clock at the last moment we saw the
    /// lock's first counter without the write section that published it (the section, and
    /// the TSC read inside it that the update is the time of, came after that moment),
    /// each within 1 ms for the page's calibration against the kernel. The first counter,
    /// not the update count: that one moves when the section ends, and a timekeeper
    /// preempted inside its section (2 ms, seen in CI on a loaded machine) publishes a
    /// time from before a poll that still saw the old count. And a reader that finds the
    /// section open for all its bounded retries (the timekeeper preempted inside it) takes
    /// the syscall, whose answer is the kernel's own coarse clock, up to a kernel tick old:
    /// such a reading is checked against the kernel's coarse clock read around it instead.
    func testCoarseClocksAreTheTimeOfTheLastUpdateNeverAheadOfTheKernelAndNeverOlderThanThatUpdate() throws {
        try withPage { page in
            XCTAssertEqual(page.clockMode, .tsc)
            let slack: Int64 = 1_000_000
            var ts = timespec()
            var lags: [String: [Int64]] = [:]
            var fallbacks: [String: Int] = [:]
            for (name, coarse, fine) in [("REALTIME_COARSE", CLOCK_REALTIME_COARSE, CLOCK_REALTIME),
                                         ("MONOTONIC_COARSE", CLOCK_MONOTONIC_COARSE, CLOCK_MONOTONIC)] {
                // sequence1: bumped as a write section begins (VvarLayout), read as the
                // readers read it, from the page's read-only vvar.
                let begun = { page.vvar.load(fromByteOffset: VvarLayout.sequence1, as: UInt32.self) }
                var seen = begun()
                // The update in place before the loop could be of any age: no floor until
                // the loop has seen one happen.
                var beforeSeen = Int64.min / 2
                var lastPoll = beforeSeen
                for i in 0..<2000 {
                    let poll = Self.kernel(fine)
                    let u = begun()
                    if u != seen {
                        seen = u
                        beforeSeen = lastPoll
                    }
                    lastPoll = poll
                    let kc1 = Self.kernel(coarse)
                    XCTAssertEqual(page.clockGettime(coarse, &ts), 0)
                    let k2 = Self.kernel(fine)
                    let kc2 = Self.kernel(coarse)
                    let v = Self.nanoseconds(ts)
                    // The update read may be newer than the counter read just before it.
                    let newest = begun()
                    let floor = newest == seen ? beforeSeen : max(lastPoll, beforeSeen)
                    guard v <= k2 + slack else { return XCTFail("\(name): \(v) is ahead of the kernel's \(k2)") }
                    guard v >= floor - slack || (kc1 <= v && v <= kc2) else {
                        return XCTFail("\(name): \(v) is older than its update (after \(floor)) and not the kernel's "
                                       + "coarse clock [\(kc1), \(kc2)], sample \(i)")
                    }
                    if v < floor - slack { fallbacks[name, default: 0] += 1 }
                    lags[name, default: []].append(k2 - v)
                    if i % 8 == 0 { usleep(UInt32(200 + (i * 37) % 1000)) }
                }
            }
            for (name, samples) in lags.sorted(by: { $0.key < $1.key }) {
                print("\(name): lag behind the kernel's fine clock \(Percentiles(samples)); "
                      + "\(fallbacks[name] ?? 0) readings were the syscall's")
            }
        }
    }
}
