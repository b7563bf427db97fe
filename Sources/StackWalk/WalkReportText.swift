// WalkReportText: the report for people: the matrix, then each failure.

public enum WalkReportText {
    public static func render(_ report: WalkReport) -> String {
        let header = ["walker", "subject", "path", "instructions", "stops", "passed", "failed", "expected"]
        let rows = report.cells.map { c in
            [c.walker, c.subject, c.path, String(c.instructions), String(c.stops), String(c.passed), String(c.failed), String(c.expected)]
        }
        var widths = header.map(\.count)
        for r in rows { for (i, v) in r.enumerated() { widths[i] = max(widths[i], v.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, v in
                let pad = String(repeating: " ", count: widths[i] - v.count)
                return i >= 3 ? pad + v : v + pad
            }.joined(separator: "  ").trimmingTrailingSpaces() + "\n"
        }
        var out = line(header)
        for r in rows { out += line(r) }
        let failed = report.cells.reduce(0) { $0 + $1.failed }
        out += "\n\(report.cells.reduce(0) { $0 + $1.stops }) stops judged, \(failed) unexpected\n"
        for skip in report.skipped {
            out += "skipped: \(skip.walker) on \(skip.subject): \(skip.reason)\n"
        }
        if !report.failures.isEmpty {
            out += "\nfailures (at most a few per cell):\n"
            for f in report.failures {
                out += "  \(f.walker) \(f.subject) \(f.path) stop \(f.stop) at \(f.address) \(f.function)+0x\(String(f.offset, radix: 16)) "
                    + "(\(f.instruction)): \(f.field): expected \(f.expected), got \(f.actual)\n"
            }
        }
        return out
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
