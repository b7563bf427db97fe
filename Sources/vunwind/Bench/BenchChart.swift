// BenchChart (`vunwind bench --svg FILE`): one horizontal bar per ratio the benchmarks
// printed, each as our time over the anchor's (below 1: we take less), on a log scale
// centred on 1, so 0.1x and 10x are bars of the same length either side. Plain SVG text
// with no script and no external reference, for the README to embed.

#if canImport(Glibc)
import Glibc
#endif

struct BenchBar {
    var label: String
    /// Our time (or cost) over the anchor's.
    var ratio: Double
}

enum BenchChart {
    static func bars(vsyscall r: VsyscallBenchmarkResult) -> [BenchBar] {
        r.ratios.map { BenchBar(label: "vsyscall: \($0.ours) / \($0.anchor)", ratio: $0.ratio) }
    }

    static func bars(cfi r: CFIBenchmarkResult) -> [BenchBar] {
        // The CFI benchmark's ratios are anchor / ours: inverted here.
        [BenchBar(label: "cfi: every row of \(r.file.split(separator: "/").last ?? "") / libdw", ratio: 1 / r.libdwRatio),
         BenchBar(label: "cfi: every row / readelf (a process)", ratio: 1 / r.readelfRatio),
         BenchBar(label: "cfi: point lookups / libdw", ratio: 1 / r.lookupRatio)]
    }

    static func bars(unwind r: UnwindBenchmarkResult) -> [BenchBar] {
        // "in process: vunwind DwarfUnwinder (...)" over "in process: libgcc ...": the
        // place once, then each unwinder's first word.
        r.rows.compactMap { x in
            x.ratio.map { ratio in
                func split(_ s: String) -> (place: String, unwinder: String) {
                    let p = s.split(separator: ":", maxSplits: 1)
                    let rest = (p.last ?? "").drop { $0 == " " }
                    return (String(p.first ?? ""), String(rest.split(separator: " ").first ?? ""))
                }
                let ours = split(x.name), anchor = split(x.anchor ?? "")
                return BenchBar(label: "unwind \(ours.place): \(ours.unwinder) / \(anchor.unwinder)", ratio: ratio)
            }
        }
    }

    static func bars(registration r: RegistrationBenchmarkResult) -> [BenchBar] {
        r.rows.compactMap { x in
            x.ratio.map { ratio in
                let label = x.name.hasPrefix("install") ? "registration: install + uninstall / bare mapping"
                    : "registration: \(x.name.split(separator: " ").first ?? "") lookup, \(r.others) others / alone"
                return BenchBar(label: label, ratio: ratio)
            }
        }
    }

    static func bars(core r: CoreBenchmarkResult) -> [BenchBar] {
        [BenchBar(label: "core: vunwind core / eu-stack --core", ratio: r.ratioToEuStack),
         BenchBar(label: "core: vunwind core / gdb -batch", ratio: r.ratioToGDB)]
    }

    static func bars(walk r: WalkBenchmarkResult) -> [BenchBar] {
        [BenchBar(label: "walk: every walker / stepping alone", ratio: r.ratioToStepping)]
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    static func svg(_ bars: [BenchBar], title: String) -> String {
        let labelWidth = 560.0, plot = 420.0, row = 22.0, top = 48.0
        let decades = 2.0  // 0.01x ... 100x
        let height = top + row * Double(bars.count) + 36
        let width = labelWidth + plot + 90
        let centre = labelWidth + plot / 2
        func x(_ ratio: Double) -> Double {
            let l = min(max(log10(max(ratio, 1e-9)), -decades), decades)
            return centre + l / decades * plot / 2
        }
        func f(_ v: Double) -> String { String(format2: v, 1) }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        out += "<text x=\"8\" y=\"20\" font-size=\"14\" font-weight=\"bold\">\(escape(title))</text>\n"
        out += "<text x=\"8\" y=\"38\" fill=\"#555\">our time over the anchor's, log scale: left of 1x we take less</text>\n"
        for tick in [0.01, 0.1, 1.0, 10.0, 100.0] {
            let tx = x(tick)
            out += "<line x1=\"\(f(tx))\" y1=\"\(f(top - 4))\" x2=\"\(f(tx))\" y2=\"\(f(height - 30))\" stroke=\"\(tick == 1 ? "#000" : "#ccc")\"/>\n"
            out += "<text x=\"\(f(tx))\" y=\"\(f(height - 14))\" text-anchor=\"middle\">\(tick < 1 ? String(format2: tick, 2) : String(Int(tick)))x</text>\n"
        }
        for (i, bar) in bars.enumerated() {
            let y = top + row * Double(i)
            let a = x(1), b = x(bar.ratio)
            let colour = bar.ratio <= 1 ? "#2e7d32" : "#e65100"
            out += "<text x=\"\(f(labelWidth - 8))\" y=\"\(f(y + 15))\" text-anchor=\"end\">\(escape(bar.label))</text>\n"
            out += "<rect x=\"\(f(min(a, b)))\" y=\"\(f(y + 4))\" width=\"\(f(max(abs(b - a), 1)))\" height=\"14\" fill=\"\(colour)\"/>\n"
            out += "<text x=\"\(f(max(a, b) + 4))\" y=\"\(f(y + 15))\">\(String(format2: bar.ratio, 2))x</text>\n"
        }
        return out + "</svg>\n"
    }
}
