// The default matrix: every path of every entry of our page, single-stepped, every walker
// judged at every instruction against the trampoline's ground truth (the return address,
// the stack pointer after the return, the sentinels; an outside fact, not our unwinder).

import StackWalk
import TestSupport
import Unwind
import Vsyscall
import XCTest

final class PageMatrixTests: XCTestCase {
    static let walkerNames = ["vunwind", "libunwind-ptrace", "libdwfl", "frame-pointer", "eu-stack", "libgcc", "libunwind-local",
                              "vunwind-local", "gdb"]
    static let cfiWalkers = ["vunwind", "libunwind-ptrace", "libdwfl", "eu-stack", "libgcc", "libunwind-local", "vunwind-local", "gdb"]

    /// The whole default matrix once per test process, with what the observer saw.
    struct Run {
        var report: WalkReport
        /// Function names at the judged stops, per subject path ("vgettimeofday sigsegv").
        var functions: [String: Set<String>]
        /// Stops at which our reference walk crossed a signal frame, per subject path.
        var signalFrameStops: [String: Int]
    }

    nonisolated(unsafe) static var shared: Result<Run, Error>?

    static func run() throws -> Run {
        if let r = shared { return try r.get() }
        let result = Result { () throws -> Run in
            let tester = StackWalkTester(helper: try Tools.product("vunwind-walk-subject"), walkers: StackWalkTester.remoteWalkers())
            tester.inProcess = true
            tester.gdb = true
            tester.euStack = true
            var functions: [String: Set<String>] = [:]
            var signalStops: [String: Int] = [:]
            tester.observer = { subject, stop in
                let pc = stop.registers.rip
                let name = stop.modules.module(containing: pc)?.symbol(for: pc)?.name ?? "?"
                functions[subject.description, default: []].insert(name)
                if stop.reference.frames.contains(where: \.isSignalFrame) { signalStops[subject.description, default: 0] += 1 }
            }
            return Run(report: try tester.run(WalkSubject.page), functions: functions, signalFrameStops: signalStops)
        }
        shared = result
        return try result.get()
    }

    func cell(_ report: WalkReport, _ walker: String, _ entry: EntryKind, _ path: String) throws -> WalkCell {
        try XCTUnwrap(report.cells.first { $0.walker == walker && $0.subject == entry.name && $0.path == path },
                      "no cell \(walker) \(entry.name) \(path)")
    }

    func testEveryCFIWalkerPassesAtEveryInstructionOfEveryPathOfEveryEntry() throws {
        let report = try Self.run().report
        XCTAssertEqual(report.cells.count, WalkSubject.page.count * Self.walkerNames.count)
        XCTAssertEqual(WalkSubject.page.count, 19)
        for subject in WalkSubject.page {
            guard case let .page(entry, path) = subject.target else { continue }
            for walker in Self.cfiWalkers {
                let c = try cell(report, walker, entry, path.rawValue)
                // eu-stack is sampled (see below); every other walker sees every stop.
                XCTAssertGreaterThan(c.stops, walker == "eu-stack" ? 1 : 10, "\(walker) \(subject)")
                XCTAssertEqual(c.passed, c.stops, "\(walker) \(subject)")
                XCTAssertEqual(c.failed, 0, "\(walker) \(subject)")
                XCTAssertEqual(c.expected, 0, "\(walker) \(subject)")
            }
        }
        XCTAssertEqual(report.failures, [])
        XCTAssertTrue(report.passed)
    }

    /// In-process trap-flag stepping has no stop at the instruction right after `syscall`
    /// (sysret restores TF, and the trap comes after the next instruction), so a path
    /// through one fallback syscall has exactly one stop fewer than under ptrace. (The
    /// syscall paths read no clock, so their instruction counts are the same in every run;
    /// the fast paths' are not: the clock read normalizes nanoseconds in a loop whose
    /// passes depend on the time since the last update.)
    func testInProcessSteppingMissesExactlyTheInstructionAfterEachSyscall() throws {
        let report = try Self.run().report
        for entry in [EntryKind.gettimeofday, .time, .clockGettime] {
            XCTAssertEqual(try cell(report, "libgcc", entry, "syscall").instructions,
                           try cell(report, "vunwind", entry, "syscall").instructions - 1, entry.name)
            XCTAssertEqual(try cell(report, "libunwind-local", entry, "syscall").instructions,
                           try cell(report, "vunwind", entry, "syscall").instructions - 1, entry.name)
        }
        XCTAssertEqual(try cell(report, "libgcc", .clockGettime, "badclock").instructions,
                       try cell(report, "vunwind", .clockGettime, "badclock").instructions - 1)
    }

    /// eu-stack is sampled: the first stop, every 25th, and the last (the entry's `ret`),
    /// and nothing failed elsewhere to add more.
    func testEuStackIsSampledAtTheFirstEveryTwentyFifthAndTheLastStop() throws {
        let report = try Self.run().report
        for subject in WalkSubject.page {
            guard case let .page(entry, path) = subject.target else { continue }
            let n = try cell(report, "vunwind", entry, path.rawValue).stops
            let expected = 1 + n / 25 + (n % 25 == 0 || n == 1 ? 0 : 1)
            XCTAssertEqual(try cell(report, "eu-stack", entry, path.rawValue).stops, expected, "\(subject)")
        }
    }

    /// Each entry pushes rbp and sets it as its frame pointer: the rbp chain misses the
    /// entry's caller exactly at its first instruction (push rbp), its second (mov rsp, rbp)
    /// and its ret (after pop rbp), and those failures are the declared ones.
    func testFramePointerWalkerFailsOnlyWhereDeclaredAndThreeTimesPerEntry() throws {
        let report = try Self.run().report
        for subject in WalkSubject.page {
            guard case let .page(entry, path) = subject.target else { continue }
            let c = try cell(report, "frame-pointer", entry, path.rawValue)
            XCTAssertEqual(c.failed, 0, "\(subject)")
            XCTAssertEqual(c.expected, 3, "\(subject)")
            XCTAssertEqual(c.passed, c.stops - 3, "\(subject)")
        }
    }

    /// The paths are the paths they claim: the retry path runs more instructions than the
    /// fast one (the reader looped on the held lock), the fault paths step through a signal
    /// handler and, for more than ten stops, a signal frame; the syscall paths run fewer
    /// instructions than fast (no clock read).
    func testEachPathRunsTheCodeItNames() throws {
        let run = try Self.run()
        func instructions(_ entry: EntryKind, _ path: String) throws -> Int {
            try cell(run.report, "vunwind", entry, path).instructions
        }
        for entry in [EntryKind.gettimeofday, .time, .clockGettime] {
            XCTAssertGreaterThan(try instructions(entry, "retry"), try instructions(entry, "fast"), entry.name)
            XCTAssertLessThan(try instructions(entry, "syscall"), try instructions(entry, "fast"), entry.name)
        }
        for entry in EntryKind.allCases {
            let efault = run.functions["\(entry.name) efault"] ?? []
            let sigsegv = run.functions["\(entry.name) sigsegv"] ?? []
            // "handler" is the fixup handler (CVunwind fault.c); the sigsegv handler calls
            // libc's __mprotect. (__restore_rt has no symbol in libc's tables; the signal
            // frame is seen in the reference walk instead.)
            XCTAssertTrue(efault.isSuperset(of: [entry.name, "handler"]), "\(entry.name): \(efault.sorted())")
            XCTAssertTrue(sigsegv.isSuperset(of: [entry.name, "vu_walk_segv", "__mprotect"]), "\(entry.name): \(sigsegv.sorted())")
            XCTAssertEqual(run.functions["\(entry.name) fast"], [entry.name])
            XCTAssertGreaterThan(run.signalFrameStops["\(entry.name) efault"] ?? 0, 10, entry.name)
            XCTAssertGreaterThan(run.signalFrameStops["\(entry.name) sigsegv"] ?? 0, 10, entry.name)
            XCTAssertNil(run.signalFrameStops["\(entry.name) fast"], entry.name)
        }
    }
}
