// SideEffectTests: what linking and installing the page does to a C program, and nothing
// more (issue 9 items 5 and 6; the README's "Using the page" lists the same). Judged by the
// kernel's view of the process (/proc/self, sigaction) at main, after install and after
// uninstall.

import Foundation
import TestSupport
import XCTest

final class SideEffectTests: XCTestCase {
    struct Point { var signals: [Int] = []; var threads = 0; var fds: [Int] = []; var maps: [String] = []; var blocked: [String] = [] }

    func observe(environment: [String: String] = [:]) throws -> [String: Point] {
        let program = try FixturePrograms.shared("side_effects.c")
        let r = try Subprocess.run(program, ["3"], environment: environment)  // libgcc + libunwind: no files, no gdb list
        XCTAssertEqual(r.status, 0, r.stderr)
        var points: [String: Point] = [:]
        for line in r.stdout.split(separator: "\n") {
            let f = line.split(separator: " ", maxSplits: 2).map(String.init)
            guard f.count >= 2 else { continue }
            var p = points[f[0], default: Point()]
            let rest = f.count > 2 ? f[2] : ""
            switch f[1] {
            case "signals": p.signals = rest.split(separator: " ").compactMap { Int($0) }
            case "threads": p.threads = Int(rest) ?? -1
            case "fds": p.fds = rest.split(separator: " ").compactMap { Int($0) }
            case "map": p.maps.append(rest)
            case "blocked": p.blocked.append(rest.trimmingCharacters(in: .whitespaces))
            default: break
            }
            points[f[0]] = p
        }
        return points
    }

    func testLinkingTheLibraryChangesNoSignalDispositionBeforeInstall() throws {
        // Before: the Swift runtime's crash backtracer took 7 signals at load.
        let p = try observe()
        XCTAssertEqual(p["start"]?.signals, [])
        // Asked for, the backtracer stays.
        let asked = try observe(environment: ["SWIFT_BACKTRACE": "enable=yes"])
        XCTAssertEqual(asked["start"]?.signals, [SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV].map(Int.init))
    }

    func testInstallAddsTheFaultHandlerOneThreadAndThePagesMappingsAndUninstallTakesThemAway() throws {
        let p = try observe()
        let start = try XCTUnwrap(p["start"]), installed = try XCTUnwrap(p["installed"]), after = try XCTUnwrap(p["uninstalled"])
        XCTAssertEqual(installed.signals, [SIGBUS, SIGSEGV].map(Int.init), "EFAULT mode takes SIGSEGV and SIGBUS, nothing else")
        XCTAssertEqual(installed.threads, start.threads + 1, "the timekeeper")
        // The timekeeper blocks every signal a thread can block (all but SIGKILL, SIGSTOP
        // and glibc's two internal ones): no handler of the program runs on it.
        XCTAssertEqual(installed.blocked.count, 1, "\(installed.blocked)")
        let mask = UInt64(installed.blocked.first ?? "", radix: 16) ?? 0
        for s in [SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, SIGCHLD, SIGSEGV, SIGPROF, 34, 64] {
            XCTAssertNotEqual(mask & (1 << UInt64(s - 1)), 0, "signal \(s) not blocked: \(installed.blocked)")
        }
        XCTAssertEqual(installed.fds, start.fds, "no descriptor stays open")
        let page = installed.maps.filter { $0.hasPrefix("550000000000-") || $0.hasPrefix("550000001000-") || $0.hasPrefix("550000002000-") }
        XCTAssertFalse(page.isEmpty, "\(installed.maps)")
        XCTAssertFalse(installed.maps.contains { $0.split(separator: " ")[1].hasPrefix("rwx") }, "no W+X mapping")
        // After uninstall: dispositions, threads and descriptors as at start; no mapping of
        // the page, and no executable mapping that was not there at start.
        XCTAssertEqual(after.signals, start.signals)
        XCTAssertEqual(after.threads, start.threads)
        XCTAssertEqual(after.fds, start.fds)
        XCTAssertFalse(after.maps.contains { $0.hasPrefix("55000000") }, "\(after.maps)")
        // The one thing that stays: the libunwind registrar's dlopen of libunwind.so.8 (with
        // liblzma, which it needs), kept loaded so no unwinder is left holding its code.
        let executable = { (m: [String]) in Set(m.filter { $0.split(separator: " ")[1].contains("x") }) }
        let added = executable(after.maps).subtracting(executable(start.maps))
            .map { ($0.split(separator: " ").last.map(String.init) ?? "").split(separator: "/").last.map(String.init) ?? "" }
        XCTAssertEqual(added.map { $0.split(separator: ".").first.map(String.init) ?? "" }.sorted(), ["liblzma", "libunwind"], "\(added)")
        XCTAssertTrue(executable(start.maps).isSubset(of: executable(after.maps)))
    }
}
