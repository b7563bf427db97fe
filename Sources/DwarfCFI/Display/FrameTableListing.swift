// FrameTableListing: renders CIEs, FDEs and their rows in the layout of binutils'
// `readelf --debug-dump=frames-interp`, so the two can be compared line by line.
//
// readelf's conventions, kept: columns are the registers any row of the entry (or its CIE)
// names, in register-number order, the return-address column titled "ra"; a cell is "u"
// (undefined or unspecified), "s" (same value), "c+N" (saved at CFA+N), "v+N" (value
// CFA+N), a register name, "exp" or "vexp"; the CFA is "reg+N" or "exp".

public enum FrameTableListing {
    public static func cfa(_ rule: CFARule) -> String {
        switch rule {
        case let .registerOffset(reg, off): return DwarfRegister.name(UInt64(reg)) + signed(off)
        case .expression: return "exp"
        }
    }

    public static func cell(_ rule: RegisterRule?) -> String {
        guard let rule else { return "u" }
        switch rule {
        case .undefined: return "u"
        case .sameValue: return "s"
        case let .offset(o): return "c" + signed(o)
        case let .valOffset(o): return "v" + signed(o)
        case let .register(r): return "r\(r) (\(DwarfRegister.name(UInt64(r))))"
        case .expression: return "exp"
        case .valExpression: return "vexp"
        }
    }

    static func signed(_ v: Int64) -> String { v < 0 ? "\(v)" : "+\(v)" }

    public static func hex(_ v: UInt64, width: Int) -> String {
        let s = String(v, radix: 16)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) + " "
    }

    /// The header and rows of a table, readelf-style (trailing spaces included). Columns
    /// are `columns` (readelf: every register an instruction of the entry or its CIE names)
    /// plus any register with a rule.
    public static func table(rows: [UnwindRow], returnAddressRegister: UInt64,
                             columns named: Set<UInt64> = []) -> [String] {
        var columns = Set<UInt16>(named.compactMap { $0 <= UInt64(DwarfRegister.maximum) ? UInt16($0) : nil })
        for row in rows { for e in row.registers { columns.insert(e.register) } }
        let ordered = columns.sorted()
        var header = "   LOC           CFA      "
        for r in ordered {
            header += pad(UInt64(r) == returnAddressRegister ? "ra" : DwarfRegister.name(UInt64(r)), 5)
        }
        var lines = [header]
        for row in rows {
            var line = hex(row.start, width: 16) + " " + pad(cfa(row.cfa), 8)
            for r in ordered { line += pad(cell(row.registers[r]), 5) }
            lines.append(line)
        }
        return lines
    }

    /// `idField` is the CIE id as stored: 0 in .eh_frame, all ones in .debug_frame.
    public static func cieLine(_ cie: CommonInformationEntry, idField: UInt64) -> String {
        let length = UInt64(cie.end - cie.offset - (cie.offsetSize == 8 ? 12 : 4))
        let idWidth = cie.offsetSize == 8 ? 16 : 8
        return "\(hex(UInt64(cie.offset), width: 8)) \(hex(length, width: 16)) \(hex(idField, width: idWidth)) CIE "
            + "\"\(cie.augmentation)\" cf=\(cie.codeAlignmentFactor) df=\(cie.dataAlignmentFactor) "
            + "ra=\(cie.returnAddressRegister)"
    }

    public static func fdeLine(_ fde: FrameDescriptionEntry, offsetSize: Int, pointerField: UInt64) -> String {
        let length = UInt64(fde.end - fde.offset - (offsetSize == 8 ? 12 : 4))
        let idWidth = offsetSize == 8 ? 16 : 8
        return "\(hex(UInt64(fde.offset), width: 8)) \(hex(length, width: 16)) \(hex(pointerField, width: idWidth)) "
            + "FDE cie=\(hex(UInt64(fde.cieOffset), width: 8)) "
            + "pc=\(hex(fde.initialLocation, width: 16))..\(hex(fde.pcRange.upperBound, width: 16))"
    }
}
