// FrameTableListing: renders CIEs, FDEs and their rows in the layout of binutils'
// `readelf --debug-dump=frames-interp`, so the two can be compared line by line.
//
// readelf's conventions, kept: columns are the registers any instruction of the entry (or
// its CIE) names, in register-number order, the return-address column titled "ra"; a cell
// is "u" (undefined or unspecified), "s" (same value), "c+N" (saved at CFA+N), "v+N" (value
// CFA+N), "rN (name)" (in register N), "exp" or "vexp", printed "%-5s "; the CFA is
// "reg+N" or "exp", printed "%-8s "; an entry whose instructions are all DW_CFA_nop gets no
// table. Text is built as bytes: a listing of libswiftCore is 100,000 lines.

public struct ListingBuffer: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 1 << 16) { bytes.reserveCapacity(capacity) }

    public mutating func append(_ s: String) { bytes.append(contentsOf: s.utf8) }
    public mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }
    public mutating func append(bytes more: [UInt8]) { bytes.append(contentsOf: more) }
    public mutating func append(byte: UInt8) { bytes.append(byte) }
    public mutating func newline() { bytes.append(0x0a) }
    /// Empties the buffer (after its bytes were written out), keeping its storage.
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// `value` in lowercase hex, zero-padded to `width` digits.
    public mutating func hex(_ value: UInt64, width: Int) {
        var digits = 1
        var v = value >> 4
        while v != 0 { digits += 1; v >>= 4 }
        for _ in digits..<max(width, digits) { bytes.append(0x30) }
        var shift = (digits - 1) * 4
        while shift >= 0 {
            let d = UInt8((value >> UInt64(shift)) & 0xf)
            bytes.append(d < 10 ? 0x30 + d : 0x57 + d)
            shift -= 4
        }
    }

    /// A signed decimal with an explicit sign ("+8", "-16").
    public mutating func signed(_ v: Int64) {
        bytes.append(v < 0 ? 0x2d : 0x2b)
        decimal(v.magnitude)
    }

    public mutating func decimal(_ v: UInt64) {
        if v >= 10 { decimal(v / 10) }
        bytes.append(0x30 + UInt8(v % 10))
    }

    /// Pads what was written since `start` with spaces to `width`, then one space.
    mutating func pad(from start: Int, to width: Int) {
        var written = bytes.count - start
        while written < width {
            bytes.append(0x20)
            written += 1
        }
        bytes.append(0x20)
    }
}

public enum FrameTableListing {
    public static func cfa(_ rule: CFARule, into b: inout ListingBuffer) {
        switch rule {
        case let .registerOffset(reg, off):
            b.append(bytes: DwarfRegister.nameBytes(reg))
            b.signed(off)
        case .expression: b.append("exp" as StaticString)
        }
    }

    public static func cell(_ rule: RegisterRule?, into b: inout ListingBuffer) {
        guard let rule else { b.append(byte: 0x75); return }  // "u"
        switch rule {
        case .undefined: b.append(byte: 0x75)
        case .sameValue: b.append(byte: 0x73)  // "s"
        case let .offset(o): b.append(byte: 0x63); b.signed(o)  // "c"
        case let .valOffset(o): b.append(byte: 0x76); b.signed(o)  // "v"
        case let .register(r):
            b.append(byte: 0x72)  // "r"
            b.decimal(UInt64(r))
            b.append(" (" as StaticString)
            b.append(bytes: DwarfRegister.nameBytes(r))
            b.append(byte: 0x29)  // ")"
        case .expression: b.append("exp" as StaticString)
        case .valExpression: b.append("vexp" as StaticString)
        }
    }

    public static func cfa(_ rule: CFARule) -> String {
        var b = ListingBuffer()
        cfa(rule, into: &b)
        return String(decoding: b.bytes, as: UTF8.self)
    }

    public static func cell(_ rule: RegisterRule?) -> String {
        var b = ListingBuffer()
        cell(rule, into: &b)
        return String(decoding: b.bytes, as: UTF8.self)
    }

    public static func hex(_ v: UInt64, width: Int) -> String {
        var b = ListingBuffer()
        b.hex(v, width: width)
        return String(decoding: b.bytes, as: UTF8.self)
    }

    /// The header line of a table with these columns.
    public static func header(columns ordered: [UInt16], returnAddressRegister: UInt64, into b: inout ListingBuffer) {
        b.append("   LOC           CFA      " as StaticString)
        for r in ordered {
            let start = b.bytes.count
            if UInt64(r) == returnAddressRegister { b.append("ra" as StaticString) } else { b.append(bytes: DwarfRegister.nameBytes(r)) }
            b.pad(from: start, to: 5)
        }
        b.newline()
    }

    /// One row under `header(columns:...)`.
    public static func row(_ row: UnwindRow, columns ordered: [UInt16], into b: inout ListingBuffer) {
        b.hex(row.start, width: 16)
        b.append(byte: 0x20)
        var start = b.bytes.count
        cfa(row.cfa, into: &b)
        b.pad(from: start, to: 8)
        // Rules and columns are both sorted by register: walk them together.
        var rules = row.registers.makeIterator()
        var next = rules.next()
        for r in ordered {
            while let n = next, n.register < r { next = rules.next() }
            start = b.bytes.count
            if let n = next, n.register == r { cell(n.rule, into: &b) } else { b.append(byte: 0x75) }
            b.pad(from: start, to: 5)
        }
        b.newline()
    }

    /// The header and rows of a table (trailing spaces included, as readelf prints them).
    /// Columns are `columns` (readelf: every register an instruction of the entry or its
    /// CIE names) plus any register with a rule.
    public static func table(rows: [UnwindRow], returnAddressRegister: UInt64, columns named: RegisterMask = RegisterMask(),
                             into b: inout ListingBuffer) {
        var columns = named
        for row in rows { for e in row.registers { columns.insert(e.register) } }
        let ordered = columns.registers
        header(columns: ordered, returnAddressRegister: returnAddressRegister, into: &b)
        for r in rows { row(r, columns: ordered, into: &b) }
    }

    public static func table(rows: [UnwindRow], returnAddressRegister: UInt64,
                             columns: RegisterMask = RegisterMask()) -> [String] {
        var b = ListingBuffer()
        table(rows: rows, returnAddressRegister: returnAddressRegister, columns: columns, into: &b)
        return String(decoding: b.bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// `idField` is the CIE id as stored: 0 in .eh_frame, all ones in .debug_frame.
    public static func cieLine(_ cie: CommonInformationEntry, idField: UInt64, into b: inout ListingBuffer) {
        let length = UInt64(cie.end - cie.offset - (cie.offsetSize == 8 ? 12 : 4))
        b.hex(UInt64(cie.offset), width: 8); b.append(byte: 0x20)
        b.hex(length, width: 16); b.append(byte: 0x20)
        b.hex(idField, width: cie.offsetSize == 8 ? 16 : 8)
        b.append(" CIE \"\(cie.augmentation)\" cf=\(cie.codeAlignmentFactor) df=\(cie.dataAlignmentFactor) ra=\(cie.returnAddressRegister)")
    }

    public static func cieLine(_ cie: CommonInformationEntry, idField: UInt64) -> String {
        var b = ListingBuffer()
        cieLine(cie, idField: idField, into: &b)
        return String(decoding: b.bytes, as: UTF8.self)
    }

    /// `pointerField` is the CIE pointer as stored (relative in .eh_frame, an offset in
    /// .debug_frame).
    public static func fdeLine(_ fde: FrameDescriptionEntry, offsetSize: Int, pointerField: UInt64,
                               into b: inout ListingBuffer) {
        let length = UInt64(fde.end - fde.offset - (offsetSize == 8 ? 12 : 4))
        b.hex(UInt64(fde.offset), width: 8); b.append(byte: 0x20)
        b.hex(length, width: 16); b.append(byte: 0x20)
        b.hex(pointerField, width: offsetSize == 8 ? 16 : 8)
        b.append(" FDE cie=")
        b.hex(UInt64(fde.cieOffset), width: 8)
        b.append(" pc=")
        b.hex(fde.initialLocation, width: 16)
        b.append("..")
        b.hex(fde.pcRange.upperBound, width: 16)
    }

    public static func fdeLine(_ fde: FrameDescriptionEntry, offsetSize: Int, pointerField: UInt64) -> String {
        var b = ListingBuffer()
        fdeLine(fde, offsetSize: offsetSize, pointerField: pointerField, into: &b)
        return String(decoding: b.bytes, as: UTF8.self)
    }
}
