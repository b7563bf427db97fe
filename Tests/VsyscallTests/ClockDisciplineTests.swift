// Clock discipline (issue 9 item 5): the page's clocks follow the kernel's when adjtimex
// changes its rate, as NTP daemons do, and its timezone when settimeofday sets one.
// Before: a 1 % tick change left MONOTONIC 9 ms off within 1.5 s (23.5 ms within 3 s),
// and the timezone never followed until a re-install. Judged against the kernel's own
// clock_gettime and gettimeofday; each test puts back the setting it changed, and holds
// KernelClockLock so that ClockTests never run while the kernel's rate is moved.

import CVunwind
import Foundation
import TestSupport
import Vsyscall
import XCTest

final class ClockDisciplineTests: XCTestCase {
    /// The page's error after a rate change peaks at the change times the time until the
    /// next update sees it: one tick, or longer when that update ran late (measured: the
    /// timekeeper preempted on a busy machine), plus the bracket's share.
    func transientBound(from a: KernelClockRate, to b: KernelClockRate, tick: Duration, firstUpdateDelay: Int64) -> Int64 {
        let tickNanoseconds = Double(tick.components.seconds) * 1e9 + Double(tick.components.attoseconds) / 1e9
        return Int64(abs(b.rate - a.rate) * max(tickNanoseconds, Double(firstUpdateDelay))) + 20_000
    }

    func check(_ settings: [KernelClockRate], seconds: Double) throws {
        try KernelClockLock.exclusive {
            let original = try KernelClockRate.current()
            XCTAssertEqual(original, KernelClockRate(tick: 10000, frequency: 0), "the kernel's clock is already disciplined")
            let page = try Vsyscall.install(registrars: [])
            defer { XCTAssertNoThrow(try page.uninstall()) }
            XCTAssertEqual(page.clockMode, .tsc)
            let results = try ClockDiscipline.measure(page: page, settings: settings, seconds: seconds)
            XCTAssertEqual(try KernelClockRate.current(), original, "the kernel's setting was not put back")
            var previous = original
            for r in results {
                let bound = transientBound(from: previous, to: r.setting, tick: page.tick, firstUpdateDelay: r.firstUpdateDelay)
                // A late update widens the bound, within reason: the timekeeper still runs.
                XCTAssertLessThan(r.firstUpdateDelay, 100_000_000, "\(r.setting): no update for 100 ms after the change")
                XCTAssertLessThan(r.transientWorstMonotonic, bound, "\(r.setting) after \(previous): MONOTONIC")
                XCTAssertLessThan(r.transientWorstRealtime, bound, "\(r.setting) after \(previous): REALTIME")
                XCTAssertLessThan(r.steadyP99Monotonic, 5_000, "\(r.setting): MONOTONIC p99")
                XCTAssertLessThan(r.steadyP99Realtime, 5_000, "\(r.setting): REALTIME p99")
                XCTAssertLessThan(r.steadyWorstMonotonic, 100_000, "\(r.setting): MONOTONIC worst")
                XCTAssertLessThan(r.steadyWorstRealtime, 100_000, "\(r.setting): REALTIME worst")
                XCTAssertGreaterThan(r.samples, 1000, "\(r.setting)")
                previous = r.setting
            }
        }
    }

    func testAOnePercentTickChangeEitherWayKeepsBothClocksWithinATicksShareAndUnderFiveMicrosecondsAfter() throws {
        try check([KernelClockRate(tick: 9900, frequency: 0), KernelClockRate(tick: 10100, frequency: 0),
                   KernelClockRate(tick: 10000, frequency: 0)], seconds: 1.5)
    }

    func testTheFrequencyAtBothEndsOfTheKernelsRangeKeepsBothClocksUnderFiveMicroseconds() throws {
        try check([KernelClockRate(tick: 10000, ppm: 500), KernelClockRate(tick: 10000, ppm: -500),
                   KernelClockRate(tick: 10000, frequency: 0)], seconds: 1)
    }

    func testTheTimezoneFollowsSettimeofdayWithinAFewTicks() throws {
        try KernelClockLock.exclusive {
            var tv = timeval(), original = timezone()
            XCTAssertEqual(gettimeofday(&tv, &original), 0)
            // The kernel's first settimeofday with a tz and no time since boot also warps
            // the clock by the tz (timekeeping_warp_clock): spend it on the current tz,
            // which changes nothing.
            XCTAssertEqual(settimeofday(nil, &original), 0, String(cString: strerror(errno)))
            defer { XCTAssertEqual(settimeofday(nil, &original), 0) }
            let page = try Vsyscall.install(tick: .milliseconds(4), registrars: [])
            defer { XCTAssertNoThrow(try page.uninstall()) }
            XCTAssertEqual(page.clockMode, .tsc)
            var tz = timezone()
            XCTAssertEqual(page.gettimeofday(&tv, &tz), 0)
            XCTAssertEqual(tz.tz_minuteswest, original.tz_minuteswest)
            var changed = timezone(tz_minuteswest: original.tz_minuteswest == -120 ? 300 : -120, tz_dsttime: 0)
            XCTAssertEqual(settimeofday(nil, &changed), 0)
            // Bounded: 500 polls of 1 ms, about 125 ticks.
            var seen = tz
            for _ in 0..<500 where seen.tz_minuteswest != changed.tz_minuteswest {
                usleep(1000)
                XCTAssertEqual(page.gettimeofday(&tv, &seen), 0)
            }
            XCTAssertEqual(seen.tz_minuteswest, changed.tz_minuteswest)
            XCTAssertEqual(seen.tz_dsttime, changed.tz_dsttime)
        }
    }
}
