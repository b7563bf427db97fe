// VunwindNote: the note (owner "vunwind", type 1) that makes a vsyscall image
// self-describing: a core analyzer that finds the image in memory learns from it alone
// where each entry is, what it stores through which pointer argument, where the data page
// is, and which stores have -EFAULT landing pads. Little-endian, fixed-size records:
//
//   u32 layoutVersion, u32 entryCount, u32 fixupCount, u32 reserved
//   u64 imageBase, u64 textAddress, u64 vvarAddress, u64 vvarSize
//   entryCount x { char name[16]; u64 address; u32 size; u32 syscallNumber;
//                  u32 returnsSeconds; u32 pointerArgumentCount;
//                  4 x { u8 index; u8 nullAllowed; u16 size } }
//   fixupCount x { u64 store; u64 landingPad }

import Bytes

public struct VunwindNote: Equatable, Sendable {
    public static let owner = "vunwind"
    public static let type: UInt32 = 1
    public static let layoutVersion: UInt32 = 1

    public struct Entry: Equatable, Sendable {
        public var name: String
        public var address: UInt64
        public var size: UInt32
        public var syscallNumber: UInt32
        public var returnsSeconds: Bool
        public var pointerArguments: [PointerArgument]

        public init(name: String, address: UInt64, size: UInt32, syscallNumber: UInt32, returnsSeconds: Bool,
                    pointerArguments: [PointerArgument]) {
            self.name = name
            self.address = address
            self.size = size
            self.syscallNumber = syscallNumber
            self.returnsSeconds = returnsSeconds
            self.pointerArguments = pointerArguments
        }

        /// The parser refuses an entry whose end wraps; one built by hand saturates.
        public var range: Range<UInt64> { address..<saturatingEnd(address, UInt64(size)) }
    }

    public struct PointerArgument: Equatable, Sendable {
        public var index: UInt8
        public var nullAllowed: Bool
        public var size: UInt16

        public init(index: UInt8, nullAllowed: Bool, size: UInt16) {
            self.index = index
            self.nullAllowed = nullAllowed
            self.size = size
        }
    }

    public struct Fixup: Equatable, Sendable {
        public var store: UInt64
        public var landingPad: UInt64
        public init(store: UInt64, landingPad: UInt64) {
            self.store = store
            self.landingPad = landingPad
        }
    }

    public var version: UInt32 = VunwindNote.layoutVersion
    public var imageBase: UInt64
    public var textAddress: UInt64
    public var vvarAddress: UInt64
    public var vvarSize: UInt64
    public var entries: [Entry]
    public var fixups: [Fixup]

    public init(imageBase: UInt64, textAddress: UInt64, vvarAddress: UInt64, vvarSize: UInt64, entries: [Entry],
                fixups: [Fixup]) {
        self.imageBase = imageBase
        self.textAddress = textAddress
        self.vvarAddress = vvarAddress
        self.vvarSize = vvarSize
        self.entries = entries
        self.fixups = fixups
    }

    static let entrySize = 16 + 8 + 4 + 4 + 4 + 4 + 4 * 4
    static let maxPointerArguments = 4

    /// The note descriptor.
    public var descriptor: [UInt8] {
        var w = ByteWriter()
        w.u32(version); w.u32(UInt32(entries.count)); w.u32(UInt32(fixups.count)); w.u32(0)
        w.u64(imageBase); w.u64(textAddress); w.u64(vvarAddress); w.u64(vvarSize)
        for e in entries {
            var name = Array(e.name.utf8.prefix(15))
            name += [UInt8](repeating: 0, count: 16 - name.count)
            w.append(contentsOf: name)
            w.u64(e.address); w.u32(e.size); w.u32(e.syscallNumber); w.u32(e.returnsSeconds ? 1 : 0)
            w.u32(UInt32(e.pointerArguments.count))
            for i in 0..<Self.maxPointerArguments {
                if i < e.pointerArguments.count {
                    let p = e.pointerArguments[i]
                    w.u8(p.index); w.u8(p.nullAllowed ? 1 : 0); w.u16(p.size)
                } else {
                    w.u32(0)
                }
            }
        }
        for f in fixups { w.u64(f.store); w.u64(f.landingPad) }
        return w.bytes
    }

    /// The whole note (header, "vunwind\0" padded, descriptor), 4-byte aligned.
    public var encoded: [UInt8] {
        var w = ByteWriter()
        let desc = descriptor
        w.u32(UInt32(Self.owner.utf8.count + 1)); w.u32(UInt32(desc.count)); w.u32(Self.type)
        w.cString(Self.owner)
        w.align(to: 4)
        w.append(contentsOf: desc)
        w.align(to: 4)
        return w.bytes
    }

    /// Decodes a descriptor found in untrusted memory; errors carry the offset in it.
    public init(descriptor bytes: [UInt8], origin: UInt64 = 0) throws {
        var r = ByteReader(bytes, origin: origin)
        version = try r.u32()
        guard version == Self.layoutVersion else {
            throw ELFError(offset: origin, reason: .badNote("vunwind layout version \(version) is not \(Self.layoutVersion)"))
        }
        let entryCount = Int(try r.u32())
        let fixupCount = Int(try r.u32())
        _ = try r.u32()
        imageBase = try r.u64(); textAddress = try r.u64(); vvarAddress = try r.u64(); vvarSize = try r.u64()
        guard entryCount <= r.remaining / Self.entrySize,
              fixupCount <= (r.remaining - entryCount * Self.entrySize) / 16 else {
            throw ELFError(offset: origin &+ 4, reason: .badNote("counts exceed the descriptor"))
        }
        entries = []
        for _ in 0..<entryCount {
            let nameBytes = try r.bytes(16)
            let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
            let addressOffset = r.offset
            let address = try r.u64(), size = try r.u32(), syscall = try r.u32(), seconds = try r.u32() != 0
            // Read from another process's memory: an entry that ends past 2^64 is a lie.
            guard !address.addingReportingOverflow(UInt64(size)).overflow else {
                throw ELFError(offset: addressOffset, reason: .badNote("entry \(name): address 0x\(String(address, radix: 16)) + size \(size) wraps"))
            }
            let count = Int(try r.u32())
            var args: [PointerArgument] = []
            for i in 0..<Self.maxPointerArguments {
                let index = try r.u8(), null = try r.u8() != 0, size = try r.u16()
                if i < count { args.append(PointerArgument(index: index, nullAllowed: null, size: size)) }
            }
            entries.append(Entry(name: name, address: address, size: size, syscallNumber: syscall, returnsSeconds: seconds,
                                 pointerArguments: args))
        }
        fixups = []
        for _ in 0..<fixupCount { fixups.append(Fixup(store: try r.u64(), landingPad: try r.u64())) }
    }

    /// The vunwind note of an image, if it has one.
    public init?(elf: ELFFile) throws {
        guard let note = try elf.notes().first(where: { $0.name == Self.owner && $0.type == Self.type }) else { return nil }
        try self.init(descriptor: note.descriptor, origin: note.descriptorOffset)
    }

    public func entry(containing address: UInt64) -> Entry? { entries.first { $0.range.contains(address) } }
}
