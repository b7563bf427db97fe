// CoreHarness: how the core tests get their cores and ask the judges. A helper runs under
// ptrace (it calls PTRACE_TRACEME) until its fault; vunwind's own CoreWriter writes a core
// of it there, so no test depends on core_pattern; then the signal is delivered, and where
// core_pattern writes a plain file the kernel's core of the same fault is kept too. gdb's
// gcore of the same program is the third writer. eu-stack and gdb read every core as they
// are, and `vunwind core --json` is read by the tests as JSON, not through our types.

import CoreDump
import Foundation
import TestSupport
import Unwind
import XCTest
#if canImport(Glibc)
import Glibc
#endif

struct Cores {
    var directory: URL
    /// Written by vunwind's CoreWriter at the fault.
    var ours: String
    /// Written by the kernel, when core_pattern writes a file.
    var kernel: String?
}

enum CoreHarness {
    /// core_crash (and libcorecb.so next to it), built once per test process.
    static func coreCrash() throws -> String {
        try built.withLock { state in
            if let p = state { return p }
            let p = try buildCoreCrash(in: try Tools.temporaryDirectory("vunwind-core-programs"))
            state = p
            return p
        }
    }
    static let built = LockedValue<String?>(nil)

    /// Builds core_crash and its libcorecb.so (found through its rpath) into `dir`.
    static func buildCoreCrash(in dir: URL) throws -> String {
        let gcc = try Tools.path("gcc")
        let src = Tools.repositoryRoot.appendingPathComponent("fixtures/programs").path
        let lib = dir.appendingPathComponent("libcorecb.so").path
        var r = try Subprocess.run(gcc, ["-O1", "-g", "-fno-omit-frame-pointer", "-fPIC", "-shared", "-o", lib, src + "/corecb.c"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let exe = dir.appendingPathComponent("core_crash").path
        r = try Subprocess.run(gcc, ["-O1", "-g", "-fno-omit-frame-pointer", "-fno-inline", "-o", exe, src + "/core_crash.c",
                                     "-L", dir.path, "-Wl,--no-as-needed", "-lcorecb", "-Wl,-rpath," + dir.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return exe
    }

    /// Runs `program arguments` (which must PTRACE_TRACEME and chdir to `directory`) to its
    /// SIGSEGV, writes our core there, then lets it die. `arguments` carry the directory.
    static func crash(_ program: String, _ arguments: [String], in directory: URL, chdirTo: URL? = nil,
                      file: StaticString = #filePath, line: UInt = #line) throws -> Cores {
        let pid = try Spawner.spawn(program, arguments, environment: ["SWIFT_BACKTRACE": "enable=no"], quiet: true,
                                    directory: chdirTo?.path)
        let child = TracedProcess(pid: pid)
        var killed = false
        defer {
            if !killed { child.kill() }
            // A page-installing helper that dies leaves its perf map behind, as any JIT's.
            unlink("/tmp/perf-\(pid).map")
        }
        try child.waitForStop(SIGSEGV)
        let ours = directory.appendingPathComponent("vunwind.core").path
        try CoreWriter.write(pid: pid, to: ours, alreadyStopped: [pid])
        try child.cont(signal: SIGSEGV)
        let end = try child.wait()
        killed = true
        guard case let .killed(signal, dumped) = end, signal == SIGSEGV else {
            XCTFail("the helper ended with \(end), not SIGSEGV", file: file, line: line)
            return Cores(directory: directory, ours: ours, kernel: nil)
        }
        let kernel = directory.appendingPathComponent("core").path
        let pattern = (try? String(contentsOfFile: "/proc/sys/kernel/core_pattern", encoding: .utf8)) ?? ""
        if dumped && pattern.trimmingCharacters(in: .whitespacesAndNewlines) == "core" {
            XCTAssertTrue(FileManager.default.fileExists(atPath: kernel), "core_pattern=core, but no core in \(directory.path)",
                          file: file, line: line)
            return Cores(directory: directory, ours: ours, kernel: kernel)
        }
        return Cores(directory: directory, ours: ours, kernel: nil)
    }

    /// gdb runs `program arguments` to its fault and writes a core with `gcore`.
    static func gdbCore(_ program: String, _ arguments: [String], to path: String) throws {
        let r = try Subprocess.run(try Tools.path("gdb"),
                                   ["-batch", "-nx", "-ex", "run", "-ex", "gcore \(path)", "--args", program] + arguments,
                                   environment: ["SWIFT_BACKTRACE": "enable=no"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "gdb wrote no core: \(r.stdout) \(r.stderr)")
    }

    /// `vunwind core ARGS --json`, parsed.
    static func analyze(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
        let r = try Subprocess.run(try Tools.product("vunwind"), ["core", "--json"] + arguments)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return (try JSONSerialization.jsonObject(with: r.stdoutBytes) as? [[String: Any]]) ?? []
    }

    /// eu-stack's frames per thread: tid -> [(pc, name)].
    static func euStack(core: String, exe: String? = nil) throws -> [Int: [(pc: UInt64, name: String)]] {
        let r = try Subprocess.run(try Tools.path("eu-stack"), ["--core", core] + (exe.map { ["-e", $0] } ?? []))
        var out: [Int: [(UInt64, String)]] = [:]
        var tid = 0
        for line in r.stdout.split(separator: "\n") {
            if line.hasPrefix("TID ") { tid = Int(line.dropFirst(4).dropLast()) ?? 0; continue }
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 2, f[0].hasPrefix("#"), let pc = UInt64(f[1].dropFirst(2), radix: 16) else { continue }
            out[tid, default: []].append((pc, f.count > 2 ? String(f[2]) : ""))
        }
        return out
    }

    /// gdb's backtrace lines and the value of an expression, on a core.
    static func gdb(_ program: String, core: String, _ commands: [String]) throws -> String {
        let r = try Subprocess.run(try Tools.path("gdb"), ["-batch", "-nx"] + commands.flatMap { ["-ex", $0] } + [program, core])
        return r.stdout
    }

    static func hex(_ s: Any?) -> UInt64? {
        guard let t = s as? String, t.hasPrefix("0x") else { return nil }
        return UInt64(t.dropFirst(2), radix: 16)
    }
}

/// A value behind a lock (Mutex's withLock with a throwing body).
final class LockedValue<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ v: T) { value = v }
    func withLock<R>(_ body: (inout T) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
