// ByteReader: a bounds-checked little-endian cursor over an immutable byte array.
//
// Every read checks the range first and throws ByteReadError with the absolute offset
// (`origin` + position), so a parser built on it cannot read out of bounds and always knows
// where it failed. Sub-readers share the storage (no copies) and keep absolute offsets.

public struct ByteReader: Sendable {
    /// The whole buffer; `position` and `end` index into it.
    public let bytes: [UInt8]
    /// Index of the next byte to read.
    public private(set) var position: Int
    /// First index this reader may not read.
    public let end: Int
    /// First index this reader may read (a ranged reader may not seek below it).
    private let start: Int
    /// Offset (in the file, section or address space) of `bytes[0]`, reported in errors.
    public let origin: UInt64

    public init(_ bytes: [UInt8], origin: UInt64 = 0) {
        self.bytes = bytes
        self.position = 0
        self.start = 0
        self.end = bytes.count
        self.origin = origin
    }

    /// A reader over `bytes[range]`, positioned at its start. Traps if `range` is outside
    /// `bytes`: callers construct it from already validated bounds.
    public init(_ bytes: [UInt8], range: Range<Int>, origin: UInt64 = 0) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count)
        self.bytes = bytes
        self.position = range.lowerBound
        self.start = range.lowerBound
        self.end = range.upperBound
        self.origin = origin
    }

    public var remaining: Int { end - position }
    public var isAtEnd: Bool { position >= end }
    /// Absolute offset of the next byte, as errors report it.
    public var offset: UInt64 { origin &+ UInt64(position) }

    public func error(_ reason: ByteReadError.Reason, at index: Int? = nil) -> ByteReadError {
        ByteReadError(offset: origin &+ UInt64(index ?? position), reason: reason)
    }

    @inline(__always)
    private func require(_ count: Int) throws(ByteReadError) {
        if count > end - position {
            throw error(.truncated(needed: count, available: max(0, end - position)))
        }
    }

    /// A reader over the next `count` bytes; this reader moves past them.
    public mutating func subReader(count: Int) throws(ByteReadError) -> ByteReader {
        guard count >= 0 else { throw error(.outOfRange(target: position + count)) }
        try require(count)
        let sub = ByteReader(bytes, range: position..<(position + count), origin: origin)
        position += count
        return sub
    }

    /// A reader over `[start, start+count)` of the same storage, independent of this one.
    public func reader(at start: Int, count: Int) throws(ByteReadError) -> ByteReader {
        guard start >= 0, count >= 0, start <= bytes.count, count <= bytes.count - start else {
            throw error(.outOfRange(target: start))
        }
        return ByteReader(bytes, range: start..<(start + count), origin: origin)
    }

    public mutating func seek(to index: Int) throws(ByteReadError) {
        guard index >= start, index <= end else { throw error(.outOfRange(target: index)) }
        position = index
    }

    public mutating func skip(_ count: Int) throws(ByteReadError) {
        guard count >= 0 else { throw error(.outOfRange(target: position + count)) }
        try require(count)
        position += count
    }

    @inline(__always)
    public mutating func u8() throws(ByteReadError) -> UInt8 {
        try require(1)
        defer { position += 1 }
        return bytes[position]
    }

    @inline(__always)
    public mutating func i8() throws(ByteReadError) -> Int8 { Int8(bitPattern: try u8()) }

    @inline(__always)
    private mutating func little<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws(ByteReadError) -> T {
        let size = MemoryLayout<T>.size
        try require(size)
        // One unaligned load (the range is checked above) instead of a byte loop: every
        // format reader spends most of its time here.
        let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: T.self) }
        position += size
        return T(littleEndian: value)
    }

    public mutating func u16() throws(ByteReadError) -> UInt16 { try little(UInt16.self) }
    public mutating func u32() throws(ByteReadError) -> UInt32 { try little(UInt32.self) }
    public mutating func u64() throws(ByteReadError) -> UInt64 { try little(UInt64.self) }
    public mutating func i16() throws(ByteReadError) -> Int16 { Int16(bitPattern: try u16()) }
    public mutating func i32() throws(ByteReadError) -> Int32 { Int32(bitPattern: try u32()) }
    public mutating func i64() throws(ByteReadError) -> Int64 { Int64(bitPattern: try u64()) }

    /// Unsigned LEB128. Redundant continuation bytes (0x80 0x80 0x00) are legal; bits beyond
    /// 64 that are not zero are an error, never a trap.
    public mutating func uleb128() throws(ByteReadError) -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw error(.lebUnterminated, at: start) }
            let byte = bytes[position]
            position += 1
            let payload = UInt64(byte & 0x7f)
            if shift < 64 {
                if shift == 63 && payload > 1 { throw error(.lebOverflow, at: start) }
                result |= payload << shift
            } else if payload != 0 {
                throw error(.lebOverflow, at: start)
            }
            shift += 7
            if byte & 0x80 == 0 { return result }
        }
    }

    /// Signed LEB128, sign-extended from the last byte's bit 6. Values outside Int64 are an
    /// error; shifting at 63 and beyond never traps.
    public mutating func sleb128() throws(ByteReadError) -> Int64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var byte: UInt8 = 0
        repeat {
            guard position < end else { throw error(.lebUnterminated, at: start) }
            byte = bytes[position]
            position += 1
            let payload = UInt64(byte & 0x7f)
            if shift < 64 {
                result |= payload << shift
                if shift == 63 {
                    // Only bit 0 of this byte lands in the value; the rest must repeat the
                    // sign (0x00 or 0x7f) for the value to fit.
                    let sign = payload & 1
                    if (sign == 0 && payload != 0) || (sign == 1 && payload != 0x7f) {
                        throw error(.lebOverflow, at: start)
                    }
                }
            } else {
                let signBit = (result >> 63) & 1
                if payload != (signBit == 1 ? 0x7f : 0) { throw error(.lebOverflow, at: start) }
            }
            shift += 7
        } while byte & 0x80 != 0
        if shift < 64 && byte & 0x40 != 0 {
            result |= ~0 << shift
        }
        return Int64(bitPattern: result)
    }

    /// Bytes up to (not including) a NUL, which is consumed.
    public mutating func cString() throws(ByteReadError) -> [UInt8] {
        let start = position
        var i = position
        while i < end {
            if bytes[i] == 0 {
                position = i + 1
                return Array(bytes[start..<i])
            }
            i += 1
        }
        throw error(.truncated(needed: end - start + 1, available: end - start), at: start)
    }

    public mutating func bytes(_ count: Int) throws(ByteReadError) -> ArraySlice<UInt8> {
        guard count >= 0 else { throw error(.outOfRange(target: position + count)) }
        try require(count)
        defer { position += count }
        return bytes[position..<(position + count)]
    }
}
