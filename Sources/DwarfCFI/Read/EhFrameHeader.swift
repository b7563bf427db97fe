// EhFrameHeader: the .eh_frame_hdr section (LSB "Exception Frames"): a pointer to
// .eh_frame and, usually, a table of (initial location, FDE address) sorted by location,
// which unwinders binary-search instead of scanning .eh_frame.

import Bytes

public struct EhFrameHeader: Sendable {
    public let bytes: [UInt8]
    public let address: UInt64
    public let fileOffset: UInt64
    public let version: UInt8
    public let ehFramePointerEncoding: PointerEncoding
    public let countEncoding: PointerEncoding
    public let tableEncoding: PointerEncoding
    public let ehFrameAddress: UInt64
    /// Number of table entries; 0 when the table is omitted.
    public let count: Int
    /// Index of the first table entry in `bytes`.
    let tableStart: Int
    /// Size of one table field when the encoding is fixed-size, else nil (then lookups decode
    /// each entry).
    let fieldSize: Int?

    public init(bytes: [UInt8], address: UInt64, fileOffset: UInt64 = 0) throws {
        self.bytes = bytes
        self.address = address
        self.fileOffset = fileOffset
        var r = ByteReader(bytes, origin: fileOffset)
        version = try r.u8()
        guard version == 1 else { throw CFIError(offset: fileOffset, reason: .badHeaderVersion(version)) }
        ehFramePointerEncoding = PointerEncoding(try r.u8())
        countEncoding = PointerEncoding(try r.u8())
        tableEncoding = PointerEncoding(try r.u8())
        let bases = PointerBases(section: address, data: address)
        ehFrameAddress = try r.pointer(ehFramePointerEncoding, bases: bases, addressSize: 8).value
        if countEncoding.isOmitted || tableEncoding.isOmitted {
            count = 0
        } else {
            let countIndex = r.position
            let n = try r.pointer(countEncoding, bases: bases, addressSize: 8).value
            // Every entry takes at least two bytes: a count beyond that is a lie.
            guard n <= UInt64(r.remaining / 2) else {
                throw CFIError(offset: fileOffset &+ UInt64(countIndex), reason: .headerTableTooLarge(n))
            }
            count = Int(n)
            guard tableEncoding.isValid else {
                throw CFIError(offset: fileOffset &+ 3, reason: .badPointerEncoding(tableEncoding.rawValue))
            }
        }
        tableStart = r.position
        let size = tableEncoding.isOmitted ? nil : tableEncoding.fixedSize(addressSize: 8)
        fieldSize = tableEncoding.application == PointerEncoding.aligned.rawValue ? nil : size
        if let s = fieldSize, count > 0, r.remaining < count * 2 * s {
            throw CFIError(offset: fileOffset &+ UInt64(tableStart),
                           reason: .headerTableTooLarge(UInt64(count)))
        }
    }

    /// Table entry `i`: (initial location, FDE address).
    public func entry(_ i: Int) throws -> (location: UInt64, fde: UInt64) {
        precondition(i >= 0 && i < count)
        if tableEncoding == PointerEncoding.datarel | .sdata4 {
            // What every linker writes: two int32s relative to the header. The constructor
            // checked that the table fits.
            let at = tableStart + i * 8
            return (address &+ UInt64(bitPattern: Int64(int32(at))), address &+ UInt64(bitPattern: Int64(int32(at + 4))))
        }
        var r = ByteReader(bytes, origin: fileOffset)
        let bases = PointerBases(section: address, data: address)
        if let s = fieldSize {
            try r.seek(to: tableStart + i * 2 * s)
        } else {
            try r.seek(to: tableStart)
            for _ in 0..<i {
                _ = try r.pointer(tableEncoding, bases: bases, addressSize: 8)
                _ = try r.pointer(tableEncoding, bases: bases, addressSize: 8)
            }
        }
        let loc = try r.pointer(tableEncoding, bases: bases, addressSize: 8).value
        let fde = try r.pointer(tableEncoding, bases: bases, addressSize: 8).value
        return (loc, fde)
    }

    @inline(__always)
    private func int32(_ at: Int) -> Int32 {
        Int32(bitPattern: UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16
            | UInt32(bytes[at + 3]) << 24)
    }

    /// The address of the FDE whose initial location is the greatest one <= `pc`, or nil.
    /// The caller still checks that the FDE's range covers `pc`.
    public func lookup(_ pc: UInt64) throws -> UInt64? { try lookupEntry(pc)?.fde }

    /// The same, with the index of the table entry it came from.
    public func lookupEntry(_ pc: UInt64) throws -> (index: Int, fde: UInt64)? {
        guard count > 0 else { return nil }
        if tableEncoding == PointerEncoding.datarel | .sdata4 {
            // What every linker writes, searched in place: this runs once per lookup, and
            // the constructor checked that the table fits.
            let found: Int = bytes.withUnsafeBytes { raw in
                var lo = 0, hi = count  // invariant: answer in [lo-1, hi)
                while lo < hi {
                    let mid = lo &+ (hi &- lo) >> 1
                    let location = Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: tableStart &+ mid &* 8,
                                                                                 as: Int32.self)))
                    // Compare as addresses, not offsets: pc - address may wrap.
                    if UInt64(bitPattern: location) &+ address <= pc { lo = mid &+ 1 } else { hi = mid }
                }
                return lo
            }
            return found == 0 ? nil : (found - 1, try entry(found - 1).fde)
        }
        var lo = 0
        var hi = count  // invariant: answer in [lo-1, hi)
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if try entry(mid).location <= pc { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? nil : (lo - 1, try entry(lo - 1).fde)
    }

    /// The file offset of entry `i`'s FDE pointer (errors about where it points go there);
    /// the table's start when the encoding has no fixed size.
    public func fdeFieldOffset(_ i: Int) -> UInt64 {
        guard let s = fieldSize else { return fileOffset &+ UInt64(tableStart) }
        return fileOffset &+ UInt64(tableStart + i * 2 * s + s)
    }
}
