// `vunwind bench vsyscall`: the command runs every candidate and reports a positive figure
// for each, with the ratios of our entries to the vDSO's; `vunwind bench clock` runs every
// adjtimex setting and puts the kernel's back. Speed itself is never asserted
// here (a loaded CI machine would make such a test flaky); the command is where it is
// measured.

import Foundation
import TestSupport
import XCTest

final class BenchCommandTests: XCTestCase {
    struct Report: Decodable {
        struct Candidate: Decodable {
            var name: String
            var kind: String
            var medianCycles: Double
            var minimumCycles: Double
            var maximumCycles: Double
            var anchor: String?
            var ratio: Double?
        }
        struct Unavailable: Decodable {
            var name: String
            var reason: String
        }
        struct Ratio: Decodable {
            var ours: String
            var anchor: String
            var ratio: Double
        }
        var rounds: Int
        var calls: Int
        var candidates: [Candidate]
        var unavailable: [Unavailable]
        var ratios: [Ratio]
    }

    func testBenchVsyscallReportsEveryCandidateWithRatiosAsJSON() throws {
        let r = try Subprocess.run(try Tools.product("vunwind"),
                                   ["bench", "vsyscall", "--rounds", "3", "--calls", "1000", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try JSONDecoder().decode(Report.self, from: r.stdoutBytes)
        XCTAssertEqual(report.rounds, 3)
        XCTAssertEqual(report.calls, 1000)

        let names = report.candidates.map(\.name) + report.unavailable.map(\.name)
        let expected = [
            "floor: return 0 (bare rdtscp loop)",
            "vgettimeofday(&tv, NULL)", "__vdso_gettimeofday(&tv, NULL)",
            "vclock_gettime(MONOTONIC, &ts)", "__vdso_clock_gettime(MONOTONIC, &ts)",
            "vclock_gettime(REALTIME, &ts)", "__vdso_clock_gettime(REALTIME, &ts)",
            "vtime(NULL)", "__vdso_time(NULL)",
            "vgetcpu(&cpu, &node, NULL)", "__vdso_getcpu(&cpu, &node, NULL)",
            "getpid syscall", "gettimeofday syscall (&tv, NULL)",
            "legacy [vsyscall] gettimeofday (&tv, NULL)",
        ]
        XCTAssertEqual(Set(names), Set(expected), "\(names)")
        XCTAssertEqual(names.count, expected.count, "every candidate exactly once: \(names)")
        // Only the legacy page may be missing (vsyscall=none, or mapped without x).
        XCTAssertTrue(report.unavailable.allSatisfy { $0.name.hasPrefix("legacy") }, "\(report.unavailable)")

        for c in report.candidates {
            XCTAssertGreaterThan(c.medianCycles, 0, c.name)
            XCTAssertGreaterThan(c.minimumCycles, 0, c.name)
            XCTAssertLessThanOrEqual(c.minimumCycles, c.medianCycles, c.name)
            XCTAssertLessThanOrEqual(c.medianCycles, c.maximumCycles, c.name)
        }
        // Every entry of ours carries its vDSO anchor and the ratio to it.
        let ours = report.candidates.filter { $0.kind == "ours" }
        XCTAssertEqual(ours.count, 5)
        for c in ours {
            let anchor = try XCTUnwrap(c.anchor, c.name)
            XCTAssertTrue(report.candidates.contains { $0.name == anchor && $0.kind == "vdso" }, anchor)
            let ratio = try XCTUnwrap(c.ratio, c.name)
            XCTAssertTrue(ratio.isFinite && ratio > 0, "\(c.name): \(ratio)")
        }
        XCTAssertEqual(Set(report.ratios.map(\.ours)), Set(ours.map(\.name)))
        XCTAssertTrue(report.ratios.allSatisfy { $0.ratio.isFinite && $0.ratio > 0 })
    }

    struct ClockReport: Decodable {
        struct Setting: Decodable, Equatable {
            var tick: Int
            var frequency: Int
        }
        struct Result: Decodable {
            var setting: Setting
            var transientWorstMonotonic: Int64
            var steadyP99Monotonic: Int64
            var steadyWorstRealtime: Int64
            var samples: Int
        }
        var tickMilliseconds: Double
        var results: [Result]
    }

    /// Measured values are not asserted (that is the command's job); the settings, their
    /// order, that each was sampled, and that the kernel's own setting came back are.
    func testBenchClockRunsEverySettingAcrossTheKernelsRangeAndPutsTheKernelsSettingBack() throws {
        try KernelClockLock.exclusive {
            let before = try Subprocess.run("/usr/bin/python3", ["-c", Self.readAdjtimex])
            XCTAssertEqual(before.stdout, "10000 0\n", before.stderr)
            let r = try Subprocess.run(try Tools.product("vunwind"), ["bench", "clock", "--seconds", "0.3", "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let report = try JSONDecoder().decode(ClockReport.self, from: Data(r.stdout.utf8))
            XCTAssertEqual(report.tickMilliseconds, 4)
            let ppm500 = 500 * 65536
            XCTAssertEqual(report.results.map(\.setting), [
                .init(tick: 10000, frequency: 0), .init(tick: 9900, frequency: 0), .init(tick: 10100, frequency: 0),
                .init(tick: 9000, frequency: 0), .init(tick: 11000, frequency: 0), .init(tick: 10000, frequency: ppm500),
                .init(tick: 10000, frequency: -ppm500), .init(tick: 9000, frequency: -ppm500),
                .init(tick: 11000, frequency: ppm500), .init(tick: 10000, frequency: 0),
            ])
            for x in report.results { XCTAssertGreaterThan(x.samples, 100, "\(x.setting)") }
            let after = try Subprocess.run("/usr/bin/python3", ["-c", Self.readAdjtimex])
            XCTAssertEqual(after.stdout, before.stdout)
        }
    }

    struct RowsReport: Decodable {
        struct Row: Decodable {
            var name: String
            var frames: Int?
            var medianNanoseconds: Double
            var minimumNanoseconds: Double
            var maximumNanoseconds: Double
            var anchor: String?
            var ratio: Double?
        }
        var rows: [Row]
    }

    /// Every unwinder walks the same 16 frames from the page entry's first instruction (the
    /// remote walks are judged by the trampoline's truth before they are timed).
    func testBenchUnwindTimesSixteenFrameWalksOfEveryUnwinderInProcessAndRemote() throws {
        let r = try Subprocess.run(try Tools.product("vunwind"), ["bench", "unwind", "--rounds", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try JSONDecoder().decode(RowsReport.self, from: Data(r.stdout.utf8))
        XCTAssertEqual(report.rows.map(\.name), [
            "in process: libgcc _Unwind_Backtrace", "in process: libunwind unw_step",
            "in process: vunwind DwarfUnwinder (a copy of the stack)",
            "remote: vunwind", "remote: libunwind-ptrace", "remote: libdwfl",
        ])
        XCTAssertEqual(report.rows.map(\.frames), [16, 16, 16, 16, 16, 16])
        XCTAssertEqual(report.rows.compactMap(\.anchor), ["in process: libgcc _Unwind_Backtrace", "remote: libunwind-ptrace"])
        for x in report.rows {
            XCTAssertGreaterThan(x.minimumNanoseconds, 0, x.name)
            XCTAssertLessThanOrEqual(x.minimumNanoseconds, x.medianNanoseconds, x.name)
            XCTAssertLessThanOrEqual(x.medianNanoseconds, x.maximumNanoseconds, x.name)
        }
    }

    /// The rows, their anchors, and a chart with one bar per ratio (an SVG that parses as
    /// XML, judged by Python's parser).
    func testBenchRegistrationReportsEveryRowBesideItsAnchorAndTheSVGHasOneBarPerRatio() throws {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let svg = dir.appendingPathComponent("bench.svg").path
        let r = try Subprocess.run(try Tools.product("vunwind"), ["bench", "registration", "--rounds", "1", "--json", "--svg", svg])
        XCTAssertEqual(r.status, 0, r.stderr)
        let report = try JSONDecoder().decode(RowsReport.self, from: Data(r.stdout.utf8))
        XCTAssertEqual(report.rows.map(\.name), [
            "install + uninstall, every registrar", "mmap + mprotect + munmap of the three pages",
            "register + deregister: libgcc", "register + deregister: libunwind", "register + deregister: gdb",
            "register + deregister: perf",
            "libgcc _Unwind_Find_FDE after 1000 other registrations", "libgcc _Unwind_Find_FDE alone",
            "libunwind unw_get_proc_info_by_ip after 1000 other registrations", "libunwind unw_get_proc_info_by_ip alone",
        ])
        XCTAssertEqual(report.rows.filter { $0.ratio != nil }.map(\.anchor), [
            "mmap + mprotect + munmap of the three pages", "libgcc _Unwind_Find_FDE alone", "libunwind unw_get_proc_info_by_ip alone",
        ])
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertEqual(text.components(separatedBy: "fill=\"#2e7d32\"").count + text.components(separatedBy: "fill=\"#e65100\"").count - 2, 3)
        XCTAssertTrue(text.contains(">registration: libunwind lookup, 1000 others / alone<"), text)
        let parse = try Subprocess.run("/usr/bin/python3", ["-c", "import sys, xml.etree.ElementTree as E; print(E.parse(sys.argv[1]).getroot().tag)", svg])
        XCTAssertEqual(parse.stdout, "{http://www.w3.org/2000/svg}svg\n", parse.stderr)
    }

    /// The kernel's tick and frequency, read by an outside program (adjtimex through ctypes).
    static let readAdjtimex = """
        import ctypes, struct
        b = ctypes.create_string_buffer(256)
        ctypes.CDLL(None).adjtimex(b)
        f = struct.unpack_from("<I4xqqqqi4xqqqqqqqq", b.raw)
        print(f[11], f[2])
        """

    func testBenchRejectsAnUnknownBenchmarkAndNonPositiveCounts() throws {
        let vunwind = try Tools.product("vunwind")
        for args in [["bench", "nothing"], ["bench", "vsyscall", "--calls", "0"], ["bench", "vsyscall", "--rounds", "0"],
                     ["bench", "clock", "--seconds", "0.1"]] {
            let r = try Subprocess.run(vunwind, args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
        }
    }
}
