// The tester is tested: walkers made wrong on purpose (a wrong register at one stop, a
// walk that stops at frame 0, a limitation declared where the walker is right) must be
// reported exactly, with the instruction (checked by running objdump on the bytes the
// stop had), the field, the expected and the actual value.

import DwarfCFI
import Foundation
import StackWalk
import TestSupport
import Unwind
import Vsyscall
import XCTest

/// Our walker, with r13 of the trampoline frame replaced at one stop.
final class WrongRegisterWalker: Walker {
    let name = "wrong-r13"
    let inner = DwarfUnwinderWalker()
    let lieAt: Int
    var count = 0
    var lied: (pc: UInt64, bytes: [UInt8])?
    init(lieAt: Int) { self.lieAt = lieAt }

    func walk(_ stop: WalkStop) throws -> [WalkedFrame] {
        var frames = try inner.walk(stop)
        defer { count += 1 }
        guard count == lieAt, let k = frames.firstIndex(where: { $0.pc == stop.truth.returnAddress }) else { return frames }
        frames[k].registers[DwarfRegister.r13] = 0xdead_beef
        lied = (stop.registers.rip, try ProcessMemoryReader(pid: stop.pid).fetchBytes(from: stop.registers.rip, count: 15))
        return frames
    }
}

/// A walker that never gets past frame 0.
final class EarlyStopWalker: Walker {
    let name = "early-stop"
    func walk(_ stop: WalkStop) throws -> [WalkedFrame] { [WalkedFrame(pc: stop.registers.rip, sp: stop.registers.rsp)] }
}

/// Our walker with a garbage frame (an address in no module) inserted before the
/// trampoline's: what libdwfl reports when a CFI step reads a wrong return address and its
/// rbp fallback then finds the trampoline.
final class GarbageFrameWalker: Walker {
    let name = "garbage-frame"
    let inner = DwarfUnwinderWalker()
    func walk(_ stop: WalkStop) throws -> [WalkedFrame] {
        var frames = try inner.walk(stop)
        frames.insert(WalkedFrame(pc: 0x1212_1212_1212_1212), at: 1)
        return frames
    }
}

/// Our (right) walker declaring a limitation at the entry's first instruction.
final class OverDeclaringWalker: Walker {
    let name = "over-declaring"
    let inner = DwarfUnwinderWalker()
    let entry: UInt64
    init(entry: UInt64) { self.entry = entry }
    func walk(_ stop: WalkStop) throws -> [WalkedFrame] { try inner.walk(stop) }
    func limitation(at stop: WalkStop) -> String? { stop.registers.rip == entry ? "declared for the test" : nil }
}

final class TesterTests: XCTestCase {
    func objdump(_ bytes: [UInt8], at address: UInt64) throws -> String {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("insn.bin")
        try Data(bytes).write(to: file)
        let r = try Subprocess.run(try Tools.path("objdump"),
                                   ["-D", "-b", "binary", "-m", "i386:x86-64", "--adjust-vma=0x" + String(address, radix: 16), file.path])
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("  ") && $0.contains(":\t") })
        return line.split(separator: "\t", omittingEmptySubsequences: false)[2...].joined(separator: " ")
            .split(separator: " ").joined(separator: " ")
    }

    func testAWrongRegisterAtOneStopIsReportedWithItsInstructionFieldExpectedAndActualValue() throws {
        let wrong = WrongRegisterWalker(lieAt: 9)
        let tester = StackWalkTester(helper: try Tools.product("vunwind-walk-subject"), walkers: [wrong])
        let report = try tester.run([WalkSubject(.page(entry: .gettimeofday, path: .fast))])
        let lied = try XCTUnwrap(wrong.lied)
        let cell = try XCTUnwrap(report.cells.first)
        XCTAssertEqual(cell.failed, 1)
        XCTAssertEqual(cell.passed, cell.stops - 1)
        XCTAssertEqual(report.failures, [WalkFailure(
            walker: "wrong-r13", subject: "vgettimeofday", path: "fast", address: "0x" + String(lied.pc, radix: 16),
            function: "vgettimeofday", offset: Int(lied.pc - Vsyscall.defaultAddress - VsyscallImage.textOffset - EntryKind.gettimeofday.slot),
            instruction: try objdump(lied.bytes, at: lied.pc), stop: 9, field: "r13",
            expected: "0x1313131313131313", actual: "0xdeadbeef")])
        XCTAssertFalse(report.passed)
    }

    func testAWalkerThatStopsAtFrameZeroFailsEveryStopOnTheChain() throws {
        let tester = StackWalkTester(helper: try Tools.product("vunwind-walk-subject"), walkers: [EarlyStopWalker()])
        tester.failureLimit = 1000
        let report = try tester.run([WalkSubject(.page(entry: .time, path: .fast))])
        let cell = try XCTUnwrap(report.cells.first)
        XCTAssertGreaterThan(cell.stops, 10)
        XCTAssertEqual(cell.failed, cell.stops)
        XCTAssertEqual(cell.passed, 0)
        XCTAssertEqual(report.failures.count, cell.stops)
        for f in report.failures {
            XCTAssertEqual(f.field, "chain")
            XCTAssertEqual(f.actual, "1 frame(s), the last at \(f.address)")
            XCTAssertTrue(f.expected.hasPrefix("a frame at 0x") && f.expected.hasSuffix(" (vu_walk_call)"), f.expected)
        }
    }

    func testAFrameOutsideEveryModuleBeforeTheTrampolineFailsTheChainEvenIfTheTrampolineFollows() throws {
        let tester = StackWalkTester(helper: try Tools.product("vunwind-walk-subject"), walkers: [GarbageFrameWalker()])
        tester.failureLimit = 1000
        let report = try tester.run([WalkSubject(.page(entry: .clockGettime, path: .fast))])
        let cell = try XCTUnwrap(report.cells.first)
        XCTAssertEqual(cell.failed, cell.stops)
        XCTAssertEqual(Set(report.failures.map(\.actual)), ["frame 1 at 0x1212121212121212, in no module"])
        XCTAssertEqual(Set(report.failures.map(\.field)), ["chain"])
    }

    func testADeclaredLimitationThatNoLongerFailsIsReported() throws {
        let entry = Vsyscall.defaultAddress + VsyscallImage.textOffset + EntryKind.getcpu.slot
        let tester = StackWalkTester(helper: try Tools.product("vunwind-walk-subject"), walkers: [OverDeclaringWalker(entry: entry)])
        let report = try tester.run([WalkSubject(.page(entry: .getcpu, path: .fast))])
        let cell = try XCTUnwrap(report.cells.first)
        XCTAssertEqual(cell.failed, 1)
        XCTAssertEqual(cell.expected, 0)
        XCTAssertEqual(cell.passed, cell.stops - 1)
        XCTAssertEqual(report.failures.map(\.field), ["limitation"])
        XCTAssertEqual(report.failures.first?.expected, "fails: declared for the test")
        XCTAssertEqual(report.failures.first?.actual, "passed")
        XCTAssertEqual(report.failures.first?.address, "0x" + String(entry, radix: 16))
        XCTAssertEqual(report.failures.first?.offset, 0)
        XCTAssertEqual(report.failures.first?.stop, 0)
    }
}
