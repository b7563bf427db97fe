// The Bytes grid: ByteReader (fixed-width reads, LEB128, C strings, sub-readers, seek and
// skip), the LEB128 encoder and ByteWriter, SnapshotMemoryReader and printableText. One
// fact per test; failures are asserted as the exact ByteReadError and its exact text.

import Bytes
import TestSupport
import XCTest

/// Decodes one ULEB128 from `bytes` and checks that it used all of them.
private func uleb(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> UInt64 {
    var r = ByteReader(bytes)
    let v = try r.uleb128()
    XCTAssertTrue(r.isAtEnd, "ULEB128 left \(r.remaining) bytes", file: file, line: line)
    return v
}

private func sleb(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> Int64 {
    var r = ByteReader(bytes)
    let v = try r.sleb128()
    XCTAssertTrue(r.isAtEnd, "SLEB128 left \(r.remaining) bytes", file: file, line: line)
    return v
}

final class ByteReaderTests: XCTestCase {
    // MARK: ULEB128 decoding (DWARF 5 figure 7.22)

    func testULEB128Of02Is2() throws { XCTAssertEqual(try uleb([0x02]), 2) }
    func testULEB128Of7fIs127() throws { XCTAssertEqual(try uleb([0x7f]), 127) }
    func testULEB128Of80_01Is128() throws { XCTAssertEqual(try uleb([0x80, 0x01]), 128) }
    func testULEB128Of81_01Is129() throws { XCTAssertEqual(try uleb([0x81, 0x01]), 129) }
    func testULEB128Of82_01Is130() throws { XCTAssertEqual(try uleb([0x82, 0x01]), 130) }
    func testULEB128OfB9_64Is12857() throws { XCTAssertEqual(try uleb([0xb9, 0x64]), 12857) }

    func testULEB128OfNineFFsAnd01IsUInt64Max() throws {
        XCTAssertEqual(try uleb([UInt8](repeating: 0xff, count: 9) + [0x01]), UInt64.max)
    }

    func testULEB128OfNine80sAnd01Is2To63() throws {
        XCTAssertEqual(try uleb([UInt8](repeating: 0x80, count: 9) + [0x01]), 1 << 63)
    }

    func testULEB128RedundantContinuation80_80_00IsZeroAndConsumesThreeBytes() throws {
        var r = ByteReader([0x80, 0x80, 0x00, 0xaa])
        XCTAssertEqual(try r.uleb128(), 0)
        XCTAssertEqual(r.position, 3)
    }

    func testULEB128ElevenByteRedundantEncodingOfUInt64MaxIsAccepted() throws {
        // Bits 64..69 of the tenth byte's payload and the whole eleventh byte are zero.
        XCTAssertEqual(try uleb([UInt8](repeating: 0xff, count: 9) + [0x81, 0x00]), UInt64.max)
    }

    func testULEB128TenthBytePayload02OverflowsAtOffsetOfFirstByte() {
        var r = ByteReader([0xee] + [UInt8](repeating: 0xff, count: 9) + [0x02], origin: 0x1000)
        assertThrowsExactly(ByteReadError(offset: 0x1001, reason: .lebOverflow),
                     "at 0x1001: LEB128 value does not fit in 64 bits") {
            _ = try r.u8()
            _ = try r.uleb128()
        }
    }

    func testULEB128NonzeroEleventhByteOverflows() {
        var r = ByteReader([UInt8](repeating: 0x80, count: 10) + [0x01])
        assertThrowsExactly(ByteReadError(offset: 0, reason: .lebOverflow), "at 0x0: LEB128 value does not fit in 64 bits") {
            _ = try r.uleb128()
        }
    }

    func testULEB128WithoutFinalByteIsUnterminatedAtItsFirstByte() {
        var r = ByteReader([0x00, 0x80, 0x80], origin: 0x20)
        assertThrowsExactly(ByteReadError(offset: 0x21, reason: .lebUnterminated),
                     "at 0x21: LEB128 value runs past the end of its range") {
            _ = try r.u8()
            _ = try r.uleb128()
        }
    }

    func testULEB128AtEndOfEmptyReaderIsUnterminated() {
        var r = ByteReader([], origin: 7)
        assertThrowsExactly(ByteReadError(offset: 7, reason: .lebUnterminated),
                     "at 0x7: LEB128 value runs past the end of its range") { _ = try r.uleb128() }
    }

    func testULEB128CutByASubReaderEndIsUnterminatedEvenIfStorageContinues() throws {
        // The final byte 0x01 exists in the storage but not in the reader's range.
        var outer = ByteReader([0x80, 0x01])
        var sub = try outer.subReader(count: 1)
        assertThrowsExactly(ByteReadError(offset: 0, reason: .lebUnterminated),
                     "at 0x0: LEB128 value runs past the end of its range") { _ = try sub.uleb128() }
    }

    // MARK: SLEB128 decoding (DWARF 5 figure 7.23)

    func testSLEB128Of02Is2() throws { XCTAssertEqual(try sleb([0x02]), 2) }
    func testSLEB128Of7eIsMinus2() throws { XCTAssertEqual(try sleb([0x7e]), -2) }
    func testSLEB128OfFF_00Is127() throws { XCTAssertEqual(try sleb([0xff, 0x00]), 127) }
    func testSLEB128Of81_7fIsMinus127() throws { XCTAssertEqual(try sleb([0x81, 0x7f]), -127) }
    func testSLEB128Of80_01Is128() throws { XCTAssertEqual(try sleb([0x80, 0x01]), 128) }
    func testSLEB128Of80_7fIsMinus128() throws { XCTAssertEqual(try sleb([0x80, 0x7f]), -128) }
    func testSLEB128Of81_01Is129() throws { XCTAssertEqual(try sleb([0x81, 0x01]), 129) }
    func testSLEB128OfFF_7eIsMinus129() throws { XCTAssertEqual(try sleb([0xff, 0x7e]), -129) }
    func testSLEB128Of40IsMinus64SignExtendedFromBit6() throws { XCTAssertEqual(try sleb([0x40]), -64) }
    func testSLEB128Of3fIs63() throws { XCTAssertEqual(try sleb([0x3f]), 63) }

    func testSLEB128OfNine80sAnd7fIsInt64Min() throws {
        XCTAssertEqual(try sleb([UInt8](repeating: 0x80, count: 9) + [0x7f]), Int64.min)
    }

    func testSLEB128OfNineFFsAnd00IsInt64Max() throws {
        XCTAssertEqual(try sleb([UInt8](repeating: 0xff, count: 9) + [0x00]), Int64.max)
    }

    func testSLEB128NineByteNegativeValueSignExtendsIntoBit63() throws {
        // Eight 0x80s then 0x40: bits 56..62 are 1000000 with bit 62 the sign: -2^62.
        XCTAssertEqual(try sleb([UInt8](repeating: 0x80, count: 8) + [0x40]), -(1 << 62))
    }

    func testSLEB128RedundantContinuation80_80_00IsZero() throws {
        XCTAssertEqual(try sleb([0x80, 0x80, 0x00]), 0)
    }

    func testSLEB128RedundantSignBytesFF_7fIsMinus1() throws {
        XCTAssertEqual(try sleb([0xff, 0x7f]), -1)
    }

    func testSLEB128ElevenByteRedundantMinus1IsAccepted() throws {
        XCTAssertEqual(try sleb([UInt8](repeating: 0xff, count: 10) + [0x7f]), -1)
    }

    func testSLEB128TenthByte01Overflows() {
        // +2^63 does not fit Int64.
        var r = ByteReader([UInt8](repeating: 0x80, count: 9) + [0x01], origin: 0x40)
        assertThrowsExactly(ByteReadError(offset: 0x40, reason: .lebOverflow), "at 0x40: LEB128 value does not fit in 64 bits") {
            _ = try r.sleb128()
        }
    }

    func testSLEB128TenthByte7eOverflows() {
        var r = ByteReader([UInt8](repeating: 0x80, count: 9) + [0x7e])
        assertThrowsExactly(ByteReadError(offset: 0, reason: .lebOverflow), "at 0x0: LEB128 value does not fit in 64 bits") {
            _ = try r.sleb128()
        }
    }

    func testSLEB128EleventhByteThatContradictsTheSignOverflows() {
        // Bits 0..69 are zero, bits 70 and up are ones: -2^70.
        var r = ByteReader([0xaa, 0xbb] + [UInt8](repeating: 0x80, count: 10) + [0x7f], origin: 0x100)
        assertThrowsExactly(ByteReadError(offset: 0x102, reason: .lebOverflow),
                     "at 0x102: LEB128 value does not fit in 64 bits") {
            _ = try r.u16()
            _ = try r.sleb128()
        }
    }

    func testSLEB128WithoutFinalByteIsUnterminatedAtItsFirstByte() {
        var r = ByteReader([0x01, 0xff, 0xff], origin: 0x30)
        assertThrowsExactly(ByteReadError(offset: 0x31, reason: .lebUnterminated),
                     "at 0x31: LEB128 value runs past the end of its range") {
            _ = try r.u8()
            _ = try r.sleb128()
        }
    }

    // MARK: LEB128 encoding

    func testLEB128UnsignedEncodesSpecValues() {
        XCTAssertEqual(LEB128.unsigned(0), [0x00])
        XCTAssertEqual(LEB128.unsigned(2), [0x02])
        XCTAssertEqual(LEB128.unsigned(127), [0x7f])
        XCTAssertEqual(LEB128.unsigned(128), [0x80, 0x01])
        XCTAssertEqual(LEB128.unsigned(129), [0x81, 0x01])
        XCTAssertEqual(LEB128.unsigned(12857), [0xb9, 0x64])
    }

    func testLEB128UnsignedUInt64MaxIsTenBytesEndingIn01() {
        XCTAssertEqual(LEB128.unsigned(UInt64.max), [UInt8](repeating: 0xff, count: 9) + [0x01])
        XCTAssertEqual(LEB128.unsignedSize(UInt64.max), 10)
    }

    func testLEB128SignedEncodesSpecValues() {
        XCTAssertEqual(LEB128.signed(0), [0x00])
        XCTAssertEqual(LEB128.signed(2), [0x02])
        XCTAssertEqual(LEB128.signed(-2), [0x7e])
        XCTAssertEqual(LEB128.signed(127), [0xff, 0x00])
        XCTAssertEqual(LEB128.signed(-127), [0x81, 0x7f])
        XCTAssertEqual(LEB128.signed(128), [0x80, 0x01])
        XCTAssertEqual(LEB128.signed(-128), [0x80, 0x7f])
        XCTAssertEqual(LEB128.signed(129), [0x81, 0x01])
        XCTAssertEqual(LEB128.signed(-129), [0xff, 0x7e])
    }

    func testLEB128Signed63IsOneByteAnd64IsTwoBecauseBit6IsTheSign() {
        XCTAssertEqual(LEB128.signed(63), [0x3f])
        XCTAssertEqual(LEB128.signed(64), [0xc0, 0x00])
        XCTAssertEqual(LEB128.signed(-64), [0x40])
        XCTAssertEqual(LEB128.signed(-65), [0xbf, 0x7f])
        XCTAssertEqual(LEB128.signedSize(64), 2)
        XCTAssertEqual(LEB128.signedSize(-64), 1)
    }

    func testLEB128SignedInt64MinAndMaxAreTenBytes() {
        XCTAssertEqual(LEB128.signed(Int64.min), [UInt8](repeating: 0x80, count: 9) + [0x7f])
        XCTAssertEqual(LEB128.signed(Int64.max), [UInt8](repeating: 0xff, count: 9) + [0x00])
    }

    // MARK: Fixed-width reads

    func testFixedWidthReadsAreLittleEndian() throws {
        var r = ByteReader([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f])
        XCTAssertEqual(try r.u8(), 0x01)
        XCTAssertEqual(try r.u16(), 0x0302)
        XCTAssertEqual(try r.u32(), 0x0706_0504)
        XCTAssertEqual(try r.u64(), 0x0f0e_0d0c_0b0a_0908)
        XCTAssertTrue(r.isAtEnd)
    }

    func testSignedReadsSignExtendTheirBitPattern() throws {
        var r = ByteReader([0xff, 0xfe, 0xff, 0xfd, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80])
        XCTAssertEqual(try r.i8(), -1)
        XCTAssertEqual(try r.i16(), -2)
        XCTAssertEqual(try r.i32(), -3)
        XCTAssertEqual(try r.i64(), Int64.min)
    }

    func testU32WithThreeBytesLeftIsTruncatedWithNeededAndAvailableAtAbsoluteOffset() {
        var r = ByteReader([0xaa, 0x01, 0x02, 0x03], origin: 0x400)
        assertThrowsExactly(ByteReadError(offset: 0x401, reason: .truncated(needed: 4, available: 3)),
                     "at 0x401: truncated: need 4 bytes, 3 left") {
            _ = try r.u8()
            _ = try r.u32()
        }
    }

    func testU16WithOneByteLeftIsTruncated() {
        var r = ByteReader([0x01], origin: 0x10)
        assertThrowsExactly(ByteReadError(offset: 0x10, reason: .truncated(needed: 2, available: 1)),
                     "at 0x10: truncated: need 2 bytes, 1 left") { _ = try r.u16() }
    }

    func testU64AtTheEndIsTruncatedWithZeroAvailable() {
        var r = ByteReader([0x01, 0x02], origin: 0xfff0)
        assertThrowsExactly(ByteReadError(offset: 0xfff2, reason: .truncated(needed: 8, available: 0)),
                     "at 0xfff2: truncated: need 8 bytes, 0 left") {
            _ = try r.u16()
            _ = try r.u64()
        }
    }

    func testU8OnEmptyReaderIsTruncated() {
        var r = ByteReader([])
        assertThrowsExactly(ByteReadError(offset: 0, reason: .truncated(needed: 1, available: 0)),
                     "at 0x0: truncated: need 1 bytes, 0 left") { _ = try r.u8() }
    }

    func testFailedReadDoesNotMoveTheCursor() throws {
        var r = ByteReader([0x01, 0x02, 0x03])
        XCTAssertThrowsError(try r.u32())
        XCTAssertEqual(r.position, 0)
        XCTAssertEqual(try r.u16(), 0x0201)
    }

    func testBytesReturnsTheSliceAtItsStorageIndices() throws {
        var r = ByteReader([9, 8, 7, 6, 5])
        try r.skip(1)
        let s = try r.bytes(3)
        XCTAssertEqual(Array(s), [8, 7, 6])
        XCTAssertEqual(s.indices, 1..<4)
        XCTAssertEqual(r.position, 4)
    }

    func testBytesWithNegativeCountIsOutOfRange() {
        var r = ByteReader([1, 2, 3])
        assertThrowsExactly(ByteReadError(offset: 0, reason: .outOfRange(target: -1)),
                     "at 0x0: offset 0x-1 is outside the range") { _ = try r.bytes(-1) }
    }

    // MARK: C strings

    func testCStringReturnsBytesBeforeNulAndConsumesTheNul() throws {
        var r = ByteReader([0x68, 0x69, 0x00, 0x78])
        XCTAssertEqual(try r.cString(), [0x68, 0x69])
        XCTAssertEqual(r.position, 3)
    }

    func testCStringOfLoneNulIsEmpty() throws {
        var r = ByteReader([0x00])
        XCTAssertEqual(try r.cString(), [])
        XCTAssertTrue(r.isAtEnd)
    }

    func testCStringWithoutNulIsTruncatedAtItsStart() {
        var r = ByteReader([0x00, 0x61, 0x62], origin: 0x10)
        assertThrowsExactly(ByteReadError(offset: 0x11, reason: .truncated(needed: 3, available: 2)),
                     "at 0x11: truncated: need 3 bytes, 2 left") {
            _ = try r.cString()
            _ = try r.cString()
        }
    }

    func testCStringDoesNotFindANulBeyondItsRange() throws {
        var outer = ByteReader([0x61, 0x00])
        var sub = try outer.subReader(count: 1)
        assertThrowsExactly(ByteReadError(offset: 0, reason: .truncated(needed: 2, available: 1)),
                     "at 0x0: truncated: need 2 bytes, 1 left") { _ = try sub.cString() }
    }

    // MARK: Sub-readers

    func testSubReaderKeepsAbsoluteOffsetsAndAdvancesTheParent() throws {
        var r = ByteReader([0, 1, 2, 3, 4, 5, 6, 7], origin: 0x100)
        try r.skip(2)
        var sub = try r.subReader(count: 3)
        XCTAssertEqual(r.position, 5)
        XCTAssertEqual(sub.offset, 0x102)
        XCTAssertEqual(sub.remaining, 3)
        XCTAssertEqual(try sub.u8(), 2)
        XCTAssertEqual(sub.offset, 0x103)
    }

    func testSubReaderReadPastItsEndIsTruncatedAtAbsoluteOffset() throws {
        var r = ByteReader([0, 1, 2, 3, 4, 5, 6, 7], origin: 0x100)
        try r.skip(2)
        var sub = try r.subReader(count: 3)
        assertThrowsExactly(ByteReadError(offset: 0x102, reason: .truncated(needed: 4, available: 3)),
                     "at 0x102: truncated: need 4 bytes, 3 left") { _ = try sub.u32() }
    }

    func testSubReaderLongerThanRemainingIsTruncated() {
        var r = ByteReader([0, 1, 2], origin: 0x50)
        assertThrowsExactly(ByteReadError(offset: 0x51, reason: .truncated(needed: 5, available: 2)),
                     "at 0x51: truncated: need 5 bytes, 2 left") {
            _ = try r.u8()
            _ = try r.subReader(count: 5)
        }
    }

    func testSubReaderWithNegativeCountIsOutOfRange() {
        var r = ByteReader([0, 1, 2])
        assertThrowsExactly(ByteReadError(offset: 0, reason: .outOfRange(target: -2)),
                     "at 0x0: offset 0x-2 is outside the range") { _ = try r.subReader(count: -2) }
    }

    func testReaderAtStartCountIsIndependentAndUsesStorageIndices() throws {
        var r = ByteReader([0, 1, 2, 3, 4, 5], origin: 0x1000)
        _ = try r.u8()
        var other = try r.reader(at: 4, count: 2)
        XCTAssertEqual(other.offset, 0x1004)
        XCTAssertEqual(try other.u16(), 0x0504)
        XCTAssertEqual(r.position, 1)
    }

    func testReaderAtBeyondStorageIsOutOfRange() {
        let r = ByteReader([0, 1, 2, 3], origin: 0x1000)
        assertThrowsExactly(ByteReadError(offset: 0x1000, reason: .outOfRange(target: 3)),
                     "at 0x1000: offset 0x3 is outside the range") { _ = try r.reader(at: 3, count: 2) }
    }

    // MARK: Seek and skip

    func testSeekToEndIsAllowedAndLeavesNothing() throws {
        var r = ByteReader([1, 2, 3])
        try r.seek(to: 3)
        XCTAssertTrue(r.isAtEnd)
        XCTAssertEqual(r.remaining, 0)
    }

    func testSeekPastEndIsOutOfRangeAtCurrentOffset() {
        var r = ByteReader([1, 2, 3], origin: 0x10)
        assertThrowsExactly(ByteReadError(offset: 0x11, reason: .outOfRange(target: 4)),
                     "at 0x11: offset 0x4 is outside the range") {
            _ = try r.u8()
            try r.seek(to: 4)
        }
    }

    func testSeekToNegativeIndexIsOutOfRange() {
        var r = ByteReader([1, 2, 3])
        assertThrowsExactly(ByteReadError(offset: 0, reason: .outOfRange(target: -1)),
                     "at 0x0: offset 0x-1 is outside the range") { try r.seek(to: -1) }
    }

    func testSeekBeforeTheStartOfARangedReaderIsOutOfRange() throws {
        // A reader over bytes[2..<5] may not seek to the storage bytes before its range.
        var r = ByteReader([0, 1, 2, 3, 4, 5], range: 2..<5, origin: 0x100)
        assertThrowsExactly(ByteReadError(offset: 0x102, reason: .outOfRange(target: 1)),
                     "at 0x102: offset 0x1 is outside the range") { try r.seek(to: 1) }
        try r.seek(to: 2)
        XCTAssertEqual(try r.u8(), 2)
    }

    func testSeekPastTheEndOfARangedReaderIsOutOfRangeEvenInsideStorage() {
        var r = ByteReader([0, 1, 2, 3, 4, 5], range: 2..<5)
        assertThrowsExactly(ByteReadError(offset: 2, reason: .outOfRange(target: 6)),
                     "at 0x2: offset 0x6 is outside the range") { try r.seek(to: 6) }
    }

    func testSkipPastEndIsTruncated() {
        var r = ByteReader([1, 2, 3], origin: 0x20)
        assertThrowsExactly(ByteReadError(offset: 0x21, reason: .truncated(needed: 3, available: 2)),
                     "at 0x21: truncated: need 3 bytes, 2 left") {
            _ = try r.u8()
            try r.skip(3)
        }
    }

    func testSkipBackwardsIsOutOfRange() {
        var r = ByteReader([1, 2, 3])
        assertThrowsExactly(ByteReadError(offset: 2, reason: .outOfRange(target: 1)),
                     "at 0x2: offset 0x1 is outside the range") {
            try r.skip(2)
            try r.skip(-1)
        }
    }

    func testErrorOffsetWrapsInsteadOfTrappingNearUInt64Max() {
        var r = ByteReader([0x01], origin: UInt64.max)
        assertThrowsExactly(ByteReadError(offset: 0, reason: .truncated(needed: 2, available: 0)),
                     "at 0x0: truncated: need 2 bytes, 0 left") {
            _ = try r.u8()
            _ = try r.u16()
        }
    }

    // MARK: ByteWriter

    func testByteWriterWritesLittleEndianIntegers() {
        var w = ByteWriter()
        w.u8(0x01); w.u16(0x0302); w.u32(0x0706_0504); w.u64(0x0f0e_0d0c_0b0a_0908)
        XCTAssertEqual(w.bytes, Array(1...15))
    }

    func testByteWriterSignedIntegersAreTwosComplement() {
        var w = ByteWriter()
        w.i8(-1); w.i16(-2); w.i32(-3); w.i64(Int64.min)
        XCTAssertEqual(w.bytes, [0xff, 0xfe, 0xff, 0xfd, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0x80])
    }

    func testByteWriterLEB128AndCStringAndZeros() {
        var w = ByteWriter()
        w.uleb128(624_485); w.sleb128(-123_456); w.cString("zR"); w.zeros(2)
        XCTAssertEqual(w.bytes, [0xe5, 0x8e, 0x26, 0xc0, 0xbb, 0x78, 0x7a, 0x52, 0x00, 0x00, 0x00])
        XCTAssertEqual(w.count, 11)
    }

    func testByteWriterPatch16_32_64OverwriteInPlaceLittleEndian() {
        var w = ByteWriter()
        w.zeros(16)
        w.patch16(at: 1, 0xbeef)
        w.patch32(at: 3, 0x1234_5678)
        w.patch64(at: 8, 0x0102_0304_0506_0708)
        XCTAssertEqual(w.bytes, [0x00, 0xef, 0xbe, 0x78, 0x56, 0x34, 0x12, 0x00,
                                 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01])
    }

    func testByteWriterAlignPadsWithFillToTheNextMultiple() {
        var w = ByteWriter()
        w.u8(0xaa)
        w.align(to: 4, fill: 0x90)
        XCTAssertEqual(w.bytes, [0xaa, 0x90, 0x90, 0x90])
        w.align(to: 4, fill: 0x90)
        XCTAssertEqual(w.count, 4, "already aligned: nothing added")
        w.u8(0xbb)
        w.align(to: 8)
        XCTAssertEqual(w.bytes, [0xaa, 0x90, 0x90, 0x90, 0xbb, 0x00, 0x00, 0x00])
    }

    // MARK: SnapshotMemoryReader

    func testSnapshotReadSpansTwoAdjacentRegions() throws {
        var m = SnapshotMemoryReader()
        m.add(address: 0x1004, bytes: [0x55, 0x66, 0x77, 0x88])
        m.add(address: 0x1000, bytes: [0x11, 0x22, 0x33, 0x44])
        XCTAssertEqual(try m.fetch(UInt64.self, from: 0x1000), 0x8877_6655_4433_2211)
        XCTAssertEqual(try m.fetch(UInt32.self, from: 0x1002), 0x6655_4433)
        XCTAssertEqual(m.regions.map(\.address), [0x1000, 0x1004], "regions are kept sorted")
    }

    func testSnapshotReadAcrossAGapThrowsMemoryReadErrorForTheWholeRead() {
        var m = SnapshotMemoryReader(address: 0x1000, bytes: [1, 2, 3, 4])
        m.add(address: 0x1008, bytes: [5, 6, 7, 8])
        assertThrowsExactly(MemoryReadError(address: 0x1002, count: 8),
                     "at 0x1002: cannot read 8 bytes at 0x1002: not mapped") {
            _ = try m.fetch(UInt64.self, from: 0x1002)
        }
    }

    func testSnapshotReadAtRegionEndFails() {
        let m = SnapshotMemoryReader(address: 0x1000, bytes: [1, 2, 3, 4])
        assertThrowsExactly(MemoryReadError(address: 0x1004, count: 1),
                     "at 0x1004: cannot read 1 bytes at 0x1004: not mapped") {
            _ = try m.fetch(UInt8.self, from: 0x1004)
        }
    }

    func testSnapshotReadBelowFirstRegionFails() {
        let m = SnapshotMemoryReader(address: 0x1000, bytes: [1, 2, 3, 4])
        assertThrowsExactly(MemoryReadError(address: 0xfff, count: 2),
                     "at 0xfff: cannot read 2 bytes at 0xfff: not mapped") { _ = try m.fetch(UInt16.self, from: 0xfff) }
    }

    func testFetchBytesOfZeroCountReadsNothingEvenUnmapped() throws {
        let m = SnapshotMemoryReader()
        XCTAssertEqual(try m.fetchBytes(from: 0xdead, count: 0), [])
    }

    func testFetchCStringStopsAtNulAcrossRegions() throws {
        var m = SnapshotMemoryReader(address: 0x2000, bytes: Array("ab".utf8))
        m.add(address: 0x2002, bytes: Array("c\0d".utf8))
        XCTAssertEqual(try m.fetchCString(from: 0x2000), "abc")
    }

    func testFetchCStringLongerThanLimitFails() {
        let m = SnapshotMemoryReader(address: 0x2000, bytes: Array("abcdef\0".utf8))
        assertThrowsExactly(MemoryReadError(address: 0x2000, count: 4, detail: "string longer than 4 bytes"),
                     "at 0x2000: cannot read 4 bytes at 0x2000: string longer than 4 bytes") {
            _ = try m.fetchCString(from: 0x2000, limit: 4)
        }
    }

    // MARK: printableText

    func testPrintableTextKeepsPrintableASCII() {
        XCTAssertEqual(printableText(Array("zPLR ~!".utf8)), "zPLR ~!")
    }

    func testPrintableTextEscapesControlBackslashDelAndNonASCIIAsLowercaseHex() {
        XCTAssertEqual(printableText([0x61, 0x0a, 0x5c, 0x7f, 0x00, 0xc3, 0xa9, 0x1f]),
                       "a\\x0a\\x5c\\x7f\\x00\\xc3\\xa9\\x1f")
    }

    func testLocatedErrorDescriptionIsHexOffsetColonMessage() {
        XCTAssertEqual(ByteReadError(offset: 0xabc, reason: .lebOverflow).description,
                       "at 0xabc: LEB128 value does not fit in 64 bits")
    }
}
