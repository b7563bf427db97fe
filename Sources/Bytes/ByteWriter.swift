// ByteWriter: a growable little-endian output buffer with LEB128 and back-patching, the
// write side of ByteReader.

public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public var count: Int { bytes.count }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { append(v) }
    public mutating func u32(_ v: UInt32) { append(v) }
    public mutating func u64(_ v: UInt64) { append(v) }
    public mutating func i8(_ v: Int8) { bytes.append(UInt8(bitPattern: v)) }
    public mutating func i16(_ v: Int16) { append(UInt16(bitPattern: v)) }
    public mutating func i32(_ v: Int32) { append(UInt32(bitPattern: v)) }
    public mutating func i64(_ v: Int64) { append(UInt64(bitPattern: v)) }
    public mutating func append<S: Sequence>(contentsOf s: S) where S.Element == UInt8 {
        bytes.append(contentsOf: s)
    }

    private mutating func append<T: FixedWidthInteger>(_ v: T) {
        var x = v.littleEndian
        withUnsafeBytes(of: &x) { bytes.append(contentsOf: $0) }
    }

    public mutating func uleb128(_ value: UInt64) { bytes.append(contentsOf: LEB128.unsigned(value)) }
    public mutating func sleb128(_ value: Int64) { bytes.append(contentsOf: LEB128.signed(value)) }

    public mutating func cString(_ s: String) {
        bytes.append(contentsOf: s.utf8)
        bytes.append(0)
    }

    public mutating func zeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }

    /// Pads with `fill` until the length is a multiple of `alignment`.
    public mutating func align(to alignment: Int, fill: UInt8 = 0) {
        while bytes.count % alignment != 0 { bytes.append(fill) }
    }

    public mutating func patch32(at index: Int, _ v: UInt32) {
        for i in 0..<4 { bytes[index + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
    }

    public mutating func patch64(at index: Int, _ v: UInt64) {
        for i in 0..<8 { bytes[index + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }

    public mutating func patch16(at index: Int, _ v: UInt16) {
        bytes[index] = UInt8(truncatingIfNeeded: v)
        bytes[index + 1] = UInt8(truncatingIfNeeded: v >> 8)
    }
}

/// LEB128 encodings, shortest form.
public enum LEB128 {
    public static func unsigned(_ value: UInt64) -> [UInt8] {
        var v = value
        var out: [UInt8] = []
        repeat {
            var byte = UInt8(v & 0x7f)
            v >>= 7
            if v != 0 { byte |= 0x80 }
            out.append(byte)
        } while v != 0
        return out
    }

    public static func signed(_ value: Int64) -> [UInt8] {
        var v = value
        var out: [UInt8] = []
        while true {
            let byte = UInt8(truncatingIfNeeded: v) & 0x7f
            v >>= 7
            let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0)
            out.append(done ? byte : byte | 0x80)
            if done { return out }
        }
    }

    public static func unsignedSize(_ value: UInt64) -> Int { unsigned(value).count }
    public static func signedSize(_ value: Int64) -> Int { signed(value).count }
}
