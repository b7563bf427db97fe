// HostileCoreTests: cores are untrusted input. Each hostile shape ends either in exit 2
// with one line naming the file and the byte offset, or in a correct partial analysis; never
// a crash, a trap, a hang or an allocation the input sized. The base is a real core: a
// static program's, written by the kernel or by our CoreWriter at its fault in the vDSO
// (small, and with no libraries to read, so 10^5 mutations run in seconds).

import Bytes
import CoreDump
import ELF
import Foundation
import TestSupport
import Unwind
import XCTest

final class HostileCoreTests: XCTestCase {
    /// A real core of a static program that died in the vDSO, built once per process.
    static let mutations = Int(ProcessInfo.processInfo.environment["VUNWIND_MUTATIONS"] ?? "") ?? 100_000
    static let base = LockedValue<(core: [UInt8], program: String)?>(nil)

    func baseCore() throws -> (core: [UInt8], program: String) {
        try Self.base.withLock { state in
            if let s = state { return s }
            let dir = try Tools.temporaryDirectory("vunwind-core-hostile")
            let program = dir.appendingPathComponent("static_crash").path
            let r = try Subprocess.run(try Tools.path("gcc"), [
                "-static", "-O1", "-g", "-fno-omit-frame-pointer", "-fno-inline", "-o", program,
                Tools.repositoryRoot.appendingPathComponent("fixtures/programs/core_crash.c").path,
                "-Wl,--unresolved-symbols=ignore-all"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let cores = try CoreHarness.crash(program, [dir.path, "vdso-gettimeofday", "traced"], in: dir)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: cores.ours)))
            state = (bytes, program)
            return (bytes, program)
        }
    }

    func write(_ bytes: [UInt8]) throws -> String {
        let dir = try Tools.temporaryDirectory("vunwind-hostile")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("core").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// `vunwind core` on bytes: exit 2 and exactly `line`, or (line nil) exit 0.
    func assertCLI(_ bytes: [UInt8], _ line: String?, file: StaticString = #filePath, line l: UInt = #line) throws {
        let path = try write(bytes)
        let r = try Subprocess.run(try Tools.product("vunwind"), ["core", "--no-cross-check", path],
                                   environment: ["SWIFT_BACKTRACE": "enable=no"])
        if let line {
            XCTAssertEqual(r.status, 2, r.stdout, file: file, line: l)
            XCTAssertEqual(r.stderr, "vunwind: \(path): \(line)\n", file: file, line: l)
            XCTAssertEqual(r.stdout, "", file: file, line: l)
        } else {
            XCTAssertEqual(r.status, 0, r.stderr, file: file, line: l)
        }
    }

    func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8)] }
    func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    func patch(_ b: inout [UInt8], _ at: Int, _ v: [UInt8]) { b.replaceSubrange(at..<(at + v.count), with: v) }

    /// Offsets of the base core's program headers and its first note.
    func layout(_ b: [UInt8]) throws -> (phoff: Int, phnum: Int, notes: Int, notesSize: Int, firstLoad: Int) {
        let elf = try ELFFile(bytes: b)
        let phoff = Int(elf.header.programHeaderOffset)
        let note = try XCTUnwrap(elf.programHeaders.firstIndex { $0.type == ELF.ptNote })
        let load = try XCTUnwrap(elf.programHeaders.firstIndex { $0.type == ELF.ptLoad })
        return (phoff, elf.programHeaders.count, Int(elf.programHeaders[note].offset), Int(elf.programHeaders[note].fileSize),
                phoff + load * 56)
    }

    func testNotACoreWrongMachineAnd32BitAreOneLineAtTheirField() throws {
        let (core, program) = try baseCore()
        try assertCLI(Array(try Data(contentsOf: URL(fileURLWithPath: program))),
                      "at 0x10: not an x86-64 core: e_type is 2, not ET_CORE (4)")
        var b = core
        patch(&b, 18, le16(183))  // EM_AARCH64
        try assertCLI(b, "at 0x12: not an x86-64 core: e_machine is 183, not x86-64 (62)")
        b = core
        b[4] = 1  // ELFCLASS32
        try assertCLI(b, "at 0x4: ELF class 1 is not supported (ELF64 only)")
        try assertCLI([], "at 0x0: empty file")
        try assertCLI(Array("not an ELF file at all".utf8), "at 0x0: not an ELF file (bad magic)")
    }

    func testATruncatedCoreIsOneLineOrAPartialAnalysisAtEveryLength() throws {
        let (core, _) = try baseCore()
        let l = try layout(core)
        // Inside the header, the program headers, the notes, and the memory.
        try assertCLI(Array(core.prefix(40)), "at 0x28: truncated: need 8 bytes, 0 left")
        try assertCLI(Array(core.prefix(l.phoff + 20)), "at 0x20: program header table runs past the end of the file")
        try assertCLI(Array(core.prefix(l.notes + 100)), "at 0x\(String(l.phoff + 8, radix: 16)): segment 0 runs past the end of the file")
        // Memory cut off: the analysis runs and says the stack is not there.
        let half = Array(core.prefix(core.count / 2))
        let a = CoreAnalyzer.analyze(core: try CoreFile(source: ArrayByteSource(half)), path: "half", options: .init(crossCheck: false))
        XCTAssertEqual(a.report.threads.count, 1)
        for n in stride(from: 0, to: core.count, by: 997) {
            if let c = try? CoreFile(source: ArrayByteSource(Array(core.prefix(n)))) {
                _ = CoreAnalyzer.analyze(core: c, path: "cut", options: .init(crossCheck: false))
            }
        }
    }

    func testNoNotesGivesAnAnalysisWithNoThreads() throws {
        var b = try baseCore().core
        let l = try layout(b)
        for i in 0..<l.phnum where b[l.phoff + i * 56] == 4 { patch(&b, l.phoff + i * 56, le32(0)) }  // PT_NOTE -> PT_NULL
        try assertCLI(b, nil)
        let a = CoreAnalyzer.analyze(core: try CoreFile(source: ArrayByteSource(b)), path: "x", options: .init(crossCheck: false))
        XCTAssertEqual(a.report.threads.count, 0)
    }

    func testNotesWithLyingSizesAreOneLineAtTheNote() throws {
        let core = try baseCore().core
        let l = try layout(core)
        var b = core
        patch(&b, l.notes + 4, le32(0x7fff_ffff))  // the first note's descsz
        try assertCLI(b, "at 0x\(String(l.notes, radix: 16)): malformed note: descriptor size 2147483647 exceeds the note area")
        b = core
        patch(&b, l.notes, le32(0xffff_fff0))  // namesz
        try assertCLI(b, "at 0x\(String(l.notes, radix: 16)): malformed note: name size 4294967280 exceeds the note area")
        b = core
        patch(&b, l.notes + 4, le32(64))  // NT_PRSTATUS claims 64 bytes
        try assertCLI(b, "at 0x\(String(l.notes, radix: 16)): malformed note: NT_PRSTATUS is 64 bytes, not 336 (an x86-64 core)")
    }

    func testOverlappingUnsortedAndAbsurdSegmentsAreResolvedNotTrusted() throws {
        var b = try baseCore().core
        let l = try layout(b)
        let elf = try ELFFile(bytes: b)
        let loads = elf.programHeaders.indices.filter { elf.programHeaders[$0].type == ELF.ptLoad }
        // Segment 1 copies segment 0's address (an overlap), the last one wraps.
        let first = elf.programHeaders[loads[0]]
        patch(&b, l.phoff + loads[1] * 56 + 16, le64(first.virtualAddress))
        patch(&b, l.phoff + loads.last! * 56 + 16, le64(0xffff_ffff_ffff_f000))
        patch(&b, l.phoff + loads.last! * 56 + 40, le64(0x10_0000))
        let core = try CoreFile(source: ArrayByteSource(b))
        XCTAssertEqual(core.memory.problems, ["segment \(loads.last!) at 0xfffffffffffff000 with size 0x100000 wraps the address space; ignored"])
        // The first segment in table order supplies the overlapped bytes.
        XCTAssertEqual(core.memory.segment(containing: first.virtualAddress), first)
        XCTAssertEqual(try core.memory.fetchBytes(from: first.virtualAddress, count: 16),
                       Array(b[Int(first.offset)..<Int(first.offset) + 16]))
        _ = CoreAnalyzer.analyze(core: core, path: "x", options: .init(crossCheck: false))
        try assertCLI(b, nil)
    }

    func testAMillionTinyNotesEndWithATypedErrorNotAHang() throws {
        // An ELF core header, one PT_NOTE of 10^6 empty notes (12 bytes each).
        var w = ByteWriter()
        w.append(contentsOf: ELF.magic); w.u8(2); w.u8(1); w.u8(1); w.u8(0); w.append(contentsOf: [UInt8](repeating: 0, count: 8))
        w.u16(ELF.etCore); w.u16(ELF.emX86_64); w.u32(1); w.u64(0); w.u64(64); w.u64(0); w.u32(0)
        w.u16(64); w.u16(56); w.u16(1); w.u16(64); w.u16(0); w.u16(0)
        let notes = 1_000_000 * 12
        w.u32(ELF.ptNote); w.u32(0); w.u64(120); w.u64(0); w.u64(0); w.u64(UInt64(notes)); w.u64(0); w.u64(4)
        var bytes = w.bytes
        bytes += [UInt8](repeating: 0, count: notes)
        let limit = CoreFile.Limits.default.maxNotes
        try assertCLI(bytes, "at 0x\(String(120 + limit * 12, radix: 16)): malformed note: more than \(limit) notes")
    }

    func testACyclicStackEndsTheWalkWithATypedError() throws {
        let (core, _) = try baseCore()
        let c = try CoreFile(source: ArrayByteSource(core))
        let a = CoreAnalyzer.analyze(core: c, path: "x", options: .init(crossCheck: false))
        // The returned thread's frame 1 (crash_inner, an rbp frame): make its saved rbp
        // point at itself and its return address a return into crash_inner again.
        let t = try XCTUnwrap(a.report.threads.first)
        let frames = t.frames
        XCTAssertEqual(frames.dropFirst().first?.function, "crash_inner")
        let regs = try XCTUnwrap(a.returns[t.tid]).registers
        var walk = DwarfUnwinder(registers: X86_64Registers(words: regs).frameRegisters, memory: c.memory,
                                 modules: a.modules.map)
        let inner = try XCTUnwrap(walk.walk().frames.dropFirst().first)
        let cfa = try XCTUnwrap(inner.cfa)
        let rbp = cfa - 16  // crash_inner keeps a frame pointer: CFA = rbp + 16
        var b = core
        let pc = inner.pc
        for (address, value) in [(rbp, rbp), (rbp + 8, pc)] {
            let place = try XCTUnwrap(CoreRewriter.fileOffsets(c.memory, address, 8)?.first)
            patch(&b, Int(place.offset), le64(value))
        }
        let cyclic = CoreAnalyzer.analyze(core: try CoreFile(source: ArrayByteSource(b)), path: "x", options: .init(crossCheck: false))
        let end = try XCTUnwrap(cyclic.report.threads.first?.walkEnd)
        XCTAssertTrue(end.hasPrefix("the CFA did not move toward the stack base at 0x\(String(pc, radix: 16))"), end)
        XCTAssertLessThan(cyclic.report.threads.first?.frames.count ?? 999, 8)
    }

    func testOneHundredThousandSeededMutationsOfARealCoreNeverTrap() throws {
        let core = try baseCore().core
        let l = try layout(core)
        let header = l.notes + l.notesSize  // ELF header, program headers, notes
        var rng = SeededGenerator(seed: 0xc07e)
        var parsed = 0, analyzed = 0
        let cache = ModuleImageCache()
        for i in 0..<Self.mutations {
            var b = core
            let edits = 1 + Int(rng.next() % 4)
            for _ in 0..<edits {
                // Mostly the structures; sometimes the memory (stack, the vDSO's image).
                let at = i % 10 == 0 ? Int(rng.next() % UInt64(b.count)) : Int(rng.next() % UInt64(header))
                switch rng.next() % 3 {
                case 0: b[at] = UInt8(truncatingIfNeeded: rng.next())
                case 1: b[at] ^= 1 << (rng.next() % 8)
                default:
                    let v = [0, 0xff, 0x7f, 0x80][Int(rng.next() % 4)]
                    for k in at..<min(b.count, at + 8) { b[k] = UInt8(v) }
                }
            }
            guard let c = try? CoreFile(source: ArrayByteSource(b)) else { continue }
            parsed += 1
            let a = CoreAnalyzer.analyze(core: c, path: "mutant", options: .init(crossCheck: false, maxFrames: 64, cache: cache))
            if !a.report.threads.isEmpty { analyzed += 1 }
        }
        print("hostile cores: \(Self.mutations) mutations, \(parsed) parsed, \(analyzed) analyzed with threads")
        XCTAssertGreaterThan(parsed, Self.mutations / 2, "mutations should mostly leave a readable core")
    }
}
