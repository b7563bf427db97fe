// Memory on big inputs: an object of 100,000 FDEs (the 62 MB object had as many)
// lists byte for byte as readelf lists it, with a peak RSS at most readelf's plus 20 MiB
// (it took 735 MB against readelf's 64 MB). Both peaks are measured by /usr/bin/time,
// whose own pages are a few hundred KiB of both figures.

import Foundation
import TestSupport
import XCTest

final class CFIMemoryTests: XCTestCase {
    /// Peak RSS (KiB) and stdout of `argv` under /usr/bin/time.
    func peak(_ argv: [String], in dir: URL) throws -> (kib: Int, stdout: Data) {
        let report = dir.appendingPathComponent("peak-\(UUID().uuidString)").path
        let r = try Subprocess.run("/usr/bin/time", ["-f", "%M", "-o", report] + argv)
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = try String(contentsOfFile: report, encoding: .utf8)
        let kib = try XCTUnwrap(text.split(separator: "\n").last.flatMap { Int($0) }, text)
        return (kib, r.stdoutBytes)
    }

    func testAHundredThousandFDEObjectListsLikeReadelfWithinItsPeakMemoryPlus20MiB() throws {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var asm = ".text\n"
        asm.reserveCapacity(100_000 * 150)
        for i in 0..<100_000 {
            asm += "f\(i):\n.cfi_startproc\npushq %rbp\n.cfi_def_cfa_offset 16\n.cfi_offset %rbp, -16\n"
                + "movq %rsp, %rbp\n.cfi_def_cfa_register %rbp\npopq %rbp\n.cfi_def_cfa %rsp, 8\nret\n.cfi_endproc\n"
        }
        let source = dir.appendingPathComponent("big.s"), object = dir.appendingPathComponent("big.o")
        try asm.write(to: source, atomically: false, encoding: .utf8)
        let as_ = try Subprocess.run(try Tools.path("as"), ["-o", object.path, source.path])
        XCTAssertEqual(as_.status, 0, as_.stderr)
        let readelf = try peak([try Tools.path("readelf"), "--debug-dump=no-follow-links", "--debug-dump=frames-interp",
                                object.path], in: dir)
        let ours = try peak([try Tools.product("vunwind"), "cfi", "--rows", object.path], in: dir)
        XCTAssertEqual(ours.stdout.count, readelf.stdout.count)
        XCTAssertTrue(ours.stdout == readelf.stdout, "the listings differ")
        XCTAssertEqual(String(decoding: ours.stdout, as: UTF8.self).components(separatedBy: " FDE cie=").count - 1, 100_000)
        XCTAssertLessThanOrEqual(ours.kib, readelf.kib + 20 * 1024, "ours \(ours.kib) KiB, readelf \(readelf.kib) KiB")
    }
}
