// The CFI benchmark: our reader and evaluator beside readelf and libdw, on one file
// (libc.so.6 by default), in the same run.
//
//   every row   the workload of the acceptance: parse every CIE and FDE and evaluate
//               every row. DwarfCFI does it in one pass (forEachRow); libdw has no such
//               API, so it computes the same rows by a lookup at each row's first address
//               (dwarf_cfi_addrframe + dwarf_frame_cfa + dwarf_frame_register 0-16);
//               readelf --debug-dump=frames-interp does it and prints it.
//   processes   vunwind cfi --rows against readelf, both printing to /dev/null: includes
//               each process's start-up (a Swift process starts in about 5 ms).
//   lookups     point lookups at the same addresses through CallFrameInfo.row(at:), with
//               its row cache (default) and without, against libdw: what an unwinder pays
//               per frame.

import Bytes
import CLibdw
import DwarfCFI
import ELF
import Unwind
#if canImport(Glibc)
import Glibc
#endif

struct CFIBenchmarkResult: Codable {
    var file: String
    var fdes: Int
    var rows: Int
    var table: [MeasuredCandidate]
    var lookups: [MeasuredCandidate]
    // Ratios are anchor median / ours: above 1 means we are faster.
    /// Every row: libdw's lookups against DwarfCFI's pass.
    var libdwRatio: Double
    /// Every row: readelf (a process) against DwarfCFI's pass.
    var readelfRatio: Double
    /// Process against process, both printing the table.
    var processRatio: Double
    /// Point lookups with our row cache (default configuration).
    var lookupRatio: Double
    /// Point lookups without it: replaying the FDE per lookup, as libdw does.
    var lookupRatioUncached: Double
}

enum CFIBenchmark {
    static func evaluateAll(_ bytes: [UInt8]) throws -> (fdes: Int, rows: Int, starts: [UInt64]) {
        let elf = try ELFFile(bytes: bytes)
        let sections = try ELFCallFrameSections(elf: elf)
        var fdes = 0, rows = 0
        var starts: [UInt64] = []
        for section in [sections.ehFrame, sections.debugFrame].compactMap({ $0 }) {
            var cies: [Int: CommonInformationEntry] = [:]
            try section.forEachEntry { entry in
                switch entry {
                case let .cie(c): cies[c.offset] = c
                case let .fde(f):
                    let cie = try cies[f.cieOffset] ?? section.cie(at: f.cieOffset)
                    fdes += 1
                    try UnwindTableBuilder.forEachRow(fde: f, cie: cie, section: section) { row in
                        rows += 1
                        starts.append(row.start)
                        return true
                    }
                case .terminator: break
                }
            }
        }
        return (fdes, rows, starts)
    }

    static func spawnQuietly(_ path: String, _ args: [String]) throws -> Int {
        let pid = try Spawner.spawn(path, args, quiet: true)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return Int(status)
    }

    static func run(file: String, vunwind: String, rounds: Int) throws -> CFIBenchmarkResult {
        let bytes = try readFile(file)
        let (fdes, rows, starts) = try evaluateAll(bytes)
        let readelf = ["/usr/bin/readelf", "/bin/readelf"].first { (p: String) in access(p, X_OK) == 0 } ?? "readelf"

        let table = try Measurement.interleaved([
            Candidate(name: "DwarfCFI: parse + evaluate every row") {
                try evaluateAll(try readFile(file)).rows
            },
            Candidate(name: "libdw: the same rows, one lookup each") {
                try libdwLookups(file: file, addresses: starts)
            },
            Candidate(name: "readelf --debug-dump=frames-interp (process)") {
                try spawnQuietly(readelf, ["--debug-dump=no-follow-links", "--debug-dump=frames-interp", file])
            },
            Candidate(name: "vunwind cfi --rows (process)") {
                try spawnQuietly(vunwind, ["cfi", "--rows", file])
            },
        ], rounds: rounds)

        func ours(cache: Int) throws -> Int {
            // Read as libdw does its side: only the CFI sections, not the whole file.
            let s = try ELFCallFrameSections(elf: try ELFFile(source: try FileByteSource(path: file)))
            let info = try CallFrameInfo(ehFrame: s.ehFrame, header: s.header, debugFrame: s.debugFrame,
                                         rowCacheCapacity: cache)
            var sum = 0
            for pc in starts {
                guard let (row, _) = try info.row(at: pc) else { continue }
                // What libdw's side reads: the CFA rule and the rule of registers 0-16.
                if case let .registerOffset(register, offset) = row.cfa { sum &+= Int(register) &+ Int(truncatingIfNeeded: offset) }
                let rules = row.registers
                sum &+= rules.count
                for r in UInt16(0)...16 where rules[r] != nil { sum &+= 1 }
            }
            return sum
        }
        let lookups = try Measurement.interleaved([
            Candidate(name: "DwarfCFI CallFrameInfo.row(at:), row cache (default)") { try ours(cache: 256) },
            Candidate(name: "DwarfCFI CallFrameInfo.row(at:), no row cache") { try ours(cache: 0) },
            Candidate(name: "libdw dwarf_cfi_addrframe + frame_cfa + frame_register") {
                try libdwLookups(file: file, addresses: starts)
            },
        ], rounds: rounds)

        func ratio(_ anchor: MeasuredCandidate, _ ours: MeasuredCandidate) -> Double {
            Double(anchor.medianNanoseconds) / Double(ours.medianNanoseconds)
        }
        return CFIBenchmarkResult(file: file, fdes: fdes, rows: rows, table: table, lookups: lookups,
                                  libdwRatio: ratio(table[1], table[0]), readelfRatio: ratio(table[2], table[0]),
                                  processRatio: ratio(table[2], table[3]),
                                  lookupRatio: ratio(lookups[2], lookups[0]),
                                  lookupRatioUncached: ratio(lookups[2], lookups[1]))
    }

    static func libdwLookups(file: String, addresses: [UInt64]) throws -> Int {
        elf_version(UInt32(EV_CURRENT))
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError(call: "open \(file)", errno: errno) }
        defer { close(fd) }
        guard let elf = elf_begin(fd, ELF_C_READ_MMAP, nil) else { throw FileReadError(message: "libdw cannot read the file") }
        defer { elf_end(elf) }
        guard let cfi = dwarf_getcfi_elf(elf) else { throw FileReadError(message: "libdw finds no CFI") }
        defer { dwarf_cfi_end(cfi) }
        var sum = 0
        var mem = [Dwarf_Op](repeating: Dwarf_Op(), count: 3)
        for pc in addresses {
            var frame: OpaquePointer?
            guard dwarf_cfi_addrframe(cfi, pc, &frame) == 0, let frame else { continue }
            var ops: UnsafeMutablePointer<Dwarf_Op>?
            var n = 0
            _ = dwarf_frame_cfa(frame, &ops, &n)
            sum &+= n
            for r in Int32(0)...16 {
                var count = 0
                var regOps: UnsafeMutablePointer<Dwarf_Op>?
                mem.withUnsafeMutableBufferPointer { _ = dwarf_frame_register(frame, r, $0.baseAddress!, &regOps, &count) }
                sum &+= count
            }
            free(UnsafeMutableRawPointer(frame))
        }
        return sum
    }

    static func render(_ r: CFIBenchmarkResult) -> String {
        var out = "CFI: \(r.file): \(r.fdes) FDEs, \(r.rows) rows (medians of interleaved rounds, (min, max); ratio = anchor / ours)\n"
        func line(_ m: MeasuredCandidate, _ note: String = "") {
            let pad = String(repeating: " ", count: max(0, 58 - m.name.count))
            let spread = "(\(Measurement.milliseconds(m.minimumNanoseconds)), \(Measurement.milliseconds(m.maximumNanoseconds)))"
            out += "    \(m.name)\(pad)\(Measurement.milliseconds(m.medianNanoseconds)) ms \(spread)\(note)\n"
        }
        func x(_ v: Double) -> String { "  \(String(format2: v, 2))x" }
        out += "  every row of every FDE\n"
        line(r.table[0])
        line(r.table[1], x(r.libdwRatio))
        line(r.table[2], x(r.readelfRatio))
        out += "  as processes printing the table\n"
        line(r.table[3])
        line(r.table[2], x(r.processRatio))
        out += "  point lookups at the same addresses\n"
        line(r.lookups[0])
        line(r.lookups[1])
        line(r.lookups[2], x(r.lookupRatio) + " (no row cache:" + x(r.lookupRatioUncached) + ")")
        return out
    }
}
