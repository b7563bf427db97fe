// CoreWriter: a core of a live process without the kernel's core_pattern (vunwind gcore):
// every thread, the notes the kernel writes (NT_PRSTATUS per thread with its NT_FPREGSET
// and NT_X86_XSTATE, NT_PRPSINFO, one NT_SIGINFO, NT_AUXV, NT_FILE), and the memory the
// kernel's default coredump_filter (0x33) keeps:
// - anonymous memory, private and shared (heap, stacks, a vunwind page, memfd, shmem);
// - private file mappings with written (copy-on-write) pages, whole;
// - the first page of every other file mapping that starts with an ELF header (where
//   build-ids and program headers are, so a debugger can match files);
// - the vDSO and vvar; the legacy [vsyscall] page as a page of zeros (execute-only: nothing
//   can read it), as the kernel writes it;
// - nothing of MADV_DONTDUMP or unreadable (PROT_NONE) mappings.
// Memory is streamed from /proc/PID/mem in 1 MiB pieces, never held whole; a page that
// cannot be read is written as zeros.
//
// The threads must be stopped and traced by the calling thread: `write` attaches to the
// ones that are not (`alreadyStopped` names those the caller stopped itself, e.g. a helper
// it runs under ptrace and holds at its fault) and detaches only from those it attached.

import Bytes
import CVunwind
import ELF
import Unwind
#if canImport(Glibc)
import Glibc
#endif

public enum CoreWriter {
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    public struct Summary: Sendable, Equatable {
        public var threads: Int
        public var segments: Int
        public var dumpedBytes: UInt64
    }

    struct ThreadState {
        var tid: pid_t
        var registers: [UInt64]
        var fpregs: [UInt8]
        var xstate: [UInt8]?
        var siginfo: [UInt8]  // 128 bytes
        var signal: Int32
    }

    @discardableResult
    public static func write(pid: pid_t, to path: String, alreadyStopped: Set<pid_t> = []) throws(Failure) -> Summary {
        var attached: [pid_t] = []
        defer { for t in attached { _ = vu_ptrace_detach(t, 0) } }
        let tids = try taskIDs(pid)
        for tid in tids where !alreadyStopped.contains(tid) {
            guard vu_ptrace_attach(tid) == 0 else {
                throw Failure(message: "cannot attach to thread \(tid) of \(pid): \(String(cString: strerror(errno)))")
            }
            attached.append(tid)
            var status: Int32 = 0
            while waitpid(tid, &status, __WALL) < 0 {
                guard errno == EINTR else { throw Failure(message: "waitpid(\(tid)): \(String(cString: strerror(errno)))") }
            }
        }
        var threads: [ThreadState] = []
        for tid in tids { threads.append(try state(tid)) }
        // The kernel's order: the thread that took the signal first (its group carries
        // NT_SIGINFO); a thread stopped by a fault or abort before one stopped by us.
        let stopper: Set<Int32> = [SIGSTOP, SIGTRAP, 0]
        if let k = threads.firstIndex(where: { !stopper.contains($0.signal) }), k != 0 {
            threads.swapAt(0, k)
        }
        let map: MemoryMap
        do { map = try MemoryMap.readDetailed(pid: pid) } catch {
            throw Failure(message: "cannot read /proc/\(pid)/smaps: \(error)")
        }
        return try writeCore(pid: pid, threads: threads, map: map, to: path)
    }

    static func taskIDs(_ pid: pid_t) throws(Failure) -> [pid_t] {
        guard let dir = opendir("/proc/\(pid)/task") else {
            throw Failure(message: "no process \(pid): \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var out: [pid_t] = []
        while let e = readdir(dir) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if let t = pid_t(name) { out.append(t) }
        }
        // The main thread first, then by id: a stable order.
        return out.sorted { ($0 == pid ? 0 : 1, $0) < ($1 == pid ? 0 : 1, $1) }
    }

    static func state(_ tid: pid_t) throws(Failure) -> ThreadState {
        var regs = user_regs_struct()
        guard vu_ptrace_getregs(tid, &regs) == 0 else {
            throw Failure(message: "PTRACE_GETREGS \(tid): \(String(cString: strerror(errno)))")
        }
        let words = withUnsafeBytes(of: &regs) { raw in (0..<27).map { raw.load(fromByteOffset: $0 * 8, as: UInt64.self) } }
        var fp = [UInt8](repeating: 0, count: 512)
        _ = fp.withUnsafeMutableBytes { vu_ptrace_getfpregs(tid, $0.baseAddress) }
        var xs = [UInt8](repeating: 0, count: 16384)
        var size = xs.count
        let haveX = xs.withUnsafeMutableBytes { vu_ptrace_getregset(tid, 0x202, $0.baseAddress, &size) } == 0
        var si = [UInt8](repeating: 0, count: 128)
        _ = si.withUnsafeMutableBytes { vu_ptrace_getsiginfo(tid, $0.baseAddress) }
        let signal = si.withUnsafeBytes { $0.load(as: Int32.self) }
        return ThreadState(tid: tid, registers: words, fpregs: fp, xstate: haveX ? Array(xs.prefix(size)) : nil,
                           siginfo: si, signal: signal)
    }

    // MARK: Layout

    struct Segment {
        var mapping: MemoryMapping
        var fileSize: UInt64
        var offset: UInt64 = 0
        /// Zeros instead of reading (the execute-only legacy page).
        var zeros = false
    }

    static let page: UInt64 = 4096

    static func segments(_ map: MemoryMap, memory: ProcessMemoryReader) -> [Segment] {
        map.mappings.map { m in
            let size = m.end - m.start
            var s = Segment(mapping: m, fileSize: 0)
            if m.path == "[vsyscall]" {
                s.fileSize = size
                s.zeros = true
                return s
            }
            if m.vmFlags?.contains("dd") == true || !m.readable { return s }
            let fileBacked = m.path.hasPrefix("/") && !m.path.hasPrefix("/dev/zero") && !m.path.hasPrefix("/memfd:")
                && !m.path.hasPrefix("/SYSV") && !(m.shared && m.path.hasSuffix(" (deleted)"))
            if !fileBacked || m.path == "[vdso]" || m.path == "[vvar]" {
                s.fileSize = size  // anonymous, shared memory, the vDSO and its data
            } else if !m.shared && (m.anonymousBytes ?? 0) > 0 {
                s.fileSize = size  // written private file pages: the kernel dumps the whole mapping
            } else if m.offset == 0, (try? memory.fetchBytes(from: m.start, count: 4)) == ELF.magic {
                s.fileSize = min(size, page)
            }
            return s
        }
    }

    static func writeCore(pid: pid_t, threads: [ThreadState], map: MemoryMap, to path: String) throws(Failure) -> Summary {
        let memory = ProcessMemoryReader(pid: pid)
        var segs = segments(map, memory: memory)
        let notes = noteBytes(pid: pid, threads: threads, map: map)
        let phnum = 1 + segs.count
        guard phnum < 0xffff else { throw Failure(message: "\(segs.count) mappings: more than one ELF core can describe") }
        let notesOffset = UInt64(ELF.headerSize + phnum * ELF.programHeaderSize)
        var cursor = (notesOffset + UInt64(notes.count) + page - 1) / page * page
        // Every segment gets the running offset, an empty one too, as the kernel writes
        // them: libdwfl maps file offsets back to segments and is confused by offset 0.
        for i in segs.indices {
            segs[i].offset = cursor
            cursor += segs[i].fileSize
        }
        var w = ByteWriter()
        // ELF header (gABI): ET_CORE, EM_X86_64, no sections.
        w.append(contentsOf: ELF.magic)
        w.u8(ELF.classELF64); w.u8(ELF.dataLSB); w.u8(ELF.versionCurrent); w.u8(0)
        w.append(contentsOf: [UInt8](repeating: 0, count: 8))
        w.u16(ELF.etCore); w.u16(ELF.emX86_64); w.u32(1)
        w.u64(0); w.u64(UInt64(ELF.headerSize)); w.u64(0)
        w.u32(0); w.u16(UInt16(ELF.headerSize)); w.u16(UInt16(ELF.programHeaderSize)); w.u16(UInt16(phnum))
        w.u16(UInt16(ELF.sectionHeaderSize)); w.u16(0); w.u16(0)
        // PT_NOTE, then one PT_LOAD per mapping.
        w.u32(ELF.ptNote); w.u32(0); w.u64(notesOffset); w.u64(0); w.u64(0)
        w.u64(UInt64(notes.count)); w.u64(0); w.u64(4)
        for s in segs {
            let m = s.mapping
            let flags = (m.readable ? ELF.pfR : 0) | (m.writable ? ELF.pfW : 0) | (m.executable ? ELF.pfX : 0)
            w.u32(ELF.ptLoad); w.u32(flags); w.u64(s.offset); w.u64(m.start); w.u64(0)
            w.u64(s.fileSize); w.u64(m.end - m.start); w.u64(page)
        }
        w.append(contentsOf: notes)

        var rng = SystemRandomNumberGenerator()
        let temporary = "\(path).vunwind-\(getpid())-\(String(rng.next() as UInt64, radix: 16))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure(message: "\(temporary): \(String(cString: strerror(errno)))") }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temporary) }
        }
        try put(fd, w.bytes, at: 0, path: temporary)
        var dumped: UInt64 = 0
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        for s in segs where s.fileSize > 0 {
            var done: UInt64 = 0
            while done < s.fileSize {
                let n = Int(min(UInt64(chunk.count), s.fileSize - done))
                let address = s.mapping.start + done
                let filled: Bool = s.zeros ? false : chunk.withUnsafeMutableBytes { buf in
                    (try? memory.fetch(from: address, into: UnsafeMutableRawBufferPointer(rebasing: buf[0..<n]))) != nil
                }
                if !filled {
                    // Page by page: what cannot be read is zeros, the rest is kept.
                    for p in stride(from: 0, to: n, by: Int(page)) {
                        let m = min(Int(page), n - p)
                        let read = !s.zeros && chunk.withUnsafeMutableBytes { buf in
                            (try? memory.fetch(from: address + UInt64(p), into: UnsafeMutableRawBufferPointer(rebasing: buf[p..<(p + m)]))) != nil
                        }
                        if !read { for k in p..<(p + m) { chunk[k] = 0 } }
                    }
                }
                try put(fd, chunk, count: n, at: s.offset + done, path: temporary)
                done += UInt64(n)
            }
            dumped += s.fileSize
        }
        guard rename(temporary, path) == 0 else { throw Failure(message: "\(path): \(String(cString: strerror(errno)))") }
        ok = true
        return Summary(threads: threads.count, segments: segs.count, dumpedBytes: dumped)
    }

    static func put(_ fd: Int32, _ bytes: [UInt8], count: Int? = nil, at offset: UInt64, path: String) throws(Failure) {
        let total = count ?? bytes.count
        var written = 0
        while written < total {
            let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + written, total - written, off_t(offset) + off_t(written)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Failure(message: "\(path): \(String(cString: strerror(errno)))") }
            written += n
        }
    }

    // MARK: Notes

    static func note(_ w: inout ByteWriter, name: String, type: UInt32, _ desc: [UInt8]) {
        w.u32(UInt32(name.utf8.count + 1)); w.u32(UInt32(desc.count)); w.u32(type)
        w.cString(name)
        w.align(to: 4)
        w.append(contentsOf: desc)
        w.align(to: 4)
    }

    /// Fields after the command name in /proc/PID/stat (which may contain spaces).
    static func statFields(_ pid: pid_t) -> [Substring] {
        guard let bytes = try? readProc("/proc/\(pid)/stat") else { return [] }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return [] }
        return text[text.index(after: close)...].split(separator: " ")
    }

    static func readProc(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(message: path) }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while out.count < 64 << 20 {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    static func noteBytes(pid: pid_t, threads: [ThreadState], map: MemoryMap) -> [UInt8] {
        let f = statFields(pid)  // state ppid pgrp session ...
        let state = f.first?.utf8.first ?? UInt8(ascii: "t")
        let ppid = f.count > 1 ? Int32(f[1]) ?? 0 : 0
        let pgrp = f.count > 2 ? Int32(f[2]) ?? 0 : 0
        let sid = f.count > 3 ? Int32(f[3]) ?? 0 : 0
        var w = ByteWriter()
        for (i, t) in threads.enumerated() {
            // elf_prstatus
            var s = [UInt8](repeating: 0, count: CoreThread.prstatusSize)
            func put(_ bytes: [UInt8], _ at: Int) { s.replaceSubrange(at..<(at + bytes.count), with: bytes) }
            put(le(t.signal), 0)
            put(Array(t.siginfo[8..<12]), 4)  // si_code
            put(Array(t.siginfo[4..<8]), 8)   // si_errno
            put(le(Int16(truncatingIfNeeded: t.signal)), 12)
            put(le(Int32(t.tid)), 32); put(le(ppid), 36); put(le(pgrp), 40); put(le(sid), 44)
            put(t.registers.flatMap { le($0) }, CoreThread.registersOffset)
            put(le(Int32(1)), 328)  // pr_fpvalid
            note(&w, name: "CORE", type: ELF.ntPrstatus, s)
            if i == 0 {
                // elf_prpsinfo
                var p = [UInt8](repeating: 0, count: 136)
                let letters: [UInt8: UInt8] = [UInt8(ascii: "R"): 0, UInt8(ascii: "S"): 1, UInt8(ascii: "D"): 2,
                                               UInt8(ascii: "T"): 4, UInt8(ascii: "t"): 8, UInt8(ascii: "Z"): 16]
                p[0] = letters[state] ?? 0
                p[1] = state
                let comm = (try? readProc("/proc/\(pid)/comm")) ?? []
                let name = Array(comm.prefix { $0 != 10 }.prefix(15))
                p.replaceSubrange(40..<(40 + name.count), with: name)
                var args = Array(((try? readProc("/proc/\(pid)/cmdline")) ?? []).prefix(79))
                for k in args.indices where args[k] == 0 { args[k] = 32 }
                while args.last == 32 { args.removeLast() }
                p.replaceSubrange(56..<(56 + args.count), with: args)
                p.replaceSubrange(24..<28, with: le(Int32(pid)))
                p.replaceSubrange(28..<32, with: le(ppid)); p.replaceSubrange(32..<36, with: le(pgrp))
                p.replaceSubrange(36..<40, with: le(sid))
                note(&w, name: "CORE", type: ELF.ntPrpsinfo, p)
                note(&w, name: "CORE", type: ELF.ntSiginfo, t.siginfo)
                note(&w, name: "CORE", type: ELF.ntAuxv, (try? readProc("/proc/\(pid)/auxv")) ?? [])
                note(&w, name: "CORE", type: ELF.ntFile, fileNote(map))
            }
            note(&w, name: "CORE", type: ELF.ntPrfpreg, t.fpregs)
            if let x = t.xstate { note(&w, name: "LINUX", type: ELF.ntX86Xstate, x) }
        }
        return w.bytes
    }

    /// NT_FILE: every mapping of a file (shared memory included, as the kernel lists it).
    static func fileNote(_ map: MemoryMap) -> [UInt8] {
        let files = map.mappings.filter { $0.path.hasPrefix("/") }
        var w = ByteWriter()
        w.u64(UInt64(files.count)); w.u64(page)
        for m in files { w.u64(m.start); w.u64(m.end); w.u64(m.offset / page) }
        for m in files { w.cString(m.path) }
        return w.bytes
    }
}
