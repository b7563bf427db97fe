// CallFrameSection: an .eh_frame or .debug_frame section and the parsing of its entries.
//
// The two formats differ in small ways that matter: the CIE id (0 vs all ones), the FDE's
// CIE pointer (relative to the field vs an offset from the section start), how FDE
// addresses are encoded (augmentation 'R' vs the CIE's address size), and the terminator
// (a zero length ends .eh_frame for libgcc; readelf and we read on past it).

import Bytes

public struct CallFrameSection: Sendable {
    public enum Kind: String, Sendable { case ehFrame = ".eh_frame", debugFrame = ".debug_frame" }

    public enum Entry: Sendable, Equatable {
        case cie(CommonInformationEntry)
        case fde(FrameDescriptionEntry)
        /// A zero length field (4 bytes) at `offset`.
        case terminator(offset: Int)
    }

    public let kind: Kind
    /// The section's bytes; index 0 is the section's first byte.
    public let bytes: [UInt8]
    /// Section address (for pcrel), text and data bases.
    public let bases: PointerBases
    /// File offset of the section, added to every offset an error reports.
    public let fileOffset: UInt64
    /// Address size for absptr and .debug_frame addresses (8 on x86-64).
    public let addressSize: Int
    /// The section's bytes as the source of the expressions in its rows.
    public let expressionSource: ExpressionSource

    public init(kind: Kind, bytes: [UInt8], address: UInt64, fileOffset: UInt64 = 0,
                textAddress: UInt64? = nil, dataAddress: UInt64? = nil, addressSize: Int = 8) {
        self.kind = kind
        self.bytes = bytes
        self.bases = PointerBases(section: address, text: textAddress, data: dataAddress)
        self.fileOffset = fileOffset
        self.addressSize = addressSize
        self.expressionSource = ExpressionSource(bytes: bytes, fileOffset: fileOffset)
    }

    public var address: UInt64 { bases.section }

    func reader(_ range: Range<Int>) -> ByteReader { ByteReader(bytes, range: range, origin: fileOffset) }

    func error(_ reason: CFIError.Reason, at index: Int) -> CFIError {
        CFIError(offset: fileOffset &+ UInt64(index), reason: reason)
    }

    // MARK: Entry headers

    private struct Header {
        var offset: Int
        var offsetSize: Int
        /// Index of the CIE id / CIE pointer field.
        var idIndex: Int
        var id: UInt64
        /// Index just past the entry.
        var end: Int
        var isCIE: Bool
    }

    /// Reads the length and id of the entry at `offset`; nil for a zero-length terminator.
    private func header(at offset: Int) throws -> Header? {
        guard offset >= 0, offset <= bytes.count else {
            throw error(.entryLengthOutOfRange(UInt64(max(offset, 0))), at: max(0, min(offset, bytes.count)))
        }
        var r = reader(offset..<bytes.count)
        var length = UInt64(try r.u32())
        var offsetSize = 4
        if length == 0 { return nil }
        if length == 0xffff_ffff {
            length = try r.u64()
            offsetSize = 8
        }
        guard length <= UInt64(r.remaining) else {
            throw error(.entryLengthOutOfRange(length), at: offset)
        }
        let end = r.position + Int(length)
        let idIndex = r.position
        var body = reader(idIndex..<end)
        let id = offsetSize == 4 ? UInt64(try body.u32()) : try body.u64()
        let isCIE: Bool
        switch kind {
        case .ehFrame: isCIE = id == 0
        case .debugFrame: isCIE = offsetSize == 4 ? id == 0xffff_ffff : id == UInt64.max
        }
        return Header(offset: offset, offsetSize: offsetSize, idIndex: idIndex, id: id, end: end, isCIE: isCIE)
    }

    /// The entry at `offset` and the offset of the next one.
    public func entry(at offset: Int) throws -> (entry: Entry, next: Int) {
        guard let h = try header(at: offset) else { return (.terminator(offset: offset), offset + 4) }
        if h.isCIE { return (.cie(try parseCIE(h)), h.end) }
        return (.fde(try parseFDE(h, resolve: { try self.cie(at: $0) }).fde), h.end)
    }

    /// Every entry in order, stopping at the first malformed one (whose error `body` does not
    /// see: it is thrown).
    public func forEachEntry(_ body: (Entry) throws -> Void) throws {
        var offset = 0
        while offset < bytes.count {
            let (e, next) = try entry(at: offset)
            try body(e)
            offset = next
        }
    }

    public func cie(at offset: Int) throws -> CommonInformationEntry {
        guard let h = try header(at: offset), h.isCIE else {
            throw error(.cieNotFound(target: Int64(offset)), at: offset)
        }
        return try parseCIE(h)
    }

    /// The FDE at `offset` and its CIE.
    public func fde(at offset: Int) throws -> (fde: FrameDescriptionEntry, cie: CommonInformationEntry) {
        try fde(at: offset, cie: { try self.cie(at: $0) })
    }

    /// The FDE at `offset`, with its CIE obtained from `cie` (given the CIE's offset), so a
    /// caller that caches CIEs parses each once.
    public func fde(at offset: Int, cie resolve: (Int) throws -> CommonInformationEntry) throws
        -> (fde: FrameDescriptionEntry, cie: CommonInformationEntry) {
        guard let h = try header(at: offset), !h.isCIE else {
            throw error(.cieNotFound(target: Int64(offset)), at: offset)
        }
        return try parseFDE(h, resolve: resolve)
    }

    // MARK: CIE

    private func parseCIE(_ h: Header) throws -> CommonInformationEntry {
        var r = reader((h.idIndex + h.offsetSize)..<h.end)
        let version = try r.u8()
        switch (kind, version) {
        case (.ehFrame, 1), (.ehFrame, 3), (.debugFrame, 1), (.debugFrame, 3), (.debugFrame, 4): break
        default: throw error(.unsupportedCIEVersion(version), at: r.position - 1)
        }
        let augIndex = r.position
        let augBytes = try r.cString()
        let augmentation = String(decoding: augBytes, as: UTF8.self)
        var addressSize = UInt8(addressSize)
        var segmentSelectorSize: UInt8 = 0
        if augmentation.hasPrefix("eh") {
            // GCC before 3.0: an EH data pointer follows the augmentation string.
            try r.skip(Int(addressSize))
        }
        if version == 4 {
            addressSize = try r.u8()
            guard addressSize == 2 || addressSize == 4 || addressSize == 8 else {
                throw error(.badAddressSize(addressSize), at: r.position - 1)
            }
            segmentSelectorSize = try r.u8()
            guard segmentSelectorSize == 0 else {
                throw error(.segmentSelectorUnsupported(segmentSelectorSize), at: r.position - 1)
            }
        }
        let caf = try r.uleb128()
        guard caf != 0 else { throw error(.zeroCodeAlignment, at: r.position - 1) }
        let daf = try r.sleb128()
        let ra: UInt64 = version == 1 ? UInt64(try r.u8()) : try r.uleb128()
        guard ra <= UInt64(DwarfRegister.maximum) else { throw error(.registerOutOfRange(ra), at: r.position - 1) }

        var cie = CommonInformationEntry(
            offset: h.offset, end: h.end, offsetSize: h.offsetSize, version: version, augmentation: augmentation,
            addressSize: addressSize, segmentSelectorSize: segmentSelectorSize, codeAlignmentFactor: caf,
            dataAlignmentFactor: daf, returnAddressRegister: ra, fdeEncoding: .absptr, lsdaEncoding: nil,
            personalityEncoding: nil, personality: nil, isSignalFrame: false, hasAugmentationData: false,
            instructions: h.end..<h.end)

        if augBytes.first == UInt8(ascii: "z") {
            cie.hasAugmentationData = true
            let length = try r.uleb128()
            guard length <= UInt64(r.remaining) else {
                throw error(.entryLengthOutOfRange(length), at: r.position)
            }
            var aug = try r.subReader(count: Int(length))
            let bases = self.bases
            scan: for c in augBytes.dropFirst() {
                switch c {
                case UInt8(ascii: "R"):
                    cie.fdeEncoding = try encoding(&aug)
                case UInt8(ascii: "L"):
                    cie.lsdaEncoding = try encoding(&aug)
                case UInt8(ascii: "P"):
                    let e = try encoding(&aug)
                    cie.personalityEncoding = e
                    cie.personality = try aug.pointer(e, bases: bases, addressSize: Int(addressSize))
                case UInt8(ascii: "S"):
                    cie.isSignalFrame = true
                case UInt8(ascii: "B"), UInt8(ascii: "G"):
                    break  // AArch64 BTI / MTE markers: no data.
                default:
                    // 'z' says how long the data is, so an unknown letter ends the parse of
                    // the data but not of the CIE (LSB: "the rest may be skipped").
                    break scan
                }
            }
        } else if !(augmentation.isEmpty || augmentation == "eh") {
            // Without 'z' nothing says where unknown augmentation data ends.
            throw error(.unknownAugmentation(augmentation), at: augIndex)
        }
        cie.instructions = r.position..<h.end
        return cie
    }

    private func encoding(_ r: inout ByteReader) throws -> PointerEncoding {
        let e = PointerEncoding(try r.u8())
        guard e.isValid else { throw CFIError(offset: r.offset &- 1, reason: .badPointerEncoding(e.rawValue)) }
        return e
    }

    // MARK: FDE

    private func parseFDE(_ h: Header, resolve: (Int) throws -> CommonInformationEntry) throws
        -> (fde: FrameDescriptionEntry, cie: CommonInformationEntry) {
        let cieOffset: Int64
        switch kind {
        case .ehFrame: cieOffset = Int64(h.idIndex) - Int64(truncatingIfNeeded: h.id)
        case .debugFrame: cieOffset = h.id > UInt64(Int64.max) ? -1 : Int64(h.id)
        }
        guard cieOffset >= 0, cieOffset < Int64(bytes.count), cieOffset != Int64(h.offset) else {
            throw error(.cieNotFound(target: cieOffset), at: h.idIndex)
        }
        let cie: CommonInformationEntry
        do {
            cie = try resolve(Int(cieOffset))
        } catch let e as CFIError where e.reason == .cieNotFound(target: cieOffset) {
            // Report the pointer that leads nowhere, not the place it leads to.
            throw error(.cieNotFound(target: cieOffset), at: h.idIndex)
        }
        var r = reader((h.idIndex + h.offsetSize)..<h.end)
        let addressSize = Int(cie.addressSize)
        let encoding: PointerEncoding = cie.fdeEncoding
        let start = try r.pointer(encoding, bases: bases, addressSize: addressSize)
        let range = try r.pointer(PointerEncoding(encoding.format), bases: bases, addressSize: addressSize)
        var lsda: EncodedPointer?
        if cie.hasAugmentationData {
            let length = try r.uleb128()
            guard length <= UInt64(r.remaining) else {
                throw error(.entryLengthOutOfRange(length), at: r.position)
            }
            var aug = try r.subReader(count: Int(length))
            if let le = cie.lsdaEncoding, !le.isOmitted, aug.remaining > 0 {
                lsda = try aug.pointer(le, bases: bases, addressSize: addressSize, function: start.value)
            }
        }
        let fde = FrameDescriptionEntry(
            offset: h.offset, end: h.end, cieOffset: Int(cieOffset), initialLocation: start.value,
            addressRange: range.value, lsda: lsda, instructions: r.position..<h.end)
        return (fde, cie)
    }
}
