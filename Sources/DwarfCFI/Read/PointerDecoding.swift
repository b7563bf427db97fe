// Pointer decoding for DW_EH_PE encodings over a ByteReader positioned in a CFI section.

import Bytes

extension ByteReader {
    /// Reads a pointer in `encoding`. `bases.section` is the address of byte index 0 of the
    /// section this reader reads; `function` is the FDE's start (for funcrel). Unknown text
    /// and data bases resolve against 0, as libgcc's do on x86-64.
    mutating func pointer(_ encoding: PointerEncoding, bases: PointerBases, addressSize: Int,
                          function: UInt64 = 0) throws -> EncodedPointer {
        guard encoding.isValid, !encoding.isOmitted else {
            throw CFIError(offset: offset, reason: .badPointerEncoding(encoding.rawValue))
        }
        let fieldIndex = position
        var fieldAddress = bases.section &+ UInt64(fieldIndex)
        if encoding.application == PointerEncoding.aligned.rawValue {
            let size = UInt64(addressSize)
            let aligned = (fieldAddress &+ size &- 1) / size * size
            try skip(Int(aligned &- fieldAddress))
            fieldAddress = aligned
        }
        let raw: UInt64
        switch encoding.format {
        case 0x0:
            switch addressSize {
            case 8: raw = try u64()
            case 4: raw = UInt64(try u32())
            case 2: raw = UInt64(try u16())
            default: throw CFIError(offset: offset, reason: .badAddressSize(UInt8(truncatingIfNeeded: addressSize)))
            }
        case 0x1: raw = try uleb128()
        case 0x2: raw = UInt64(try u16())
        case 0x3: raw = UInt64(try u32())
        case 0x4: raw = try u64()
        case 0x9: raw = UInt64(bitPattern: try sleb128())
        case 0xa: raw = UInt64(bitPattern: Int64(try i16()))
        case 0xb: raw = UInt64(bitPattern: Int64(try i32()))
        case 0xc: raw = UInt64(bitPattern: try i64())
        default: throw CFIError(offset: origin &+ UInt64(fieldIndex), reason: .badPointerEncoding(encoding.rawValue))
        }
        let base: UInt64
        switch encoding.application {
        case 0x00, 0x50: base = 0
        case 0x10: base = fieldAddress
        case 0x20: base = bases.text ?? 0
        case 0x30: base = bases.data ?? 0
        case 0x40: base = function
        default: throw CFIError(offset: origin &+ UInt64(fieldIndex), reason: .badPointerEncoding(encoding.rawValue))
        }
        return EncodedPointer(value: raw &+ base, isIndirect: encoding.isIndirect)
    }
}
