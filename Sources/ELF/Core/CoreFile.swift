// CoreFile: an ELF core dump read through a ByteSource, never loaded whole: its program
// headers, its notes (threads, process, signal, auxv, mapped files) streamed from the
// PT_NOTE segments, and its memory as a CoreMemory over the PT_LOAD segments.
//
// Every count and size comes from an untrusted file: each is checked against the bytes
// really present, and against a named limit, before anything is allocated for it. Notes
// vunwind does not interpret are not read at all (a rewriter copies them byte for byte).

import Bytes

public struct CoreFile: Sendable {
    public struct Limits: Sendable, Equatable {
        public var maxNotes: Int
        public var maxThreads: Int
        /// NT_FILE and NT_AUXV descriptors larger than this are refused.
        public var maxFileNoteBytes: UInt64
        public var maxAuxvBytes: UInt64

        public init(maxNotes: Int = 1 << 18, maxThreads: Int = 1 << 16, maxFileNoteBytes: UInt64 = 64 << 20,
                    maxAuxvBytes: UInt64 = 1 << 16) {
            self.maxNotes = maxNotes
            self.maxThreads = maxThreads
            self.maxFileNoteBytes = maxFileNoteBytes
            self.maxAuxvBytes = maxAuxvBytes
        }

        public static let `default` = Limits()
    }

    public let source: any ByteSource
    public let elf: ELFFile
    public let threads: [CoreThread]
    public let process: CoreProcessInfo?
    /// NT_AUXV as (type, value) pairs.
    public let auxiliaryVector: [(type: UInt64, value: UInt64)]
    /// NT_FILE: the file-backed mappings.
    public let fileMappings: [CoreFileMapping]
    /// The process-wide NT_SIGINFO (the kernel writes one, in the first thread's group).
    public var signalInfo: CoreSignalInfo? { threads.lazy.compactMap(\.signalInfo).first }
    public let memory: CoreMemory
    /// Notes seen, of any type.
    public let noteCount: Int

    public init(source: any ByteSource, limits: Limits = .default) throws {
        self.source = source
        let elf = try ELFFile(source: source)
        self.elf = elf
        guard elf.header.type == ELF.etCore else {
            throw ELFError(offset: 16, reason: .notACore("e_type is \(elf.header.type), not ET_CORE (4)"))
        }
        guard elf.header.machine == ELF.emX86_64 else {
            throw ELFError(offset: 18, reason: .notACore("e_machine is \(elf.header.machine), not x86-64 (62)"))
        }
        var reader = NoteReader(source: source, limits: limits)
        for (index, p) in elf.programHeaders.enumerated() where p.type == ELF.ptNote {
            guard source.contains(offset: p.offset, count: p.fileSize) else { throw elf.segmentError(p) }
            _ = index
            try reader.read(offset: p.offset, size: p.fileSize)
        }
        threads = reader.threads
        process = reader.process
        auxiliaryVector = reader.auxv
        fileMappings = reader.files
        noteCount = reader.count
        memory = CoreMemory(source: source, programHeaders: elf.programHeaders)
    }

    /// An auxv value (AT_SYSINFO_EHDR = 33, AT_ENTRY = 9, AT_PHDR = 3, AT_EXECFN = 31).
    public func auxv(_ type: UInt64) -> UInt64? { auxiliaryVector.first { $0.type == type }?.value }

    public static let atPhdr: UInt64 = 3
    public static let atEntry: UInt64 = 9
    public static let atExecfn: UInt64 = 31
    public static let atSysinfoEhdr: UInt64 = 33
}

/// Streams the notes of PT_NOTE segments through a small window of the file.
struct NoteReader {
    let source: any ByteSource
    let limits: CoreFile.Limits
    var threads: [CoreThread] = []
    var process: CoreProcessInfo?
    var auxv: [(type: UInt64, value: UInt64)] = []
    var files: [CoreFileMapping] = []
    var count = 0
    /// The last 64 KiB read, so 10^5 note headers cost a few dozen preads.
    var window: (offset: UInt64, bytes: [UInt8]) = (0, [])

    init(source: any ByteSource, limits: CoreFile.Limits) {
        self.source = source
        self.limits = limits
    }

    mutating func bytes(at offset: UInt64, count n: Int) throws -> ArraySlice<UInt8> {
        let w = window
        if offset >= w.offset, offset - w.offset + UInt64(n) <= UInt64(w.bytes.count) {
            let s = Int(offset - w.offset)
            return w.bytes[s..<(s + n)]
        }
        let want = max(UInt64(n), min(1 << 16, source.size - offset))
        window = (offset, try source.bytes(at: offset, count: want))
        return window.bytes[0..<n]
    }

    func u32(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt32 {
        let i = b.startIndex + at
        return UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    func u64(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt64 { UInt64(u32(b, at)) | UInt64(u32(b, at + 4)) << 32 }

    func error(_ at: UInt64, _ why: String) -> ELFError { ELFError(offset: at, reason: .badNote(why)) }

    mutating func read(offset start: UInt64, size: UInt64) throws {
        let end = start + size  // the caller checked the segment against the file
        var at = start
        // Core notes are 4-byte aligned (the kernel's and gdb's alike).
        func align4(_ v: UInt64) -> UInt64 { (v + 3) & ~3 }
        while end - at >= 12 {
            guard count < limits.maxNotes else { throw error(at, "more than \(limits.maxNotes) notes") }
            count += 1
            let h = try bytes(at: at, count: 12)
            let namesz = UInt64(u32(h, 0)), descsz = UInt64(u32(h, 4)), type = u32(h, 8)
            let nameStart = at + 12
            guard namesz <= end - nameStart, align4(namesz) <= end - nameStart else {
                throw error(at, "name size \(namesz) exceeds the note area")
            }
            let descStart = nameStart + align4(namesz)
            guard descsz <= end - descStart else {
                throw error(at, "descriptor size \(descsz) exceeds the note area")
            }
            let name = namesz > 64 ? "" : String(decoding: try bytes(at: nameStart, count: Int(namesz)).prefix { $0 != 0 },
                                                   as: UTF8.self)
            try take(name: name, type: type, at: at, descriptor: descStart, size: descsz)
            at = descStart + descsz
            at = min(end, align4(at))
        }
    }

    mutating func take(name: String, type: UInt32, at: UInt64, descriptor d: UInt64, size: UInt64) throws {
        let record = CoreNoteRecord(name: name, type: type, descriptorOffset: d, descriptorSize: size)
        switch (name, type) {
        case ("CORE", ELF.ntPrstatus):
            guard size == UInt64(CoreThread.prstatusSize) else {
                throw error(at, "NT_PRSTATUS is \(size) bytes, not \(CoreThread.prstatusSize) (an x86-64 core)")
            }
            guard threads.count < limits.maxThreads else { throw error(at, "more than \(limits.maxThreads) threads") }
            let b = try bytes(at: d, count: CoreThread.prstatusSize)
            let regs = (0..<CoreThread.registerWords).map { u64(b, CoreThread.registersOffset + 8 * $0) }
            threads.append(CoreThread(
                tid: Int32(bitPattern: u32(b, 32)), currentSignal: Int16(bitPattern: UInt16(u32(b, 12) & 0xffff)),
                infoSignal: Int32(bitPattern: u32(b, 0)), infoCode: Int32(bitPattern: u32(b, 4)), registers: regs,
                registersFileOffset: d + UInt64(CoreThread.registersOffset), statusFileOffset: d, otherNotes: [],
                signalInfo: nil))
        case ("CORE", ELF.ntPrpsinfo):
            guard size >= 136 else { throw error(at, "NT_PRPSINFO is \(size) bytes, not 136") }
            let b = try bytes(at: d, count: 136)
            func text(_ from: Int, _ n: Int) -> String {
                printableText(b[(b.startIndex + from)..<(b.startIndex + from + n)].prefix { $0 != 0 })
            }
            process = CoreProcessInfo(pid: Int32(bitPattern: u32(b, 24)), name: text(40, 16), arguments: text(56, 80))
        case ("CORE", ELF.ntSiginfo):
            guard size >= 24 else { throw error(at, "NT_SIGINFO is \(size) bytes, too short for a siginfo_t") }
            let b = try bytes(at: d, count: 24)
            let info = CoreSignalInfo(signal: Int32(bitPattern: u32(b, 0)), errno: Int32(bitPattern: u32(b, 4)),
                                      code: Int32(bitPattern: u32(b, 8)), address: u64(b, 16))
            if threads.isEmpty { throw error(at, "NT_SIGINFO before any NT_PRSTATUS") }
            threads[threads.count - 1].signalInfo = info
        case ("CORE", ELF.ntAuxv):
            guard size <= limits.maxAuxvBytes else { throw error(at, "NT_AUXV is \(size) bytes, more than \(limits.maxAuxvBytes)") }
            let b = try source.bytes(at: d, count: size)
            var i = 0
            while i + 16 <= b.count {
                let t = u64(b[...], i), v = u64(b[...], i + 8)
                if t == 0 { break }
                auxv.append((t, v))
                i += 16
            }
        case ("CORE", ELF.ntFile):
            guard size <= limits.maxFileNoteBytes else {
                throw error(at, "NT_FILE is \(size) bytes, more than \(limits.maxFileNoteBytes)")
            }
            files = try Self.fileMappings(try source.bytes(at: d, count: size), origin: d)
        default:
            if !threads.isEmpty { threads[threads.count - 1].otherNotes.append(record) }
        }
    }

    /// NT_FILE: u64 count, u64 page size, count x (start, end, page offset), count paths.
    static func fileMappings(_ b: [UInt8], origin: UInt64) throws -> [CoreFileMapping] {
        var r = ByteReader(b, origin: origin)
        let count = try r.u64()
        let pageSize = try r.u64()
        guard count <= UInt64(r.remaining / 24) else {
            throw ELFError(offset: origin, reason: .badNote("NT_FILE claims \(count) mappings in \(b.count) bytes"))
        }
        guard pageSize > 0, pageSize.nonzeroBitCount == 1 else {
            throw ELFError(offset: origin + 8, reason: .badNote("NT_FILE page size \(pageSize) is not a power of two"))
        }
        var ranges: [(UInt64, UInt64, UInt64)] = []
        for _ in 0..<count { ranges.append((try r.u64(), try r.u64(), try r.u64())) }
        var out: [CoreFileMapping] = []
        for (start, end, page) in ranges {
            let path = try r.cString()
            let (offset, over) = page.multipliedReportingOverflow(by: pageSize)
            guard !over, start <= end else {
                throw ELFError(offset: r.offset, reason: .badNote("NT_FILE mapping of \(printableText(path)) is malformed"))
            }
            out.append(CoreFileMapping(start: start, end: end, fileOffset: offset, path: String(decoding: path, as: UTF8.self)))
        }
        return out
    }
}
