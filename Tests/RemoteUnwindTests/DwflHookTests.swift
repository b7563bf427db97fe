// The libdwfl hook: libdwfl reports file-backed mappings (deleted ones included) but not
// anonymous memory. A page mapped privately - as most JITs map code - is invisible to it,
// and an unwind that starts there goes nowhere; the hook finds the page by its ELF header
// and reports it, and libdwfl unwinds through it to main.

import CVunwind
import Foundation
import RemoteUnwind
import TestSupport
import Unwind
import XCTest

final class DwflHookTests: XCTestCase {
    /// A spinner on vgettimeofday with the page mapped as `mapping`, stopped inside it.
    func stoppedInside(mapping: String, at range: Range<UInt64> = 0x5500_0000_100d..<0x5500_0000_1400) throws -> TracedProcess {
        let program = try FixturePrograms.shared("spin.c")
        let pid = try Spawner.spawn(program, ["vgettimeofday"],
                                    environment: ["SWIFT_BACKTRACE": "enable=no", "VUNWIND_VSYSCALL_MAPPING": mapping],
                                    quiet: true)
        addTeardownBlock { kill(pid, SIGKILL); var s: Int32 = 0; waitpid(pid, &s, 0) }
        var mapped = false
        for _ in 0..<500 where !mapped {
            mapped = (try? MemoryMap.read(pid: pid))?.mapping(containing: 0x5500_0000_1000) != nil
            if !mapped { usleep(10_000) }
        }
        XCTAssertTrue(mapped)
        usleep(50_000)
        let traced = try TracedProcess.attach(pid)
        var steps = 0
        // vgettimeofday is at 0x550000001000 and under 0x400 bytes long.
        while !range.contains(try traced.registers().rip) {
            try traced.singleStep()
            try traced.waitForStop(SIGTRAP)
            steps += 1
            XCTAssertLessThan(steps, 1_000_000)
        }
        return traced
    }

    func testLibdwflNeedsNoHookForTheDefaultSharedMappingAndUnwindsThroughItToMain() throws {
        let traced = try stoppedInside(mapping: "shared-anonymous")
        let process = try DwflProcess(pid: traced.pid, hook: true)
        XCTAssertEqual(process.hookedImages, [], "libdwfl reports the shared page itself")
        let names = try process.frames().map { $0.symbol ?? "?" }
        XCTAssertEqual(Array(names.prefix(4)), ["vgettimeofday", "vu_spin_inner", "vu_spin_outer", "main"])
    }

    // At the entry's first instruction rbp still holds vu_spin_inner's frame. Without a
    // module for the page libdwfl falls back to walking frame pointers, which reads
    // vu_spin_inner's saved return address and drops vu_spin_inner from the stack; with the
    // hook it has the page's CFI (CFA = rsp + 8) and gets every frame.
    func testWithoutTheHookLibdwflHasNoSymbolForAPrivatelyMappedPageAndItsFramePointerFallbackSkipsTheCallerWithItTheChainIsExact() throws {
        let traced = try stoppedInside(mapping: "private-anonymous", at: 0x5500_0000_1000..<0x5500_0000_1001)
        let map = try MemoryMap.read(pid: traced.pid)
        XCTAssertEqual(map.mapping(containing: 0x5500_0000_1000)?.path, "", "the page has no path in /proc/PID/maps")

        let plain = try DwflProcess(pid: traced.pid, hook: false)
        XCTAssertEqual(plain.hookedImages, [])
        let without = try plain.frames()
        XCTAssertEqual(without.first?.pc, 0x5500_0000_1000)
        XCTAssertNil(without.first?.module, "libdwfl alone has no module for the page")
        XCTAssertNil(without.first?.symbol)
        XCTAssertEqual(Array(without.dropFirst().prefix(2).map { $0.symbol ?? "?" }), ["vu_spin_outer", "main"],
                       "the frame-pointer fallback skips vu_spin_inner: \(without)")

        let hooked = try DwflProcess(pid: traced.pid, hook: true)
        XCTAssertEqual(hooked.hookedImages.map(\.name), ["vunwind-vsyscall"])
        XCTAssertEqual(hooked.hookedImages.first?.base, 0x5500_0000_0000)
        let frames = try hooked.frames()
        XCTAssertEqual(frames.first?.pc, 0x5500_0000_1000)
        XCTAssertEqual(frames.first?.module, "vunwind-vsyscall")
        XCTAssertEqual(Array(frames.map { $0.symbol ?? "?" }.prefix(4)), ["vgettimeofday", "vu_spin_inner", "vu_spin_outer", "main"])
    }
}
