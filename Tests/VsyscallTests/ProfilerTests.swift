// ProfilerTests: perf, used the way people use it, on a C program that spends its time in
// the vsyscall page (fixtures/programs/spin.c: main -> vu_spin_outer -> vu_spin_inner ->
// ENTRY, in a loop).
//
//   perf record -e cpu-clock -p PID; perf report --stdio --sort symbol
//       samples in the page are attributed to the entry by name (perf reads the names
//       from /tmp/perf-PID.map, which the perf registrar writes; it never reads an ELF
//       image out of anonymous memory).
//   perf record --call-graph dwarf   perf's DWARF unwinder needs .eh_frame from the file
//       behind the sample's mapping; the page is anonymous memory, so no caller chain
//       crosses it. The README documents this limitation; the test fails if a future
//       perf does cross it, so the claim gets revisited.
//   perf record --call-graph fp      the entries keep an rbp frame, so the frame-pointer
//       chain names vu_spin_inner under vgettimeofday.
//   /tmp/perf-PID.map                the four entries while installed, still there after a
//       clean exit (perf report reads it then), gone with VUNWIND_PERF_MAP=remove.
//   perf record -- spin; perf report  the way people use it: the program has exited when
//       perf report runs, and the samples in the page are still named.
//
// Record options beyond the ones under test: -o FILE, -p PID (perf runs with a scratch
// HOME, so its build-id cache does not fill the user's ~/.debug), -F for the
// call-graph runs (fewer 8 KB stack copies; perf loses most of them at the default rate
// on a busy machine), and `-- sleep T` for the duration. perf report gets only -i, --stdio
// and --sort symbol. The report runs while the helper is alive: perf resolves the names
// from the map file at report time.

import Dispatch
import ELF
import Foundation
import TestSupport
import Unwind
import XCTest
#if canImport(Glibc)
import Glibc
#endif

fileprivate let pageBase: UInt64 = 0x5500_0000_0000
fileprivate let spinEntries = ["vgettimeofday", "vtime", "vgetcpu", "vclock_gettime"]
fileprivate let helperEnvironment = ["SWIFT_BACKTRACE": "enable=no"]

/// A spawned helper: killed (if still running), reaped and its perf map removed once.
fileprivate final class SpinHelper: @unchecked Sendable {
    let pid: pid_t
    private(set) var status: Int32?
    init(pid: pid_t) { self.pid = pid }
    var mapPath: String { "/tmp/perf-\(pid).map" }

    /// Waits up to `seconds` for the helper to exit by itself; its wait status, or nil.
    func waitForExit(seconds: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        while status == nil {
            var s: Int32 = 0
            let r = waitpid(pid, &s, WNOHANG)
            if r == pid { status = s; break }
            if r < 0 || Date() > deadline { break }
            usleep(10_000)
        }
        return status
    }

    func end() {
        if status == nil {
            kill(pid, SIGKILL)
            var s: Int32 = 0
            if waitpid(pid, &s, 0) == pid { status = s }
        }
        // Kept by design after a normal exit, never removed after a kill: the test's to remove.
        unlink(mapPath)
    }
}

fileprivate struct PerfRun {
    var status: Int32
    var stdout: String
    var stderr: String
    var signaled: Bool
}

/// One line of perf report: Children (if recorded with call graphs), Self, the symbol,
/// and the call-graph lines printed under it.
fileprivate struct ReportEntry {
    var children: Double?
    var overhead: Double
    var symbol: String
    var graph: [String] = []
}

/// Parses `perf report --stdio --sort symbol`: "  95.49%  [.] vgettimeofday" or, with
/// call graphs, "  92.47%     4.79%  [.] vu_spin_inner", each followed by its graph.
fileprivate func parseReport(_ text: String) -> [ReportEntry] {
    var out: [ReportEntry] = []
    for raw in text.split(separator: "\n") {
        let line = String(raw)
        if line.hasPrefix("#") { continue }
        let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        var percents: [Double] = []
        var i = 0
        while i < fields.count, fields[i].hasSuffix("%"), let v = Double(fields[i].dropLast()) {
            percents.append(v)
            i += 1
        }
        if !percents.isEmpty, i + 1 < fields.count, fields[i].hasPrefix("["), fields[i].hasSuffix("]") {
            out.append(ReportEntry(children: percents.count > 1 ? percents[0] : nil, overhead: percents.last!,
                                   symbol: fields[i + 1]))
        } else if !out.isEmpty, !line.trimmingCharacters(in: .whitespaces).isEmpty {
            out[out.count - 1].graph.append(line)
        }
    }
    return out
}

final class ProfilerTests: XCTestCase {
    private func spinProgram() throws -> String { try FixturePrograms.shared("spin.c") }

    /// spin ENTRY [SECONDS], once its perf map holds the four entries (it is installed).
    private func spinning(_ entry: String, seconds: Double? = nil, environment: [String: String] = [:]) throws -> SpinHelper {
        let arguments = [entry] + (seconds.map { ["\($0)"] } ?? [])
        let helper = SpinHelper(pid: try Spawner.spawn(try spinProgram(), arguments,
                                                        environment: helperEnvironment.merging(environment) { $1 },
                                                        quiet: true))
        addTeardownBlock { helper.end() }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: helper.mapPath, encoding: .utf8),
               text.split(separator: "\n").count == 4 { return helper }
            if helper.waitForExit(seconds: 0) != nil { break }
            usleep(5_000)
        }
        XCTFail("spin \(arguments.joined(separator: " ")) did not install the page (no 4-line \(helper.mapPath))")
        throw XCTSkip("unreachable")
    }

    /// Runs perf; fails (naming perf_event_paranoid) if perf cannot record, and stops a
    /// run that takes longer than `timeout` (SIGINT, then SIGKILL).
    private func perf(_ arguments: [String], home: URL, timeout: Double = 30, file: StaticString = #filePath,
                      line: UInt = #line) throws -> PerfRun {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try Tools.path("perf", file: file, line: line))
        p.arguments = arguments
        // perf record copies every sampled binary into $HOME/.debug (its build-id cache);
        // a scratch HOME keeps the runs from filling the user's, without an extra flag.
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = home.path
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        final class Box: @unchecked Sendable { var data = Data() }
        let outBox = Box(), errBox = Box()
        let group = DispatchGroup()
        for (pipe, box) in [(out, outBox), (err, errBox)] {
            group.enter()
            let reader = pipe.fileHandleForReading
            DispatchQueue.global().async {
                box.data = reader.readDataToEndOfFile()
                group.leave()
            }
        }
        let started = Date()
        try p.run()
        var timedOut = false
        if group.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            p.interrupt()
            if group.wait(timeout: .now() + 5) == .timedOut { kill(p.processIdentifier, SIGKILL) }
            group.wait()
        }
        p.waitUntilExit()
        let r = PerfRun(status: p.terminationStatus, stdout: String(decoding: outBox.data, as: UTF8.self),
                        stderr: String(decoding: errBox.data, as: UTF8.self), signaled: p.terminationReason == .uncaughtSignal)
        let command = "perf " + arguments.joined(separator: " ")
        print("\(command): \(String(format: "%.2f", Date().timeIntervalSince(started))) s, status \(r.status)")
        XCTAssertFalse(timedOut, "\(command) took more than \(Int(timeout)) s and was interrupted\n\(r.stderr)",
                       file: file, line: line)
        if arguments.first == "record" && (r.status != 0 || r.signaled) {
            let paranoid = ((try? String(contentsOfFile: "/proc/sys/kernel/perf_event_paranoid", encoding: .utf8)) ?? "?")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let permission = ["ermission", "perf_event_paranoid", "Access to performance monitoring"]
                .contains { r.stderr.contains($0) }
            let cause = permission
                ? "not allowed: kernel.perf_event_paranoid is \(paranoid) and the tests run as uid \(getuid()); run them "
                    + "as root or with CAP_PERFMON, or lower it (sysctl kernel.perf_event_paranoid=1)"
                : "see perf's message below (kernel.perf_event_paranoid is \(paranoid), uid \(getuid()))"
            XCTFail("perf cannot record (status \(r.status)): \(cause)\n\(command)\n\(r.stderr)", file: file, line: line)
            throw XCTSkip("unreachable")
        }
        return r
    }

    /// Records `helper` for `seconds` with `options` and returns the parsed report.
    private func recordAndReport(_ helper: SpinHelper, options: [String], seconds: Double,
                                 file: StaticString = #filePath, line: UInt = #line) throws -> (entries: [ReportEntry], text: String) {
        let dir = try Tools.temporaryDirectory("vunwind-perf")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("perf.data").path
        _ = try perf(["record", "-e", "cpu-clock"] + options + ["-o", data, "-p", "\(helper.pid)", "--", "sleep", "\(seconds)"],
                     home: dir, file: file, line: line)
        XCTAssertNil(helper.waitForExit(seconds: 0), "the helper exited while perf recorded it", file: file, line: line)
        let report = try perf(["report", "-i", data, "--stdio", "--sort", "symbol"], home: dir, file: file, line: line)
        XCTAssertEqual(report.status, 0, report.stderr, file: file, line: line)
        return (parseReport(report.stdout), report.stdout)
    }

    func testPerfReportAttributesTheSamplesInThePageToVgettimeofday() throws {
        let helper = try spinning("vgettimeofday")
        let (entries, text) = try recordAndReport(helper, options: [], seconds: 1)
        let top = try XCTUnwrap(entries.first, "perf report shows no samples:\n\(text)")
        print("perf report, top symbols: " + entries.prefix(4).map { "\($0.symbol) \($0.overhead)%" }.joined(separator: ", "))
        XCTAssertEqual(top.symbol, "vgettimeofday", "the top symbol is not the entry:\n\(text)")
        XCTAssertGreaterThan(top.overhead, 50, text)
        // No sample left as a bare page address (0x5500000010xx).
        let unnamed = entries.filter { $0.symbol.hasPrefix("0x00006000") || $0.symbol.hasPrefix("0x6000") }
        XCTAssertEqual(unnamed.map(\.symbol), [], "samples in the page without a name:\n\(text)")
    }

    /// The README's claim: perf's DWARF unwinder cannot cross the page (anonymous memory,
    /// no file to read .eh_frame from), so no sample in vgettimeofday carries
    /// vu_spin_inner as its caller. If this fails, perf learned to: update the README.
    func testPerfCallGraphDwarfDoesNotCrossThePage() throws {
        let helper = try spinning("vgettimeofday")
        let (entries, text) = try recordAndReport(helper, options: ["-F", "500", "--call-graph", "dwarf"], seconds: 0.5)
        let entry = try XCTUnwrap(entries.first { $0.symbol == "vgettimeofday" }, "no vgettimeofday in:\n\(text)")
        let inner = entries.first { $0.symbol == "vu_spin_inner" }
        print("perf --call-graph dwarf: vgettimeofday self \(entry.overhead)% children \(entry.children ?? -1)%, "
              + "vu_spin_inner children \(inner?.children ?? 0)%")
        XCTAssertGreaterThan(entry.overhead, 50, text)
        // vu_spin_inner's Children would include every sample in vgettimeofday if perf
        // had unwound through the page: it holds only its own few.
        XCTAssertLessThan(inner?.children ?? 0, 50,
                          "perf --call-graph dwarf now unwinds through the page: the README's claim is out of date\n\(text)")
        XCTAssertFalse((inner?.graph ?? []).contains { $0.contains("vgettimeofday") },
                       "perf --call-graph dwarf shows vgettimeofday under vu_spin_inner: update the README\n\(text)")
    }

    func testPerfCallGraphFramePointerShowsTheCallerOfVgettimeofday() throws {
        let helper = try spinning("vgettimeofday")
        let (entries, text) = try recordAndReport(helper, options: ["-F", "500", "--call-graph", "fp"], seconds: 0.5)
        let entry = try XCTUnwrap(entries.first { $0.symbol == "vgettimeofday" }, "no vgettimeofday in:\n\(text)")
        let inner = try XCTUnwrap(entries.first { $0.symbol == "vu_spin_inner" }, "no vu_spin_inner in:\n\(text)")
        print("perf --call-graph fp: vgettimeofday self \(entry.overhead)%, vu_spin_inner children \(inner.children ?? -1)%")
        XCTAssertGreaterThan(entry.overhead, 50, text)
        XCTAssertGreaterThan(inner.children ?? 0, 50, "the fp chain does not put vgettimeofday's samples under vu_spin_inner\n\(text)")
        XCTAssertTrue(inner.graph.contains { $0.contains("vgettimeofday") },
                      "vgettimeofday is not in vu_spin_inner's call graph\n\(text)")
    }

    func testThePerfMapListsTheFourEntriesWhileInstalledAndKeepsThemAfterACleanExit() throws {
        try checkMap(environment: [:], keptAfterExit: true)
    }

    func testWithVUNWIND_PERF_MAPRemoveThePerfMapIsGoneAfterACleanExit() throws {
        try checkMap(environment: ["VUNWIND_PERF_MAP": "remove"], keptAfterExit: false)
    }

    /// The way people use perf: record the whole run of a program that exits normally,
    /// then report. Before, the page's samples were bare addresses: uninstall had removed
    /// the map file perf reads at report time.
    func testPerfRecordOfAProgramThatExitsNormallyNamesThePageInTheReport() throws {
        let dir = try Tools.temporaryDirectory("vunwind-perf")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("perf.data").path
        let record = try perf(["record", "-e", "cpu-clock", "-o", data, "--", try spinProgram(), "vgettimeofday", "0.5"], home: dir)
        XCTAssertEqual(record.status, 0, record.stderr)
        let script = try perf(["script", "-i", data, "-F", "pid"], home: dir)
        let pid = try XCTUnwrap(script.stdout.split(separator: "\n").first.flatMap { Int32($0.trimmingCharacters(in: .whitespaces)) },
                                "no sample names a pid:\n\(script.stdout.prefix(500))")
        defer { unlink("/tmp/perf-\(pid).map") }
        XCTAssertEqual(kill(pid, 0), -1, "spin is still running")
        let report = try perf(["report", "-i", data, "--stdio", "--sort", "symbol"], home: dir)
        XCTAssertEqual(report.status, 0, report.stderr)
        let entries = parseReport(report.stdout)
        let top = try XCTUnwrap(entries.first, "perf report shows no samples:\n\(report.stdout)")
        XCTAssertEqual(top.symbol, "vgettimeofday", "the top symbol is not the entry:\n\(report.stdout)")
        XCTAssertGreaterThan(top.overhead, 50, report.stdout)
        let unnamed = entries.filter { $0.symbol.hasPrefix("0x00006000") || $0.symbol.hasPrefix("0x6000") }
        XCTAssertEqual(unnamed.map(\.symbol), [], "samples in the page without a name:\n\(report.stdout)")
    }

    func checkMap(environment: [String: String], keptAfterExit: Bool) throws {
        let helper = try spinning("vgettimeofday", seconds: 1.5, environment: environment)
        let text = try String(contentsOfFile: helper.mapPath, encoding: .utf8)
        // The entries as the helper's own page describes them (.dynsym of its ELF image).
        let elf = try ELFFile(bytes: ProcessMemoryReader(pid: helper.pid).fetchBytes(from: pageBase, count: 0x2000))
        var expected: [String] = []
        for name in spinEntries {
            let s = try XCTUnwrap(try elf.symbols().first { $0.name == name }, "\(name) is not in the page's symbols")
            expected.append("\(String(s.value, radix: 16)) \(String(s.size, radix: 16)) \(name)")
        }
        XCTAssertEqual(text.split(separator: "\n").map(String.init).sorted(), expected.sorted(), helper.mapPath)
        print("\(helper.mapPath):\n\(text)")

        let status = try XCTUnwrap(helper.waitForExit(seconds: 15), "spin vgettimeofday 1.5 did not exit by itself")
        XCTAssertEqual(status & 0x7f, 0, "spin was killed by signal \(status & 0x7f)")
        XCTAssertEqual((status >> 8) & 0xff, 0, "spin exited with \((status >> 8) & 0xff)")
        if keptAfterExit {
            XCTAssertEqual(try String(contentsOfFile: helper.mapPath, encoding: .utf8), text, "the map file after exit")
        } else {
            XCTAssertFalse(FileManager.default.fileExists(atPath: helper.mapPath),
                           "\(helper.mapPath) is still there after vsyscall_uninstall")
        }
    }
}
