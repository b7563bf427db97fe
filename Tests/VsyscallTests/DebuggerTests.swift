// DebuggerTests: gdb and elfutils' eu-stack, run the way people run them, unwind through
// every vsyscall entry of a C program, live and post mortem:
//
//   gdb -batch -nx -p PID -ex bt          eu-stack -p PID
//   gdb -batch -nx -ex bt PROGRAM CORE    eu-stack --core CORE -e PROGRAM
//
// No setup command tells either tool about the page: gdb finds it through the JIT
// interface (__jit_debug_descriptor, read from the process or the core), eu-stack
// through the ELF image at the page's first byte (dumped into the core; read through
// /proc/PID/mem live).
//
// Live: fixtures/programs/debug_probe.c (traced mode) calls ENTRY in a loop under
// PTRACE_TRACEME. The test stops it, single-steps it (ptrace) to a chosen instruction of
// the entry, and detaches with SIGSTOP so it stays group-stopped right there with no
// signal frame on its stack; then it runs the tools on it. gdb and eu-stack at three
// stops per entry:
//   first  the entry's first instruction: push rbp has not run, the CFA is rsp+8 and rbp
//          still holds vu_probe_outer's frame, so a frame-pointer walk would skip
//          vu_probe_inner; only the page's CFI names the right caller;
//   body   after the entry's 4th instruction (frame set up, rbx and r12 saved);
//   ret    at the entry's ret: rbp is already popped, the same trap as `first`.
// gdb at every instruction would be the stronger test, but one gdb attach costs 0.5 to
// 1.5 s here (it reads the DWARF of the debug build's libvunwind-vsyscall.so), so ~150
// instructions would take minutes: these three are the points where the CFI and a
// frame-pointer guess disagree, plus the ordinary one. eu-stack is cheap (~30 ms), so it
// also runs at every instruction of one whole call of each entry, first instruction to
// ret, re-attaching with PTRACE_ATTACH between stops.
// Core: debug_probe crash: the entry (SIGSEGV fault mode) stores to address 8, there is
// no handler, the kernel kills the process and writes a core in a temporary directory.
// If core_pattern is a pipe (systemd-coredump and the like) or a path elsewhere, the
// test falls back to `gdb -batch -p PID -ex gcore` on the helper stopped at its fault by
// ptrace, and says so (VUNWIND_TEST_GCORE=1 forces that path).
// A negative control (a core of a helper that left out the gdb registrar) shows gdb
// failing without the JIT registration, so the passing tests are not luck.

import CVunwind
import ELF
import Foundation
import TestSupport
import Unwind
import XCTest
#if canImport(Glibc)
import Glibc
#endif

fileprivate let pageBase: UInt64 = 0x5500_0000_0000
fileprivate let entryNames = ["vgettimeofday", "vtime", "vgetcpu", "vclock_gettime"]
fileprivate let probeCallers = ["vu_probe_inner", "vu_probe_outer", "main"]
fileprivate let helperEnvironment = ["SWIFT_BACKTRACE": "enable=no"]

/// The page's entry symbols (.dynsym/.symtab of the ELF image at its first byte).
fileprivate func pageEntries(image bytes: [UInt8]) throws -> [String: Range<UInt64>] {
    let elf = try ELFFile(bytes: bytes)
    var out: [String: Range<UInt64>] = [:]
    for s in try elf.symbols() where entryNames.contains(s.name) && s.size > 0 {
        out[s.name] = s.value..<(s.value + s.size)
    }
    return out
}

/// One frame line of gdb's `bt` or eu-stack.
fileprivate struct ToolFrame: CustomStringConvertible {
    var index: Int
    var address: UInt64?
    var name: String
    var description: String { "#\(index) \(address.map { "0x" + String($0, radix: 16) } ?? "-") \(name)" }
}

/// gdb's frame lines: "#1  0x000000000040113e in vu_probe_inner (which=...) at f.c:40" or
/// "#0  vu_probe_inner (...) at ...". gdb prints frame #0 once more when it loads a core:
/// the last run starting at #0 is the backtrace.
fileprivate func gdbFrames(_ text: String) -> [ToolFrame] {
    var runs: [[ToolFrame]] = []
    for raw in text.split(separator: "\n") {
        let line = raw.trimmingCharacters(in: .whitespaces)
        guard line.hasPrefix("#") else { continue }
        var fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let index = Int(fields.removeFirst().dropFirst()) else { continue }
        var address: UInt64?
        if let f = fields.first, f.hasPrefix("0x") {
            address = UInt64(f.dropFirst(2), radix: 16)
            fields.removeFirst()
            if fields.first == "in" { fields.removeFirst() }
        }
        let name = fields.first ?? ""
        let frame = ToolFrame(index: index, address: address, name: name)
        if index == 0 || runs.isEmpty { runs.append([frame]) } else { runs[runs.count - 1].append(frame) }
    }
    return runs.last ?? []
}

/// eu-stack's frames by thread: "TID 123:" then "#0  0x0000550000001000 vgettimeofday".
fileprivate func euStackThreads(_ text: String) -> [Int: [ToolFrame]] {
    var out: [Int: [ToolFrame]] = [:]
    var tid: Int?
    for raw in text.split(separator: "\n") {
        let line = raw.trimmingCharacters(in: .whitespaces)
        if line.hasPrefix("TID "), line.hasSuffix(":") {
            tid = Int(line.dropFirst(4).dropLast())
            if let t = tid { out[t] = [] }
            continue
        }
        guard let t = tid, line.hasPrefix("#") else { continue }
        var fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let index = Int(fields.removeFirst().dropFirst()), let a = fields.first, a.hasPrefix("0x") else { continue }
        fields.removeFirst()
        if fields.count >= 2, fields[0] == "-", fields[1] == "1" { fields.removeFirst(2) }
        out[t, default: []].append(ToolFrame(index: index, address: UInt64(a.dropFirst(2), radix: 16),
                                             name: fields.first ?? ""))
    }
    return out
}

/// The state letter of /proc/PID/stat ('T': stopped).
fileprivate func processState(_ pid: pid_t) -> Character? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
}

fileprivate enum StopPoint: String, CaseIterable {
    case first, body, ret
}

/// A helper this process traces, stepped one instruction at a time; `park` leaves it
/// group-stopped and untraced for a debugger, `resume` traces it again.
fileprivate final class SteppedProbe {
    let child: TracedProcess
    let memory: ProcessMemoryReader
    let entry: String
    let range: Range<UInt64>
    private(set) var steps = 0
    var pid: pid_t { child.pid }

    init(child: TracedProcess, memory: ProcessMemoryReader, entry: String, range: Range<UInt64>) {
        self.child = child
        self.memory = memory
        self.entry = entry
        self.range = range
    }

    func rip() throws -> UInt64 { try child.registers().rip }

    /// At a ret instruction (the byte at rip; rip only ever lands on instruction starts).
    func atRet() throws -> Bool {
        let r = try rip()
        guard range.contains(r) else { return false }
        return try memory.fetch(UInt8.self, from: r) == 0xc3
    }

    /// One instruction. A stop other than the step's SIGTRAP (the group stop a SIGSTOP
    /// started on the other thread, or the SIGSTOP PTRACE_ATTACH queued) is stepped over
    /// with no signal: such a stop happens before the instruction, so rip is unchanged.
    func step() throws {
        while true {
            try child.singleStep()
            steps += 1
            switch try child.wait() {
            case .stopped(SIGTRAP): return
            case .stopped: continue
            case let other: throw SystemError(call: "single-step ended the helper: \(other)", errno: ECHILD)
            }
        }
    }

    /// Detaches leaving the helper stopped exactly here: the SIGSTOP replaces the step's
    /// SIGTRAP, so no signal frame is pushed; every thread ends up group-stopped.
    func park() throws {
        try child.detach(signal: SIGSTOP)
        let deadline = Date().addingTimeInterval(5)
        while processState(pid) != "T" && Date() < deadline { usleep(500) }
        guard processState(pid) == "T" else {
            throw SystemError(call: "the helper did not stay stopped after PTRACE_DETACH(SIGSTOP)", errno: ESRCH)
        }
    }

    /// Traces the parked helper again (PTRACE_ATTACH; it reports a stop at once).
    func resume() throws {
        guard vu_ptrace_attach(pid) == 0 else { throw SystemError(call: "PTRACE_ATTACH", errno: errno) }
        switch try child.wait() {
        case .stopped: return
        case let other: throw SystemError(call: "PTRACE_ATTACH: \(other)", errno: ECHILD)
        }
    }
}

final class DebuggerTests: XCTestCase {
    private func probe() throws -> String { try FixturePrograms.shared("debug_probe.c") }

    // MARK: Live

    /// A traced debug_probe driven by single steps: spawned (killed, reaped and its perf
    /// map removed at teardown), installed, stopped and stepped to `entry`'s first
    /// instruction.
    private func steppedProbe(_ entry: String) throws -> SteppedProbe {
        let pid = try Spawner.spawn(try probe(), ["traced", entry], environment: helperEnvironment)
        let child = TracedProcess(pid: pid)
        addTeardownBlock {
            child.kill()
            unlink("/tmp/perf-\(pid).map")  // killed: it could not remove its map itself
        }
        try child.waitForStop(SIGSTOP)  // raise(SIGSTOP) after the install
        let memory = ProcessMemoryReader(pid: pid)
        // The entry's range from the helper's own page (its ELF image is the first two pages).
        let entries = try pageEntries(image: memory.fetchBytes(from: pageBase, count: 0x2000))
        XCTAssertEqual(Set(entries.keys), Set(entryNames), "the page's symbols")
        let range = try XCTUnwrap(entries[entry], "\(entry) is not in the page's symbol table")
        let probe = SteppedProbe(child: child, memory: memory, entry: entry, range: range)
        try child.cont()
        usleep(20_000)
        kill(pid, SIGSTOP)
        try child.waitForStop(SIGSTOP)
        while try probe.rip() != range.lowerBound {
            guard probe.steps < 100_000 else { throw SystemError(call: "never reached \(entry)", errno: ETIMEDOUT) }
            try probe.step()
        }
        return probe
    }

    /// A debug_probe stopped inside `entry` at `point`: untraced, group-stopped, its
    /// main thread's rip at `rip`.
    private func stoppedProbe(_ entry: String, at point: StopPoint) throws -> (pid: pid_t, rip: UInt64, range: Range<UInt64>) {
        let probe = try steppedProbe(entry)
        let range = probe.range
        switch point {
        case .first:
            break
        case .body:
            for _ in 0..<4 { try probe.step() }
        case .ret:
            while try !probe.atRet() {
                guard range.contains(try probe.rip()) else { throw SystemError(call: "left \(entry) before its ret", errno: ESRCH) }
                try probe.step()
            }
        }
        let stoppedAt = try probe.rip()
        XCTAssertTrue(range.contains(stoppedAt), "rip 0x\(String(stoppedAt, radix: 16)) is not in \(entry)")
        if point == .body { XCTAssertGreaterThan(stoppedAt, range.lowerBound + 4) }
        try probe.park()
        return (probe.pid, stoppedAt, range)
    }

    private func checkLive(_ entry: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let gdb = try Tools.path("gdb"), euStack = try Tools.path("eu-stack")
        for point in StopPoint.allCases {
            let (pid, rip, range) = try stoppedProbe(entry, at: point)
            let at = "\(entry) stopped at \(point) (rip 0x\(String(rip, radix: 16)), entry 0x\(String(range.lowerBound, radix: 16))+\(rip - range.lowerBound))"

            // eu-stack first: it leaves a stopped process stopped, as gdb does.
            let eu = try Subprocess.run(euStack, ["-p", "\(pid)"])
            let euText = "eu-stack -p \(pid) (status \(eu.status)):\n\(eu.stdout)\(eu.stderr)"
            let threads = euStackThreads(eu.stdout)
            let main = threads[Int(pid)] ?? []
            XCTAssertEqual(main.prefix(4).map(\.name), [entry] + probeCallers, "\(at)\n\(euText)", file: file, line: line)
            XCTAssertEqual(main.first?.address, rip, "\(at)\n\(euText)", file: file, line: line)
            XCTAssertFalse(eu.stderr.contains("tid \(pid) "), "\(at): eu-stack failed on the main thread\n\(euText)",
                           file: file, line: line)
            XCTAssertEqual(processState(pid), "T", "\(at): eu-stack did not leave the helper stopped", file: file, line: line)

            let g = try Subprocess.run(gdb, ["-batch", "-nx", "-p", "\(pid)", "-ex", "bt"])
            let gText = "gdb -batch -nx -p \(pid) -ex bt (status \(g.status)):\n\(g.stdout)"
            let frames = gdbFrames(g.stdout)
            XCTAssertEqual(frames.map(\.name), [entry] + probeCallers, "\(at)\n\(gText)", file: file, line: line)
            XCTAssertEqual(frames.first?.address, rip, "\(at)\n\(gText)", file: file, line: line)
            XCTAssertFalse(g.stdout.contains("??"), "\(at)\n\(gText)", file: file, line: line)
            XCTAssertFalse((g.stdout + g.stderr).contains("Backtrace stopped"), "\(at)\n\(gText)\n\(g.stderr)",
                           file: file, line: line)
            if point == .body && entry == "vgettimeofday" { print("\(at)\n\(euText)\n\(gText)") }
        }
    }

    func testGdbAndEuStackLiveInsideVgettimeofday() throws { try checkLive("vgettimeofday") }
    func testGdbAndEuStackLiveInsideVtime() throws { try checkLive("vtime") }
    func testGdbAndEuStackLiveInsideVgetcpu() throws { try checkLive("vgetcpu") }
    func testGdbAndEuStackLiveInsideVclockGettime() throws { try checkLive("vclock_gettime") }

    /// eu-stack (about 30 ms a run, unlike gdb) at every instruction of one whole call of
    /// each entry, from its first instruction to its ret, along the path the call takes.
    func testEuStackLiveAtEveryInstructionOfOneCallOfEveryEntry() throws {
        let euStack = try Tools.path("eu-stack")
        for entry in entryNames {
            let probe = try steppedProbe(entry)
            var visited: [UInt64] = []
            var sawRet = false
            var failures = 0
            while visited.count < 2_000 {
                let rip = try probe.rip()
                guard probe.range.contains(rip) else { break }
                let ret = try probe.atRet()
                try probe.park()
                let eu = try Subprocess.run(euStack, ["-p", "\(probe.pid)"])
                let main = euStackThreads(eu.stdout)[Int(probe.pid)] ?? []
                if main.prefix(4).map(\.name) != [entry] + probeCallers || main.first?.address != rip {
                    failures += 1
                    XCTFail("eu-stack -p at \(entry)+\(rip - probe.range.lowerBound) (0x\(String(rip, radix: 16))):\n\(eu.stdout)\(eu.stderr)")
                }
                visited.append(rip)
                try probe.resume()
                try probe.step()
                if ret {
                    sawRet = true
                    break
                }
            }
            XCTAssertTrue(sawRet, "\(entry): the sweep never reached a ret (\(visited.count) instructions)")
            print("eu-stack -p at every instruction of one call of \(entry): \(visited.count) stops "
                  + "(\(Set(visited).count) distinct instructions), \(failures) wrong")
        }
    }

    // MARK: Cores

    /// A core of debug_probe dead inside `entry`, in `directory`: (core path, the dead
    /// process's pid, how it was made).
    private func core(_ entry: String, in directory: URL, registrars: Int = 15) throws -> (path: String, pid: Int, method: String) {
        let pattern = ((try? String(contentsOfFile: "/proc/sys/kernel/core_pattern", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let forced = ProcessInfo.processInfo.environment["VUNWIND_TEST_GCORE"] == "1"
        if !forced && !pattern.hasPrefix("|") && !pattern.contains("/") && !pattern.isEmpty {
            let r = try Subprocess.run(try probe(), ["crash", entry, "\(registrars)"], environment: helperEnvironment,
                                       currentDirectory: directory.path)
            XCTAssertTrue(r.signaled && r.status == SIGSEGV,
                          "debug_probe crash \(entry) did not die by SIGSEGV: status \(r.status)\n\(r.stdout)\(r.stderr)")
            let pid = try XCTUnwrap(r.stdout.split(separator: " ").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) },
                                    "no 'crashing PID' line: \(r.stdout)")
            unlink("/tmp/perf-\(pid).map")  // it died installed
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            let name = try XCTUnwrap(files.first, "no core in \(directory.path) (core_pattern \"\(pattern)\", RLIMIT_CORE raised by the helper)")
            return (directory.appendingPathComponent(name).path, pid, "kernel core (core_pattern \"\(pattern)\")")
        }
        // The pipe fallback: stop the helper at its fault and let gdb write the core.
        let pid = try Spawner.spawn(try probe(), ["crash-traced", entry, "\(registrars)"], environment: helperEnvironment,
                                    quiet: true)
        let child = TracedProcess(pid: pid)
        addTeardownBlock {
            child.kill()
            unlink("/tmp/perf-\(pid).map")
        }
        try child.waitForStop(SIGSEGV)
        try child.detach(signal: SIGSTOP)  // stays at the faulting store
        let path = directory.appendingPathComponent("core").path
        let g = try Subprocess.run(try Tools.path("gdb"), ["-batch", "-nx", "-p", "\(pid)", "-ex", "gcore \(path)"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "gdb gcore wrote no core:\n\(g.stdout)\(g.stderr)")
        let why = forced ? "VUNWIND_TEST_GCORE=1" : "core_pattern \"\(pattern)\" is not a file in the cwd"
        return (path, Int(pid), "gdb gcore of the helper stopped at its fault (\(why))")
    }

    private func checkCore(_ entry: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let directory = try Tools.temporaryDirectory("vunwind-core")
        defer { try? FileManager.default.removeItem(at: directory) }
        let program = try probe()
        let (path, pid, method) = try core(entry, in: directory)
        let about = "\(entry): \(method), \(path)"

        // An ELF core holding the page's image.
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let elf = try ELFFile(bytes: bytes)
        XCTAssertEqual(elf.header.type, ELF.etCore, about, file: file, line: line)
        let headers = try Subprocess.run(try Tools.path("readelf"), ["-lW", path])
        let pageLoad = headers.stdout.split(separator: "\n").contains { l in
            let f = l.split(separator: " ", omittingEmptySubsequences: true)
            return f.count > 2 && f[0] == "LOAD" && f[2] == "0x0000550000000000"
        }
        XCTAssertTrue(pageLoad, "\(about): readelf -l shows no PT_LOAD at 0x550000000000\n\(headers.stdout)",
                      file: file, line: line)
        let segment = try XCTUnwrap(elf.programHeaders.first { $0.type == ELF.ptLoad && $0.virtualAddress == pageBase },
                                    about, file: file, line: line)
        let range = try XCTUnwrap(try pageEntries(image: elf.contents(of: segment))[entry],
                                  "\(about): the dumped page has no \(entry) symbol", file: file, line: line)

        let g = try Subprocess.run(try Tools.path("gdb"), ["-batch", "-nx", "-ex", "bt", program, path])
        let gText = "gdb -batch -nx -ex bt PROGRAM CORE (status \(g.status)):\n\(g.stdout)"
        let frames = gdbFrames(g.stdout)
        XCTAssertEqual(frames.map(\.name), [entry] + probeCallers, "\(about)\n\(gText)", file: file, line: line)
        XCTAssertTrue(frames.first?.address.map(range.contains) ?? false,
                      "\(about): frame #0 is not inside \(entry) \(range)\n\(gText)", file: file, line: line)
        XCTAssertFalse(g.stdout.contains("??"), "\(about)\n\(gText)", file: file, line: line)
        XCTAssertFalse((g.stdout + g.stderr).contains("Backtrace stopped"), "\(about)\n\(gText)\n\(g.stderr)",
                       file: file, line: line)

        let eu = try Subprocess.run(try Tools.path("eu-stack"), ["--core", path, "-e", program])
        let euText = "eu-stack --core CORE -e PROGRAM (status \(eu.status)):\n\(eu.stdout)\(eu.stderr)"
        let main = euStackThreads(eu.stdout)[pid] ?? []
        XCTAssertEqual(main.prefix(4).map(\.name), [entry] + probeCallers, "\(about)\n\(euText)", file: file, line: line)
        XCTAssertEqual(main.first?.address, frames.first?.address, "\(about): gdb and eu-stack disagree on frame #0\n\(euText)",
                       file: file, line: line)
        XCTAssertFalse(eu.stderr.contains("tid \(pid) "), "\(about): eu-stack failed on the faulting thread\n\(euText)",
                       file: file, line: line)
        if entry == "vgettimeofday" { print("\(about)\n\(gText)\n\(euText)") }
    }

    func testGdbAndEuStackOnACoreThatDiedInVgettimeofday() throws { try checkCore("vgettimeofday") }
    func testGdbAndEuStackOnACoreThatDiedInVtime() throws { try checkCore("vtime") }
    func testGdbAndEuStackOnACoreThatDiedInVgetcpu() throws { try checkCore("vgetcpu") }
    func testGdbAndEuStackOnACoreThatDiedInVclockGettime() throws { try checkCore("vclock_gettime") }

    /// The negative control: the same core with every registrar but gdb's (mask 11). gdb
    /// then has no symbols or CFI for the page and cannot name frame #0 or find its caller,
    /// so the tests above pass because of the JIT registration, not by luck. (eu-stack does
    /// not need it: it reads the ELF image at the page's first byte.)
    func testWithoutTheGdbRegistrarGdbLosesTheBacktraceOfTheCore() throws {
        let directory = try Tools.temporaryDirectory("vunwind-core")
        defer { try? FileManager.default.removeItem(at: directory) }
        let (path, _, method) = try core("vgettimeofday", in: directory, registrars: 11)
        let g = try Subprocess.run(try Tools.path("gdb"), ["-batch", "-nx", "-ex", "bt", try probe(), path])
        let frames = gdbFrames(g.stdout)
        XCTAssertEqual(frames.first?.name, "??", "\(method)\n\(g.stdout)")
        XCTAssertNotEqual(frames.map(\.name), ["vgettimeofday"] + probeCallers, "\(method)\n\(g.stdout)")
    }
}
