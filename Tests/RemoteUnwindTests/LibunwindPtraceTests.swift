// libunwind-ptrace through the vsyscall page of another process: with the accessors that
// answer find_proc_info from the page's .eh_frame_hdr (read from the target's memory), it
// unwinds a stopped helper through each entry to main, and agrees frame by frame (pc, sp,
// callee-saved registers) with our own DwarfUnwinder at every instruction of one executed
// call of each entry (the fast path). Our unwinder is the oracle here, so this proves
// agreement, not truth; libunwind-ptrace against ground truth (the trampoline's), on every
// path of every entry, is StackWalkTests' PageMatrixTests.

import CVunwind
import DwarfCFI
import ELF
import Foundation
import RemoteUnwind
import TestSupport
import Unwind
import XCTest

final class LibunwindPtraceTests: XCTestCase {
    static let entries = ["vgettimeofday", "vtime", "vgetcpu", "vclock_gettime"]

    /// Spawns the spinner on `entry`, waits for the page, attaches and returns it stopped.
    func spinner(_ entry: String) throws -> (TracedProcess, ModuleMap, ProcessMemoryReader) {
        let program = try FixturePrograms.shared("spin.c")
        let pid = try Spawner.spawn(program, [entry], environment: ["SWIFT_BACKTRACE": "enable=no"], quiet: true)
        addTeardownBlock { kill(pid, SIGKILL); var s: Int32 = 0; waitpid(pid, &s, 0) }
        // The page appears once vsyscall_install returns.
        var ready = false
        for _ in 0..<500 where !ready {
            ready = (try? MemoryMap.read(pid: pid))?.mapping(containing: 0x5500_0000_1000) != nil
            if !ready { usleep(10_000) }
        }
        XCTAssertTrue(ready, "the page never appeared in \(pid)")
        usleep(50_000)
        let traced = try TracedProcess.attach(pid)
        let memory = ProcessMemoryReader(pid: pid)
        return (traced, try ModuleMap(pid: pid, memory: memory), memory)
    }

    func ours(_ traced: TracedProcess, _ modules: ModuleMap, _ memory: ProcessMemoryReader) throws -> [UnwoundFrame] {
        var u = DwarfUnwinder(registers: try traced.registers().frameRegisters, memory: memory, modules: modules)
        var frames: [UnwoundFrame] = []
        while let f = u.next() { frames.append(f) }
        return frames
    }

    func testLibunwindPtraceWithTheAccessorsAgreesWithOurUnwinderToMainAtEveryInstructionOfOneCallOfEachEntry() throws {
        for entry in Self.entries {
            let (traced, modules, memory) = try spinner(entry)
            let images = MemoryImage.find(in: modules)
            let page = try XCTUnwrap(images.first { $0.note != nil }, "no vsyscall page found in the helper")
            let note = try XCTUnwrap(page.note)
            let range = try XCTUnwrap(note.entries.first { $0.name == entry }).range
            // Step to the entry's first instruction (the attach may have stopped the helper
            // anywhere, in the middle of a call too), then through every instruction of one call.
            var steps = 0
            while try traced.registers().rip != range.lowerBound {
                try traced.singleStep()
                try traced.waitForStop(SIGTRAP)
                steps += 1
                XCTAssertLessThan(steps, 1_000_000, "never reached \(entry)")
            }
            // Walk at the first visit of each instruction only: walking takes milliseconds,
            // and a reader held that long inside the data page's lock section is retried
            // by every timekeeper tick, forever. Later visits single-step quickly.
            var checked = 0
            var visited = Set<UInt64>()
            while range.contains(try traced.registers().rip) {
                guard visited.insert(try traced.registers().rip).inserted else {
                    try traced.singleStep()
                    try traced.waitForStop(SIGTRAP)
                    continue
                }
                let expected = try ours(traced, modules, memory)
                let walk = try LibunwindRemoteUnwinder.walk(tid: traced.pid, images: images)
                let names = expected.map { $0.symbol ?? "?" }
                XCTAssertEqual(Array(names.prefix(4)), [entry, "vu_spin_inner", "vu_spin_outer", "main"],
                               "\(entry) at 0x\(String(expected[0].pc, radix: 16))")
                XCTAssertGreaterThan(walk.answeredFromImages, 0)
                XCTAssertGreaterThanOrEqual(walk.frames.count, 4)
                for (o, t) in zip(expected.prefix(4), walk.frames.prefix(4)) {
                    let at = "\(entry) at 0x\(String(expected[0].pc, radix: 16)), frame \(o.symbol ?? "?")"
                    XCTAssertEqual(t.pc, o.pc, at)
                    XCTAssertEqual(t.sp, o.registers.sp, at)
                    for r in DwarfRegister.calleeSaved {
                        XCTAssertEqual(t.calleeSaved[r], o.registers[r], "\(at) \(DwarfRegister.name(UInt64(r)))")
                    }
                }
                checked += 1
                try traced.singleStep()
                try traced.waitForStop(SIGTRAP)
            }
            // The executed path of one call: 21 instructions in vgetcpu, 30 or more in the others.
            XCTAssertGreaterThanOrEqual(checked, 20, "\(entry): instructions checked")
            traced.kill()
        }
    }

    func testWithoutTheAccessorsLibunwindPtraceRestoresTheEntrysCalleeSavedRegistersWrongly() throws {
        // The trap FIELD-NOTES describes: libunwind crosses an rbp frame it has no CFI for by
        // the frame-pointer chain, so a PC-only check proves nothing; the registers show it.
        let (traced, modules, memory) = try spinner("vgettimeofday")
        defer { traced.kill() }
        let images = MemoryImage.find(in: modules)
        let note = try XCTUnwrap(images.first { $0.note != nil }?.note)
        let range = note.entries[0].range
        // Stop where the entry has saved rbx and r12 and holds its arguments in them.
        let listing = try XCTUnwrap(note.entries.first)
        var steps = 0
        while true {
            let rip = try traced.registers().rip
            if rip >= listing.address + 0x0d && range.contains(rip) { break }
            try traced.singleStep()
            try traced.waitForStop(SIGTRAP)
            steps += 1
            XCTAssertLessThan(steps, 1_000_000)
        }
        let expected = try ours(traced, modules, memory)
        let with = try LibunwindRemoteUnwinder.walk(tid: traced.pid, images: images)
        let without = try LibunwindRemoteUnwinder.walk(tid: traced.pid, images: [])
        XCTAssertEqual(without.answeredFromImages, 0)
        XCTAssertEqual(with.frames[1].calleeSaved[DwarfRegister.rbx], expected[1].registers[DwarfRegister.rbx])
        XCTAssertNotEqual(without.frames.count > 1 ? without.frames[1].calleeSaved[DwarfRegister.rbx] : nil,
                          expected[1].registers[DwarfRegister.rbx],
                          "without the accessors libunwind must not get the caller's rbx right")
    }
}
