// ELFImageBuilder: writes an ELF64 image whose allocated sections sit at file offset
// (address - baseAddress), as in a vDSO: the file *is* the memory image, so a debugger can
// read it from memory or from a core with no relocation. Non-allocated sections and the
// section header table go in the first gap after the headers that fits them, so they stay
// inside the mapped range when the caller leaves room.

import Bytes

public struct ELFImageBuilder: Sendable {
    public struct Section: Sendable {
        public var name: String
        public var type: UInt32
        public var flags: UInt64
        /// Run-time address (allocated sections); ignored for the others.
        public var address: UInt64
        public var alignment: UInt64
        public var entrySize: UInt64
        /// Name of the section sh_link refers to.
        public var link: String?
        public var info: UInt32
        public var contents: [UInt8]
        /// For SHT_NOBITS: the size in memory.
        public var nobitsSize: UInt64

        public init(name: String, type: UInt32, flags: UInt64 = 0, address: UInt64 = 0, alignment: UInt64 = 1,
                    entrySize: UInt64 = 0, link: String? = nil, info: UInt32 = 0, contents: [UInt8] = [],
                    nobitsSize: UInt64 = 0) {
            self.name = name
            self.type = type
            self.flags = flags
            self.address = address
            self.alignment = alignment
            self.entrySize = entrySize
            self.link = link
            self.info = info
            self.contents = contents
            self.nobitsSize = nobitsSize
        }

        public var isAllocated: Bool { flags & ELF.shfAlloc != 0 }
        var fileSize: UInt64 { type == ELF.shtNobits ? 0 : UInt64(contents.count) }
    }

    public struct Segment: Sendable {
        public var type: UInt32
        public var flags: UInt32
        public var address: UInt64
        public var fileSize: UInt64
        public var memorySize: UInt64
        public var alignment: UInt64

        public init(type: UInt32, flags: UInt32, address: UInt64, fileSize: UInt64, memorySize: UInt64? = nil,
                    alignment: UInt64) {
            self.type = type
            self.flags = flags
            self.address = address
            self.fileSize = fileSize
            self.memorySize = memorySize ?? fileSize
            self.alignment = alignment
        }
    }

    public enum BuildError: Error, Equatable, CustomStringConvertible {
        case sectionBelowBase(String)
        case overlap(String, String)
        case unknownLink(String)
        case segmentBelowBase(UInt32)

        public var description: String {
            switch self {
            case let .sectionBelowBase(n): return "section \(n) is below the image base"
            case let .overlap(a, b): return "sections \(a) and \(b) overlap"
            case let .unknownLink(n): return "sh_link names unknown section \(n)"
            case let .segmentBelowBase(t): return "segment of type 0x\(String(t, radix: 16)) is below the image base"
            }
        }
    }

    public var type: UInt16
    public var machine: UInt16
    public var entry: UInt64
    /// The address of file offset 0.
    public var baseAddress: UInt64
    public var sections: [Section] = []
    public var segments: [Segment] = []

    public init(type: UInt16 = ELF.etDyn, machine: UInt16 = ELF.emX86_64, entry: UInt64 = 0, baseAddress: UInt64) {
        self.type = type
        self.machine = machine
        self.entry = entry
        self.baseAddress = baseAddress
    }

    /// The file offset the first allocated section may use (after the ELF and program headers).
    public var headersEnd: Int { ELF.headerSize + segments.count * ELF.programHeaderSize }

    /// Where each section landed, by name, after `build()`.
    public struct Layout: Sendable {
        public var bytes: [UInt8]
        public var sectionOffsets: [String: Int]
        public var sectionHeaderOffset: Int
    }

    public func build() throws -> Layout {
        // Occupied file ranges, to place the movable parts in the gaps.
        var used: [(range: Range<Int>, name: String)] = [(0..<headersEnd, "ELF header")]
        var offsets = [Int](repeating: 0, count: sections.count)
        for (i, s) in sections.enumerated() where s.isAllocated {
            guard s.address >= baseAddress else { throw BuildError.sectionBelowBase(s.name) }
            let off = Int(s.address - baseAddress)
            offsets[i] = off
            let range = off..<(off + Int(s.fileSize))
            if !range.isEmpty {
                if let clash = used.first(where: { $0.range.overlaps(range) }) {
                    throw BuildError.overlap(clash.name, s.name)
                }
                used.append((range, s.name))
            }
        }
        func place(size: Int, alignment: Int, name: String) -> Int {
            let a = max(alignment, 1)
            let sorted = used.map(\.range).sorted { $0.lowerBound < $1.lowerBound }
            var candidate = 0
            for r in sorted {
                let aligned = (candidate + a - 1) / a * a
                if aligned + size <= r.lowerBound { break }
                candidate = max(candidate, r.upperBound)
            }
            let off = (candidate + a - 1) / a * a
            used.append((off..<(off + size), name))
            return off
        }
        // Section names.
        var shstrtab = ByteWriter()
        shstrtab.u8(0)
        var nameOffsets: [UInt32] = []
        for s in sections {
            nameOffsets.append(UInt32(shstrtab.count))
            shstrtab.cString(s.name)
        }
        let shstrtabNameOffset = UInt32(shstrtab.count)
        shstrtab.cString(".shstrtab")
        for (i, s) in sections.enumerated() where !s.isAllocated && s.fileSize > 0 {
            offsets[i] = place(size: Int(s.fileSize), alignment: Int(s.alignment), name: s.name)
        }
        let shstrtabOffset = place(size: shstrtab.count, alignment: 1, name: ".shstrtab")
        let sectionCount = sections.count + 2  // null + sections + .shstrtab
        let shoff = place(size: sectionCount * ELF.sectionHeaderSize, alignment: 8, name: "section headers")

        let fileEnd = used.map(\.range.upperBound).max() ?? headersEnd
        var out = [UInt8](repeating: 0, count: fileEnd)
        func put(_ b: [UInt8], at off: Int) {
            out.replaceSubrange(off..<(off + b.count), with: b)
        }

        var h = ByteWriter()
        h.append(contentsOf: ELF.magic)
        h.u8(ELF.classELF64); h.u8(ELF.dataLSB); h.u8(ELF.versionCurrent); h.u8(0)  // ELFOSABI_NONE
        h.zeros(8)
        h.u16(type); h.u16(machine); h.u32(1); h.u64(entry)
        h.u64(segments.isEmpty ? 0 : UInt64(ELF.headerSize)); h.u64(UInt64(shoff))
        h.u32(0)
        h.u16(UInt16(ELF.headerSize)); h.u16(UInt16(ELF.programHeaderSize)); h.u16(UInt16(segments.count))
        h.u16(UInt16(ELF.sectionHeaderSize)); h.u16(UInt16(sectionCount)); h.u16(UInt16(sectionCount - 1))
        put(h.bytes, at: 0)

        var p = ByteWriter()
        for seg in segments {
            guard seg.address >= baseAddress else { throw BuildError.segmentBelowBase(seg.type) }
            p.u32(seg.type); p.u32(seg.flags); p.u64(seg.address - baseAddress)
            p.u64(seg.address); p.u64(seg.address); p.u64(seg.fileSize); p.u64(seg.memorySize); p.u64(seg.alignment)
        }
        put(p.bytes, at: ELF.headerSize)

        for (i, s) in sections.enumerated() where s.fileSize > 0 { put(s.contents, at: offsets[i]) }
        put(shstrtab.bytes, at: shstrtabOffset)

        var sh = ByteWriter()
        sh.zeros(ELF.sectionHeaderSize)
        var sectionOffsets: [String: Int] = [:]
        for (i, s) in sections.enumerated() {
            var link: UInt32 = 0
            if let l = s.link {
                guard let j = sections.firstIndex(where: { $0.name == l }) else { throw BuildError.unknownLink(l) }
                link = UInt32(j + 1)
            }
            sectionOffsets[s.name] = offsets[i]
            sh.u32(nameOffsets[i]); sh.u32(s.type); sh.u64(s.flags); sh.u64(s.isAllocated ? s.address : 0)
            sh.u64(UInt64(offsets[i])); sh.u64(s.type == ELF.shtNobits ? s.nobitsSize : s.fileSize)
            sh.u32(link); sh.u32(s.info); sh.u64(s.alignment); sh.u64(s.entrySize)
        }
        sh.u32(shstrtabNameOffset); sh.u32(ELF.shtStrtab); sh.u64(0); sh.u64(0)
        sh.u64(UInt64(shstrtabOffset)); sh.u64(UInt64(shstrtab.count)); sh.u32(0); sh.u32(0); sh.u64(1); sh.u64(0)
        put(sh.bytes, at: shoff)
        return Layout(bytes: out, sectionOffsets: sectionOffsets, sectionHeaderOffset: shoff)
    }
}
