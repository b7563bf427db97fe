// DwarfExpression: the bytes of a DWARF expression, and a builder for the DW_OP subset CFI
// needs. Builder methods return a new expression, so expressions read left to right:
// `DwarfExpression().breg(DwarfRegister.rsp, 8).deref()`. Each constant and register
// operand gets its shortest form (lit/constNu/constNs/constu/consts; bregN/bregx).

import Bytes

public struct DwarfExpression: Hashable, Sendable, CustomStringConvertible {
    public private(set) var bytes: [UInt8]

    public init(bytes: [UInt8] = []) { self.bytes = bytes }
    public init<S: Sequence>(_ bytes: S) where S.Element == UInt8 { self.bytes = Array(bytes) }

    public var description: String { bytes.map { String($0, radix: 16) }.joined(separator: " ") }

    private func appending(_ more: [UInt8]) -> Self {
        var c = self
        c.bytes.append(contentsOf: more)
        return c
    }

    private static func little<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        withUnsafeBytes(of: v.littleEndian) { Array($0) }
    }

    /// Pushes an unsigned constant in its shortest encoding (a fixed-size form wins ties).
    public func constant(_ value: UInt64) -> Self {
        if value <= 31 { return appending([DwarfOperation.lit0 + UInt8(value)]) }
        let leb = [DwarfOperation.constu] + LEB128.unsigned(value)
        let fixed: [UInt8]
        if value <= UInt64(UInt8.max) {
            fixed = [DwarfOperation.const1u, UInt8(value)]
        } else if value <= UInt64(UInt16.max) {
            fixed = [DwarfOperation.const2u] + Self.little(UInt16(value))
        } else if value <= UInt64(UInt32.max) {
            fixed = [DwarfOperation.const4u] + Self.little(UInt32(value))
        } else {
            fixed = [DwarfOperation.const8u] + Self.little(value)
        }
        return appending(fixed.count <= leb.count ? fixed : leb)
    }

    /// Pushes a signed constant in its shortest encoding (a fixed-size form wins ties).
    public func signedConstant(_ value: Int64) -> Self {
        if value >= 0 { return constant(UInt64(value)) }
        let leb = [DwarfOperation.consts] + LEB128.signed(value)
        let fixed: [UInt8]
        if let v = Int8(exactly: value) {
            fixed = [DwarfOperation.const1s, UInt8(bitPattern: v)]
        } else if let v = Int16(exactly: value) {
            fixed = [DwarfOperation.const2s] + Self.little(v)
        } else if let v = Int32(exactly: value) {
            fixed = [DwarfOperation.const4s] + Self.little(v)
        } else {
            fixed = [DwarfOperation.const8s] + Self.little(value)
        }
        return appending(fixed.count <= leb.count ? fixed : leb)
    }

    /// Pushes `register + offset`.
    public func breg(_ register: UInt16, _ offset: Int64) -> Self {
        if register < 32 {
            return appending([DwarfOperation.breg0 + UInt8(register)] + LEB128.signed(offset))
        }
        return appending([DwarfOperation.bregx] + LEB128.unsigned(UInt64(register)) + LEB128.signed(offset))
    }

    public func deref() -> Self { appending([DwarfOperation.deref]) }
    public func derefSize(_ n: UInt8) -> Self { appending([DwarfOperation.derefSize, n]) }
    public func plusUconst(_ v: UInt64) -> Self { appending([DwarfOperation.plusUconst] + LEB128.unsigned(v)) }
    public func plus() -> Self { appending([DwarfOperation.plus]) }
    public func minus() -> Self { appending([DwarfOperation.minus]) }
    public func mul() -> Self { appending([DwarfOperation.mul]) }
    public func and() -> Self { appending([DwarfOperation.and]) }
    public func or() -> Self { appending([DwarfOperation.or]) }
    public func xor() -> Self { appending([DwarfOperation.xor]) }
    public func shl() -> Self { appending([DwarfOperation.shl]) }
    public func shr() -> Self { appending([DwarfOperation.shr]) }
    public func shra() -> Self { appending([DwarfOperation.shra]) }
    public func neg() -> Self { appending([DwarfOperation.neg]) }
    public func not() -> Self { appending([DwarfOperation.not]) }
    public func dup() -> Self { appending([DwarfOperation.dup]) }
    public func drop() -> Self { appending([DwarfOperation.drop]) }
    public func swap() -> Self { appending([DwarfOperation.swap]) }
    public func over() -> Self { appending([DwarfOperation.over]) }
    public func rot() -> Self { appending([DwarfOperation.rot]) }
    public func pick(_ i: UInt8) -> Self { appending([DwarfOperation.pick, i]) }
    /// One of DW_OP_eq, ge, gt, le, lt, ne.
    public func compare(_ code: UInt8) -> Self {
        precondition((DwarfOperation.eq...DwarfOperation.ne).contains(code))
        return appending([code])
    }
    /// DW_OP_skip / DW_OP_bra, with a byte distance counted from the end of the operation.
    public func skip(_ distance: Int16) -> Self { appending([DwarfOperation.skip] + Self.little(distance)) }
    public func branch(_ distance: Int16) -> Self { appending([DwarfOperation.bra] + Self.little(distance)) }
    public func nop() -> Self { appending([DwarfOperation.nop]) }
    /// Raw operation bytes, for opcodes the builder does not name.
    public func raw(_ b: [UInt8]) -> Self { appending(b) }
}
