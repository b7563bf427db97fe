// EhFrameWriter: encodes a FrameTable as an .eh_frame section (LSB 1.3 "Exception Frames")
// and its .eh_frame_hdr lookup table, for a known run-time address.
//
// Choices every consumer on Linux accepts: CIE version 1 (return-address register in a
// byte), augmentation "z..R", FDE pointers
// pcrel|sdata4, each entry padded with DW_CFA_nop to 8 bytes, a 4-byte zero terminator
// (libgcc's __register_frame walks until it), and a header table in datarel|sdata4 sorted
// by initial location (the binary search every unwinder does).

import Bytes

public struct EhFrameSections: Sendable, Equatable {
    public var ehFrame: [UInt8]
    public var ehFrameAddress: UInt64
    /// Offset in `ehFrame` of each FDE, in the order of `FrameTable.fdes`.
    public var fdeOffsets: [Int]
    /// Offset in `ehFrame` of each CIE, in the order of `FrameTable.cies`.
    public var cieOffsets: [Int]
}

public enum EhFrameWriter {
    /// Encodes `table` as .eh_frame placed at `address`.
    public static func ehFrame(_ table: FrameTable, address: UInt64) throws(WriteError) -> EhFrameSections {
        var w = ByteWriter()
        var cieOffsets: [Int] = []
        for (index, cie) in table.cies.enumerated() {
            cieOffsets.append(w.count)
            try writeCIE(cie, index: index, sectionAddress: address, into: &w)
        }
        var fdeOffsets: [Int] = []
        for (index, fde) in table.fdes.enumerated() {
            fdeOffsets.append(w.count)
            try writeFDE(fde, index: index, cie: table.cies[fde.cie.index], cieOffset: cieOffsets[fde.cie.index],
                         sectionAddress: address, into: &w)
        }
        w.u32(0)  // zero terminator
        return EhFrameSections(ehFrame: w.bytes, ehFrameAddress: address, fdeOffsets: fdeOffsets, cieOffsets: cieOffsets)
    }

    /// Encodes .eh_frame_hdr (version 1) at `address` for sections written by `ehFrame`.
    public static func ehFrameHeader(for table: FrameTable, sections: EhFrameSections,
                                     address: UInt64) throws(WriteError) -> [UInt8] {
        var w = ByteWriter()
        w.u8(1)  // version
        w.u8((PointerEncoding.pcrel | .sdata4).rawValue)  // eh_frame_ptr
        w.u8(PointerEncoding.udata4.rawValue)  // fde_count
        w.u8((PointerEncoding.datarel | .sdata4).rawValue)  // table
        let ptrField = address &+ 4
        w.i32(try int32(sections.ehFrameAddress &- ptrField, entry: 0, encoding: .pcrel | .sdata4))
        w.u32(UInt32(table.fdes.count))
        var rows: [(start: UInt64, fde: UInt64)] = []
        for (i, fde) in table.fdes.enumerated() {
            rows.append((fde.start, sections.ehFrameAddress &+ UInt64(sections.fdeOffsets[i])))
        }
        rows.sort { $0.start < $1.start }
        for (i, row) in rows.enumerated() {
            w.i32(try int32(row.start &- address, entry: i, encoding: .datarel | .sdata4))
            w.i32(try int32(row.fde &- address, entry: i, encoding: .datarel | .sdata4))
        }
        return w.bytes
    }

    private static func int32(_ wrapped: UInt64, entry: Int, encoding: PointerEncoding) throws(WriteError) -> Int32 {
        let v = Int64(bitPattern: wrapped)
        guard let r = Int32(exactly: v) else {
            throw WriteError(entry: entry, inCIE: false, reason: .pointerOutOfRange(wrapped, encoding: encoding))
        }
        return r
    }

    // MARK: Entries

    private static func writeCIE(_ cie: FrameTable.CIE, index: Int, sectionAddress: UInt64,
                                 into w: inout ByteWriter) throws(WriteError) {
        func fail(_ r: WriteError.Reason) -> WriteError { WriteError(entry: index, inCIE: true, reason: r) }
        guard cie.codeAlignmentFactor != 0, cie.dataAlignmentFactor != 0 else { throw fail(.zeroFactor) }
        let start = w.count
        w.u32(0)  // length, patched
        w.u32(0)  // CIE id
        w.u8(1)  // version
        w.cString(cie.augmentation)
        w.uleb128(cie.codeAlignmentFactor)
        w.sleb128(cie.dataAlignmentFactor)
        guard cie.returnAddressRegister <= 255 else { throw fail(.registerNumberTooLarge(cie.returnAddressRegister)) }
        w.u8(UInt8(cie.returnAddressRegister))
        // Augmentation data, in the order of the augmentation string.
        var aug = ByteWriter()
        if let p = cie.personality {
            aug.u8(p.encoding.rawValue)
            // The personality pointer's pc-relative base is its own address in the section:
            // the CIE's augmentation data starts after the augmentation-length ULEB, whose
            // size depends on the data's size. Personality data is at most 9 bytes + 2
            // encoding bytes, so the length is one byte.
            let fieldOffset = w.count + 1 + aug.count
            try writePointer(p.address, encoding: p.encoding, fieldAddress: sectionAddress &+ UInt64(fieldOffset),
                             fieldOffset: fieldOffset, into: &aug, fail: fail)
        }
        if let l = cie.lsdaEncoding {
            try checkSupported(l, fail: fail)
            aug.u8(l.rawValue)
        }
        try checkSupported(cie.fdeEncoding, fail: fail)
        aug.u8(cie.fdeEncoding.rawValue)
        w.uleb128(UInt64(aug.count))
        w.append(contentsOf: aug.bytes)
        var location: UInt64 = 0
        for instruction in cie.initialInstructions {
            try encode(instruction, cie: cie, location: &location, at: 0, into: &w, fail: fail)
        }
        pad(&w, entryStart: start)
        w.patch32(at: start, UInt32(w.count - start - 4))
    }

    private static func writeFDE(_ fde: FrameTable.FDE, index: Int, cie: FrameTable.CIE, cieOffset: Int,
                                 sectionAddress: UInt64, into w: inout ByteWriter) throws(WriteError) {
        func fail(_ r: WriteError.Reason) -> WriteError { WriteError(entry: index, inCIE: false, reason: r) }
        guard (fde.lsda != nil) == (cie.lsdaEncoding != nil) else { throw fail(.lsdaMismatch) }
        let start = w.count
        w.u32(0)  // length, patched
        w.u32(UInt32(w.count - cieOffset))  // CIE pointer: distance back from this field
        try writePointer(fde.start, encoding: cie.fdeEncoding,
                         fieldAddress: sectionAddress &+ UInt64(w.count), fieldOffset: w.count, into: &w, fail: fail)
        // The range uses the format of the FDE encoding without its application.
        try writePointer(fde.length, encoding: PointerEncoding(cie.fdeEncoding.format), fieldAddress: nil,
                         fieldOffset: w.count, into: &w, fail: fail)
        var aug = ByteWriter()
        if let lsda = fde.lsda, let enc = cie.lsdaEncoding {
            // As for the personality: the augmentation length is one byte (<= 9 bytes of data).
            let fieldOffset = w.count + 1
            try writePointer(lsda, encoding: enc, fieldAddress: sectionAddress &+ UInt64(fieldOffset),
                             fieldOffset: fieldOffset, into: &aug, fail: fail)
        }
        w.uleb128(UInt64(aug.count))
        w.append(contentsOf: aug.bytes)
        var location: UInt64 = 0
        for (offset, instruction) in fde.instructions {
            if offset < location { throw fail(.codeOffsetsDecrease(offset, after: location)) }
            if offset >= fde.length && !(offset == 0 && fde.length == 0) {
                throw fail(.codeOffsetBeyondFunction(offset, length: fde.length))
            }
            try encode(instruction, cie: cie, location: &location, at: offset, into: &w, fail: fail)
        }
        pad(&w, entryStart: start)
        w.patch32(at: start, UInt32(w.count - start - 4))
    }

    private static func pad(_ w: inout ByteWriter, entryStart: Int) {
        while (w.count - entryStart) % 8 != 0 { w.u8(CallFrameOpcode.nop) }
    }

    private static func checkSupported(_ e: PointerEncoding, fail: (WriteError.Reason) -> WriteError) throws(WriteError) {
        guard e.isValid, !e.isOmitted, e.application == 0 || e.application == PointerEncoding.pcrel.rawValue else {
            throw fail(.unsupportedEncoding(e))
        }
    }

    /// Writes `value` in `encoding`. A pc-relative pointer needs the run-time address of the
    /// field; for fields inside augmentation data (built in a side buffer) the address is
    /// derived from `fieldOffset` by the caller and passed as `fieldAddress`.
    private static func writePointer(_ value: UInt64, encoding: PointerEncoding, fieldAddress: UInt64?,
                                     fieldOffset: Int, into w: inout ByteWriter,
                                     fail: (WriteError.Reason) -> WriteError) throws(WriteError) {
        try checkSupported(encoding, fail: fail)
        var v = value
        if encoding.application == PointerEncoding.pcrel.rawValue {
            guard let base = fieldAddress else { throw fail(.unsupportedEncoding(encoding)) }
            v = value &- base
        }
        let s = Int64(bitPattern: v)
        func range(_ ok: Bool) throws(WriteError) { if !ok { throw fail(.pointerOutOfRange(value, encoding: encoding)) } }
        switch encoding.format {
        case 0x0, 0x4: w.u64(v)
        case 0xc: w.i64(s)
        case 0x1:
            try range(encoding.application == 0)
            w.uleb128(v)
        case 0x9: w.sleb128(s)
        case 0x2: try range(v <= UInt64(UInt16.max)); w.u16(UInt16(v))
        case 0x3: try range(v <= UInt64(UInt32.max)); w.u32(UInt32(v))
        case 0xa: try range(Int16(exactly: s) != nil); w.i16(Int16(s))
        case 0xb: try range(Int32(exactly: s) != nil); w.i32(Int32(s))
        default: throw fail(.unsupportedEncoding(encoding))
        }
    }

    // MARK: Instructions

    /// Emits the advance to `offset` (if any) and the smallest encoding of `instruction`.
    static func encode(_ instruction: FrameInstruction, cie: FrameTable.CIE, location: inout UInt64,
                       at offset: UInt64, into w: inout ByteWriter,
                       fail: (WriteError.Reason) -> WriteError) throws(WriteError) {
        // writeCIE checks this too; encoding(of:) and advanceEncoding(by:) reach here directly,
        // and a zero factor must be an error, not a division trap.
        guard cie.codeAlignmentFactor != 0, cie.dataAlignmentFactor != 0 else { throw fail(.zeroFactor) }
        if offset != location {
            let caf = cie.codeAlignmentFactor
            let delta = offset - location
            guard delta % caf == 0 else { throw fail(.codeOffsetNotFactored(offset, factor: caf)) }
            let factored = delta / caf
            if factored < 64 {
                w.u8(CallFrameOpcode.advanceLoc | UInt8(factored))
            } else if factored <= UInt64(UInt8.max) {
                w.u8(CallFrameOpcode.advanceLoc1); w.u8(UInt8(factored))
            } else if factored <= UInt64(UInt16.max) {
                w.u8(CallFrameOpcode.advanceLoc2); w.u16(UInt16(factored))
            } else if factored <= UInt64(UInt32.max) {
                w.u8(CallFrameOpcode.advanceLoc4); w.u32(UInt32(factored))
            } else {
                throw fail(.advanceTooLarge(factored))
            }
            location = offset
        }
        let daf = cie.dataAlignmentFactor
        /// v / daf, if daf divides v and the quotient fits (Int64.min / -1 does not).
        func exact(_ v: Int64) -> Int64? {
            let (q, overflow) = v.dividedReportingOverflow(by: daf)
            return !overflow && q &* daf == v ? q : nil
        }
        func factor(_ v: Int64) throws(WriteError) -> Int64 {
            guard v.remainderReportingOverflow(dividingBy: daf).partialValue == 0 else {
                throw fail(.offsetNotFactored(v, factor: daf))
            }
            guard let q = exact(v) else { throw fail(.offsetOutOfRange(v, factor: daf)) }
            return q
        }
        switch instruction {
        case let .cfa(reg, off):
            // def_cfa takes an unfactored ULEB; def_cfa_sf a factored SLEB. Smallest wins;
            // ties go to the DWARF 2 form.
            let plain: [UInt8]? = off >= 0 ? LEB128.unsigned(UInt64(off)) : nil
            let sf: [UInt8]? = exact(off).map { LEB128.signed($0) }
            guard plain != nil || sf != nil else { throw fail(.offsetNotFactored(off, factor: daf)) }
            if let p = plain, sf == nil || p.count <= sf!.count {
                w.u8(CallFrameOpcode.defCfa); w.uleb128(UInt64(reg)); w.append(contentsOf: p)
            } else {
                w.u8(CallFrameOpcode.defCfaSf); w.uleb128(UInt64(reg)); w.append(contentsOf: sf!)
            }
        case let .cfaOffset(off):
            let plain: [UInt8]? = off >= 0 ? LEB128.unsigned(UInt64(off)) : nil
            let sf: [UInt8]? = exact(off).map { LEB128.signed($0) }
            guard plain != nil || sf != nil else { throw fail(.offsetNotFactored(off, factor: daf)) }
            if let p = plain, sf == nil || p.count <= sf!.count {
                w.u8(CallFrameOpcode.defCfaOffset); w.append(contentsOf: p)
            } else {
                w.u8(CallFrameOpcode.defCfaOffsetSf); w.append(contentsOf: sf!)
            }
        case let .cfaRegister(reg):
            w.u8(CallFrameOpcode.defCfaRegister); w.uleb128(UInt64(reg))
        case let .cfaExpression(e):
            w.u8(CallFrameOpcode.defCfaExpression); w.uleb128(UInt64(e.bytes.count)); w.append(contentsOf: e.bytes)
        case let .offset(reg, off):
            let f = try factor(off)
            if f >= 0 && reg < 64 {
                w.u8(CallFrameOpcode.offset | UInt8(reg)); w.uleb128(UInt64(f))
            } else if f >= 0 && LEB128.unsignedSize(UInt64(f)) <= LEB128.signedSize(f) {
                w.u8(CallFrameOpcode.offsetExtended); w.uleb128(UInt64(reg)); w.uleb128(UInt64(f))
            } else {
                w.u8(CallFrameOpcode.offsetExtendedSf); w.uleb128(UInt64(reg)); w.sleb128(f)
            }
        case let .valOffset(reg, off):
            let f = try factor(off)
            if f >= 0 && LEB128.unsignedSize(UInt64(f)) <= LEB128.signedSize(f) {
                w.u8(CallFrameOpcode.valOffset); w.uleb128(UInt64(reg)); w.uleb128(UInt64(f))
            } else {
                w.u8(CallFrameOpcode.valOffsetSf); w.uleb128(UInt64(reg)); w.sleb128(f)
            }
        case let .register(reg, other):
            w.u8(CallFrameOpcode.register); w.uleb128(UInt64(reg)); w.uleb128(UInt64(other))
        case let .restore(reg):
            if reg < 64 {
                w.u8(CallFrameOpcode.restore | UInt8(reg))
            } else {
                w.u8(CallFrameOpcode.restoreExtended); w.uleb128(UInt64(reg))
            }
        case let .undefined(reg):
            w.u8(CallFrameOpcode.undefined); w.uleb128(UInt64(reg))
        case let .sameValue(reg):
            w.u8(CallFrameOpcode.sameValue); w.uleb128(UInt64(reg))
        case .rememberState:
            w.u8(CallFrameOpcode.rememberState)
        case .restoreState:
            w.u8(CallFrameOpcode.restoreState)
        case let .expression(reg, e):
            w.u8(CallFrameOpcode.expression); w.uleb128(UInt64(reg))
            w.uleb128(UInt64(e.bytes.count)); w.append(contentsOf: e.bytes)
        case let .valExpression(reg, e):
            w.u8(CallFrameOpcode.valExpression); w.uleb128(UInt64(reg))
            w.uleb128(UInt64(e.bytes.count)); w.append(contentsOf: e.bytes)
        case let .argsSize(n):
            w.u8(CallFrameOpcode.gnuArgsSize); w.uleb128(n)
        }
    }

    /// The bytes of one instruction as the writer encodes it with no preceding advance:
    /// for golden-byte tests and for listings.
    public static func encoding(of instruction: FrameInstruction, cie: FrameTable.CIE = .x86_64()) throws(WriteError) -> [UInt8] {
        var w = ByteWriter()
        var location: UInt64 = 0
        try encode(instruction, cie: cie, location: &location, at: 0, into: &w) {
            WriteError(entry: 0, inCIE: false, reason: $0)
        }
        return w.bytes
    }

    /// The bytes of an advance by `delta` code units.
    public static func advanceEncoding(by delta: UInt64, cie: FrameTable.CIE = .x86_64()) throws(WriteError) -> [UInt8] {
        var w = ByteWriter()
        var location: UInt64 = 0
        try encode(.rememberState, cie: cie, location: &location, at: delta, into: &w) {
            WriteError(entry: 0, inCIE: false, reason: $0)
        }
        return Array(w.bytes.dropLast())
    }
}
