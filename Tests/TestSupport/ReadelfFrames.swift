// ReadelfFrames: parses the text of `readelf --debug-dump=frames-interp` (and of
// `vunwind cfi --rows`, which uses the same layout) into comparable tables.
//
// Normalization, applied to both sides alike: a cell "u" (undefined or unspecified) is the
// same as no rule; rows at or past the FDE's end are dropped; a row with the same rules as
// the one before it is merged into it.

public struct FrameListing: Equatable {
    public struct Row: Equatable, CustomStringConvertible {
        public var location: UInt64
        public var cfa: String
        public var cells: [String: String]
        public var description: String {
            "\(String(location, radix: 16)) \(cfa) " + cells.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
        }
    }

    public struct Entry: Equatable {
        public var isFDE: Bool
        public var cieOffset: Int
        public var pcBegin: UInt64
        public var pcEnd: UInt64
        public var header: String
        public var rows: [Row]
    }

    /// Keyed by section name and entry offset.
    public var entries: [String: [Int: Entry]] = [:]
    public var entryCount: Int { entries.values.reduce(0) { $0 + $1.count } }

    public init(text: String) {
        var section = ""
        var current: (String, Int)?
        var columns: [String] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("Contents of the ") {
                section = String(line.dropFirst("Contents of the ".count).split(separator: " ").first ?? "")
                current = nil
                continue
            }
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 4, fields[0].count == 8, let off = Int(fields[0], radix: 16),
               fields[3] == "CIE" || fields[3] == "FDE" {
                var e = Entry(isFDE: fields[3] == "FDE", cieOffset: 0, pcBegin: 0, pcEnd: 0,
                              header: trim(line), rows: [])
                if e.isFDE {
                    for f in fields.dropFirst(4) {
                        if f.hasPrefix("cie=") { e.cieOffset = Int(f.dropFirst(4), radix: 16) ?? -1 }
                        if f.hasPrefix("pc=") {
                            let parts = f.dropFirst(3).split(separator: ".", omittingEmptySubsequences: true)
                            if parts.count == 2 {
                                e.pcBegin = UInt64(parts[0], radix: 16) ?? 0
                                e.pcEnd = UInt64(parts[1], radix: 16) ?? 0
                            }
                        }
                    }
                }
                entries[section, default: [:]][off] = e
                current = (section, off)
                columns = []
                continue
            }
            guard let (sec, off) = current else { continue }
            if line.hasPrefix("   LOC") {
                columns = fields.dropFirst(2).map(String.init)
                continue
            }
            // A row: 16 hex digits, a space, the CFA padded to 9, then 6-wide cells.
            let chars = Array(line)
            guard chars.count >= 17, let loc = UInt64(String(chars[0..<16]), radix: 16) else { continue }
            let rest = Array(chars[17...])
            // The CFA is printed "%-8s ": a token without spaces, padded to 8.
            var cfaEnd = 0
            while cfaEnd < rest.count && rest[cfaEnd] != " " { cfaEnd += 1 }
            let cfa = String(rest[0..<cfaEnd])
            var cells: [String: String] = [:]
            // Cells are printed "%-5s ": a value, padded to 5, and a space. A register rule
            // "r5 (rdi)" is one value with a space in it.
            var i = max(cfaEnd, 8) + 1
            for c in columns {
                guard i < rest.count else { break }
                var j = i
                while j < rest.count && rest[j] != " " { j += 1 }
                if j + 1 < rest.count, rest[i] == "r", rest[j + 1] == "(" {
                    j += 1
                    while j < rest.count && rest[j] != ")" { j += 1 }
                    j = min(j + 1, rest.count)
                }
                let v = String(rest[i..<j])
                if v != "u" && !v.isEmpty { cells[c] = v }
                i += max(v.count, 5) + 1
            }
            entries[sec]?[off]?.rows.append(Row(location: loc, cfa: cfa, cells: cells))
        }
    }

    /// The entry's rows after normalization. An entry readelf printed no table for (all
    /// DW_CFA_nop) has its CIE's initial row at its first address.
    public func normalizedRows(section: String, offset: Int) -> [Row] {
        guard let e = entries[section]?[offset] else { return [] }
        var rows = e.rows
        if e.isFDE && rows.isEmpty, let cie = entries[section]?[e.cieOffset], let initial = cie.rows.last {
            rows = [Row(location: e.pcBegin, cfa: initial.cfa, cells: initial.cells)]
        }
        var out: [Row] = []
        for r in rows {
            if e.isFDE && r.location >= e.pcEnd { continue }
            if let last = out.last, last.cfa == r.cfa, last.cells == r.cells { continue }
            out.append(r)
        }
        return out
    }
}

func trim(_ s: String) -> String {
    var t = Substring(s)
    while t.first == " " { t = t.dropFirst() }
    while t.last == " " { t = t.dropLast() }
    return String(t)
}
