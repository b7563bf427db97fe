// ByteSourceTests: the readers the ELF and core readers fetch through: ranges checked
// against the size before anything is allocated, files read with pread, FIFOs and devices
// refused without blocking, and the block cache returning exactly the file's bytes.

import Bytes
import Foundation
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class ByteSourceTests: XCTestCase {
    func testARangePastTheEndIsTruncatedAtItsStartAndAllocatesNothing() {
        let s = ArrayByteSource([1, 2, 3, 4])
        XCTAssertEqual(try s.bytes(at: 1, count: 3), [2, 3, 4])
        assertThrowsExactly(ByteReadError(offset: 2, reason: .truncated(needed: 1 << 40, available: 2)),
                            "at 0x2: truncated: need 1099511627776 bytes, 2 left") { _ = try s.bytes(at: 2, count: 1 << 40) }
        assertThrowsExactly(ByteReadError(offset: UInt64.max, reason: .truncated(needed: 1, available: 0)),
                            "at 0xffffffffffffffff: truncated: need 1 bytes, 0 left") { _ = try s.bytes(at: .max, count: 1) }
    }

    func testAFileIsReadByOffsetAndAFIFOOrADeviceIsRefusedWithoutBlocking() throws {
        let dir = try Tools.temporaryDirectory("vunwind-bytesource")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("f").path
        try Data((0..<200).map { UInt8($0) }).write(to: URL(fileURLWithPath: path))
        let f = try FileByteSource(path: path)
        XCTAssertEqual(f.size, 200)
        XCTAssertEqual(try f.bytes(at: 190, count: 10), Array(190..<200).map { UInt8($0) })
        let fifo = dir.appendingPathComponent("fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        assertThrowsExactly(FileError(path: fifo, message: "not a regular file"), "not a regular file") {
            _ = try FileByteSource(path: fifo)
        }
        assertThrowsExactly(FileError(path: "/dev/zero", message: "not a regular file"), "not a regular file") {
            _ = try FileByteSource(path: "/dev/zero")
        }
        assertThrowsExactly(FileError(path: dir.path + "/none", message: "cannot open: No such file or directory"),
                            "cannot open: No such file or directory") { _ = try FileByteSource(path: dir.path + "/none") }
    }

    func testTheBlockCacheReturnsTheFilesBytesAcrossBlockEdgesAndEvictions() throws {
        var rng = SeededGenerator(seed: 7)
        let bytes = (0..<300_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let cached = BlockCachedByteSource(ArrayByteSource(bytes), capacity: 3)
        for _ in 0..<2000 {
            let at = Int(rng.next() % UInt64(bytes.count))
            let n = Int(rng.next() % 9000)
            let end = min(bytes.count, at + n)
            XCTAssertEqual(try cached.bytes(at: UInt64(at), count: UInt64(end - at)), Array(bytes[at..<end]))
        }
        XCTAssertThrowsError(try cached.bytes(at: 299_999, count: 2))
    }
}
