// ThreadsCoreTests: an 8-thread process in which four threads sit inside the four entries
// (each just past its TSC or TSC_AUX read) when another thread aborts. The judge of what
// each call "would have returned" is the live process itself: after the core is written,
// each parked thread is single-stepped on until its entry returns, and its registers and
// the memory it stored are what the synthesized return must equal. The rewritten core may
// differ from the original only in those four register blocks and those outputs.

import Bytes
import CoreDump
import ELF
import Foundation
import TestSupport
import Unwind
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class ThreadsCoreTests: XCTestCase {
    struct Output { var entry: String; var tid: Int32; var address: UInt64; var size: Int }

    static let text: Range<UInt64> = 0x5500_0000_1000..<0x5500_0000_2000

    /// Steps `t` until `done(rip)`, at most `limit` instructions.
    func step(_ t: TracedProcess, limit: Int = 200_000, until done: (UInt64) -> Bool) throws -> Bool {
        for _ in 0..<limit {
            try t.singleStep()
            guard case .stopped(SIGTRAP) = try t.wait() else { return false }
            if done(try t.registers().rip) { return true }
        }
        return false
    }

    func testFourThreadsInsideTheFourEntriesAreReturnedAsTheLiveProcessReturnsAndNothingElseChanges() throws {
        let program = try FixturePrograms.shared("core_threads.c")
        let dir = try Tools.temporaryDirectory("vunwind-core-threads")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let pid = try Spawner.spawn(program, [dir.path], environment: ["SWIFT_BACKTRACE": "enable=no"], quiet: true)
        let main = TracedProcess(pid: pid)
        defer {
            main.kill()
            unlink("/tmp/perf-\(pid).map")
        }
        try main.waitForStop(SIGSTOP)
        let lines = try String(contentsOf: dir.appendingPathComponent("threads.txt"), encoding: .utf8).split(separator: "\n")
        let outputs = lines.map { $0.split(separator: " ") }.compactMap { f -> Output? in
            guard f.count == 4, let tid = Int32(f[1]), let a = UInt64(f[2].dropFirst(2), radix: 16), let n = Int(f[3]) else { return nil }
            return Output(entry: String(f[0]), tid: tid, address: a, size: n)
        }
        XCTAssertEqual(outputs.count, 8, "\(lines)")
        let memory = ProcessMemoryReader(pid: pid)
        let entryThreads = Dictionary(grouping: outputs.filter { $0.entry != "idle" }, by: \.tid)
        XCTAssertEqual(entryThreads.count, 4)

        // Park each entry thread just past its counter read (rdtscp, or rdpid for vgetcpu).
        var parked: [Int32: TracedProcess] = [:]
        for (tid, outs) in entryThreads {
            let t = try TracedProcess.attach(tid)
            parked[tid] = t
            let slot: UInt64 = ["vgettimeofday": 0, "vtime": 0x400, "vgetcpu": 0x800, "vclock_gettime": 0xc00][outs[0].entry]!
            let code = try memory.fetchBytes(from: Self.text.lowerBound + slot, count: 0x100)
            var target: UInt64?
            for i in 0..<(code.count - 4) {
                if code[i..<(i + 3)] == [0x0f, 0x01, 0xf9] { target = Self.text.lowerBound + slot + UInt64(i + 3); break }
                if code[i..<(i + 4)] == [0xf3, 0x0f, 0xc7, 0xf8] { target = Self.text.lowerBound + slot + UInt64(i + 4); break }
            }
            let at = try XCTUnwrap(target, "no counter read in \(outs[0].entry)")
            XCTAssertTrue(try step(t) { $0 == at }, "\(outs[0].entry) never reached 0x\(String(at, radix: 16))")
        }
        // The main thread aborts; the core is written at its SIGABRT.
        try main.cont()
        try main.waitForStop(SIGABRT)
        let core = dir.appendingPathComponent("core.threads").path
        let summary = try CoreWriter.write(pid: pid, to: core, alreadyStopped: Set([pid] + entryThreads.keys))
        XCTAssertEqual(summary.threads, 8)

        // The live continuation: each parked thread runs on until its entry returns.
        var live: [Int32: (registers: X86_64Registers, outputs: [UInt64: [UInt8]])] = [:]
        for (tid, t) in parked {
            XCTAssertTrue(try step(t) { !Self.text.contains($0) }, "thread \(tid) did not return")
            var stored: [UInt64: [UInt8]] = [:]
            for o in entryThreads[tid]! { stored[o.address] = try memory.fetchBytes(from: o.address, count: o.size) }
            live[tid] = (try t.registers(), stored)
        }

        let out = core + ".returned"
        let report = try XCTUnwrap(CoreHarness.analyze([core, "--rewrite", out]).first)
        let threads = (report["threads"] as? [[String: Any]]) ?? []
        XCTAssertEqual(threads.count, 8)
        for t in threads {
            let tid = Int32(t["tid"] as? Int ?? -1)
            guard let (regs, stored) = live[tid] else {
                XCTAssertNil(t["returned"], "thread \(tid) was not in an entry")
                continue
            }
            let entry = entryThreads[tid]![0].entry
            let r = try XCTUnwrap(t["returned"] as? [String: Any], "\(entry): \(t["notReturned"] ?? "")")
            XCTAssertEqual(r["value"] as? Int, Int(Int64(bitPattern: regs.rax)), "\(entry): \(r["derivation"] ?? "")")
            for (name, value) in [("rip", regs.rip), ("rsp", regs.rsp), ("rbx", regs.rbx), ("rbp", regs.rbp),
                                  ("r12", regs.r12), ("r13", regs.r13), ("r14", regs.r14), ("r15", regs.r15)] {
                XCTAssertEqual(CoreHarness.hex(r[name]), value, "\(entry) \(name)")
            }
            // Every byte the live call stored is what the synthesized return stores there.
            let synthesized = ((r["outputs"] as? [[String: Any]]) ?? []).map {
                (CoreHarness.hex($0["address"]) ?? 0, ($0["bytes"] as? String) ?? "", ($0["inCore"] as? Bool) ?? false)
            }
            for (address, bytes) in stored {
                let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
                let covering = synthesized.filter { $0.0 >= address && $0.0 < address + UInt64(bytes.count) }
                    .sorted { $0.0 < $1.0 }
                XCTAssertEqual(covering.map(\.1).joined(), hex, "\(entry) output at 0x\(String(address, radix: 16))")
                XCTAssertTrue(covering.allSatisfy(\.2), "\(entry): an output is not in the core")
            }
        }

        // Byte for byte: only the four register blocks and the outputs differ.
        let parsed = try CoreFile(source: try FileByteSource(path: core))
        var allowed: [Range<UInt64>] = parsed.threads.filter { live[$0.tid] != nil }.map {
            $0.registersFileOffset..<($0.registersFileOffset + 27 * 8)
        }
        let segments = try Subprocess.run(try Tools.path("readelf"), ["-lW", core]).stdout.split(separator: "\n")
            .map { $0.split(separator: " ") }.filter { $0.first == "LOAD" }
            .compactMap { f -> (UInt64, UInt64, UInt64)? in
                guard let off = UInt64(f[1].dropFirst(2), radix: 16), let va = UInt64(f[2].dropFirst(2), radix: 16),
                      let fs = UInt64(f[4].dropFirst(2), radix: 16) else { return nil }
                return (off, va, fs)
            }
        for o in outputs where o.entry != "idle" {
            let s = try XCTUnwrap(segments.first { o.address >= $0.1 && o.address < $0.1 + $0.2 })
            let offset = s.0 + (o.address - s.1)
            allowed.append(offset..<(offset + UInt64(o.size)))
        }
        let a = try Data(contentsOf: URL(fileURLWithPath: core)), b = try Data(contentsOf: URL(fileURLWithPath: out))
        XCTAssertEqual(a.count, b.count)
        var differing = 0, outside: [Int] = []
        a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in
                for i in 0..<min(pa.count, pb.count) where pa[i] != pb[i] {
                    differing += 1
                    if !allowed.contains(where: { $0.contains(UInt64(i)) }) && outside.count < 10 { outside.append(i) }
                }
            }
        }
        XCTAssertGreaterThan(differing, 0)
        XCTAssertEqual(outside, [], "bytes changed outside the returned threads' registers and outputs")
    }
}
