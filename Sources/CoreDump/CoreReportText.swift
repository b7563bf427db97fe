// CoreReportText: a CoreReport for people: per thread where it stopped and why, the
// synthesized return and how it was derived, the backtrace, and libdwfl's verdict.

public enum CoreReportText {
    static let errnoNames: [Int64: String] = [-1: "EPERM", -4: "EINTR", -11: "EAGAIN", -14: "EFAULT", -22: "EINVAL",
                                              -38: "ENOSYS", -95: "EOPNOTSUPP"]

    public static func render(_ r: CoreReport) -> String {
        var out = "core \(r.file)"
        if let p = r.process { out += ": process \(p.pid) (\(p.name))" }
        if let s = r.signal { out += ", \(s.name) (si_code \(s.code)) address \(s.address)" }
        out += "\n"
        out += "modules: \(r.modules.count) read"
        out += r.missingModules.isEmpty ? "\n" : ", \(r.missingModules.count) not read:\n"
        for m in r.missingModules { out += "  \(m.name) at \(m.base): \(m.reason)\n" }
        for p in r.problems { out += "ignored: \(p)\n" }
        for t in r.threads {
            out += "\nthread \(t.tid): \(t.stopped)\n"
            if let ret = t.returned {
                let name = errnoNames[ret.value].map { " (-\($0))" } ?? ""
                out += "  returned: rax = \(ret.value)\(name): \(ret.derivation)\n"
                for o in ret.outputs {
                    out += "    stores \(o.bytes.count / 2) bytes at \(o.address): \(o.bytes)\(o.inCore ? "" : " (not in the core: left out)")\n"
                }
                if let n = ret.outputsNote { out += "    outputs: \(n)\n" }
                out += "    now rip=\(ret.rip) rsp=\(ret.rsp) rax=\(ret.rax) rbx=\(ret.rbx) rbp=\(ret.rbp) "
                    + "r12=\(ret.r12) r13=\(ret.r13) r14=\(ret.r14) r15=\(ret.r15)\n"
            } else if let why = t.notReturned {
                out += "  not returned: \(why)\n"
            }
            for f in t.frames {
                var line = "  #\(f.index) \(f.pc)"
                if let fn = f.function { line += " \(fn)" + (f.offset.map { "+\($0)" } ?? "") }
                if let m = f.module { line += " (\(m))" }
                if let c = f.caller { line += " [caller by \(c)]" }
                out += line + "\n"
            }
            out += "  walk ended: \(t.walkEnd)\n"
            if let c = t.crossCheck {
                out += c.agrees ? "  \(c.judge): agrees (\(c.frames.count) frames)\n" : "  \(c.judge): DISAGREES: \(c.disagreement ?? "")\n"
            }
        }
        return out
    }
}
