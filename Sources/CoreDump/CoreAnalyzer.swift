// CoreAnalyzer: the analysis `vunwind core` prints. For every thread of a core: where it
// stopped and why; if inside a virtual syscall, the synthesized return (ReturnSynthesis);
// then its backtrace — from the returned state when there is one — by our DwarfUnwinder
// over the core's memory and modules, cross-checked by libdwfl started from the same
// registers, with any disagreement reported rather than hidden.

import Bytes
import DwarfCFI
import ELF
import Unwind

public struct CoreAnalysis {
    public let core: CoreFile
    public let modules: CoreModules
    public let vsyscallCode: [VsyscallCode]
    /// Synthesized returns by thread id.
    public let returns: [Int32: SynthesizedReturn]
    public let report: CoreReport
}

public enum CoreAnalyzer {
    public struct Options: Sendable {
        public var executable: String?
        public var sysroot: String?
        /// Ask libdwfl too (costs about what eu-stack costs).
        public var crossCheck: Bool
        public var maxFrames: Int
        /// Files read for earlier cores, reused for this one.
        public var cache: ModuleImageCache?

        public init(executable: String? = nil, sysroot: String? = nil, crossCheck: Bool = true, maxFrames: Int = 256,
                    cache: ModuleImageCache? = nil) {
            self.executable = executable
            self.sysroot = sysroot
            self.crossCheck = crossCheck
            self.maxFrames = maxFrames
            self.cache = cache
        }
    }

    public static func analyze(path: String, options: Options = Options()) throws -> CoreAnalysis {
        // Read through a block cache: the walks read words, the file is read in blocks.
        let core = try CoreFile(source: BlockCachedByteSource(try FileByteSource(path: path)))
        return analyze(core: core, path: path, options: options)
    }

    public static func analyze(core: CoreFile, path: String, options: Options) -> CoreAnalysis {
        let modules = CoreModules(core: core, executable: options.executable, sysroot: options.sysroot, cache: options.cache)
        let code = VsyscallCode.locate(in: core, modules: modules.map)
        let memory = CachingMemoryReader(core.memory)
        var returns: [Int32: SynthesizedReturn] = [:]
        var threads: [CoreReport.Thread] = []
        for thread in core.threads {
            let pc = thread.registers[16]
            var t = CoreReport.Thread(tid: thread.tid, signal: Int32(thread.currentSignal), stopped: "", vsyscall: nil,
                                      returned: nil, notReturned: nil, frames: [], walkEnd: "", crossCheck: nil)
            let region = code.first { $0.range.contains(pc) }
            t.stopped = describeStop(thread, pc: pc, region: region, modules: modules.map)
            var start = thread.registers
            if let region, let (name, offset) = region.function(at: pc) {
                t.vsyscall = CoreReport.Vsyscall(kind: region.kind.rawValue, function: name, offset: hex(offset))
                switch ReturnSynthesis.synthesize(core: core, thread: thread, code: region, modules: modules.map) {
                case let .success(r):
                    returns[thread.tid] = r
                    start = r.registers
                    t.returned = returnedReport(r, core: core)
                case let .failure(f):
                    t.notReturned = f.reason
                }
            }
            var unwinder = DwarfUnwinder(registers: X86_64Registers(words: start).frameRegisters, memory: memory,
                                         modules: modules.map, maxFrames: options.maxFrames, framePointerFallback: true)
            let walk = unwinder.walk()
            t.frames = walk.frames.map { frame($0) }
            t.walkEnd = walk.stopReason.description
            threads.append(t)
        }
        if options.crossCheck {
            crossCheck(&threads, core: core, path: path, options: options,
                       starts: core.threads.map { ($0.tid, returns[$0.tid]?.registers ?? $0.registers) })
        }
        let info = core.signalInfo
        let report = CoreReport(
            file: path,
            process: core.process.map { CoreReport.Process(pid: $0.pid, name: $0.name, arguments: $0.arguments) },
            signal: info.map { CoreReport.Signal(signal: $0.signal, name: signalName($0.signal), code: $0.code, address: hex($0.address)) },
            modules: modules.map.modules.map { CoreReport.ModuleEntry(name: $0.name, base: hex($0.base), end: hex($0.end)) },
            missingModules: modules.problems.map { CoreReport.MissingModule(name: $0.name, base: hex($0.base), reason: $0.reason) },
            problems: core.memory.problems,
            threads: threads)
        return CoreAnalysis(core: core, modules: modules, vsyscallCode: code, returns: returns, report: report)
    }

    static func crossCheck(_ threads: inout [CoreReport.Thread], core: CoreFile, path: String, options: Options,
                           starts: [(Int32, [UInt64])]) {
        let judge = "libdwfl"
        let dwfl: DwflCoreUnwinder
        do {
            dwfl = try DwflCoreUnwinder(path: path, executable: options.executable, memory: core.memory,
                                        registers: starts.map { (tid: $0.0, words: $0.1) })
        } catch {
            for i in threads.indices {
                threads[i].crossCheck = CoreReport.CrossCheck(judge: judge, frames: [], agrees: false,
                                                              disagreement: "libdwfl could not load the core: \(error)")
            }
            return
        }
        for i in threads.indices {
            let theirs = dwfl.frames(tid: threads[i].tid, limit: options.maxFrames).map(\.pc)
            let ours = threads[i].frames.map(\.pc)
            let theirsText = theirs.map { hex($0) }
            var disagreement: String?
            if let k = zip(ours, theirsText).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                disagreement = "frame #\(k): vunwind \(ours[k]), libdwfl \(theirsText[k])"
            } else if ours.count != theirsText.count {
                disagreement = "vunwind found \(ours.count) frames, libdwfl \(theirsText.count)"
            }
            threads[i].crossCheck = CoreReport.CrossCheck(judge: judge, frames: theirsText, agrees: disagreement == nil,
                                                          disagreement: disagreement)
        }
    }

    static func frame(_ f: UnwoundFrame) -> CoreReport.Frame {
        CoreReport.Frame(index: f.index, pc: hex(f.pc), kind: f.isReturnAddress ? "return" : "pc", function: f.symbol,
                         offset: f.symbolOffset.map { hex($0) }, module: f.module,
                         caller: f.callerByFramePointer ? "frame pointer" : nil)
    }

    static func returnedReport(_ r: SynthesizedReturn, core: CoreFile) -> CoreReport.Returned {
        let w = r.registers
        return CoreReport.Returned(
            value: r.value, derivation: r.derivation,
            outputs: r.outputs.map {
                CoreReport.Output(address: hex($0.address), bytes: $0.bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(),
                                  inCore: CoreRewriter.fileOffsets(core.memory, $0.address, $0.bytes.count) != nil)
            },
            outputsNote: r.outputsNote, rip: hex(w[16]), rsp: hex(w[19]), rax: hex(w[10]), rbx: hex(w[5]), rbp: hex(w[4]),
            r12: hex(w[3]), r13: hex(w[2]), r14: hex(w[1]), r15: hex(w[0]))
    }

    static func describeStop(_ t: CoreThread, pc: UInt64, region: VsyscallCode?, modules: ModuleMap) -> String {
        var why: String
        if let s = t.signalInfo {
            why = "\(signalName(s.signal)) (si_code \(s.code)\(codeName(s.signal, s.code).map { ", " + $0 } ?? ""))"
            if [4, 5, 7, 8, 11].contains(s.signal) { why += " at 0x\(String(s.address, radix: 16))" }
        } else if t.currentSignal != 0 {
            why = signalName(Int32(t.currentSignal))
        } else {
            why = "no signal"
        }
        var place = "0x" + String(pc, radix: 16)
        if let region, let (name, offset) = region.function(at: pc) {
            place += " in \(name)+0x\(String(offset, radix: 16)) (\(region.kind.rawValue))"
        } else if let m = modules.module(containing: pc) {
            if let s = m.symbol(for: pc) { place += " in \(s.name)+0x\(String(s.offset, radix: 16))" }
            place += " (\(m.name))"
        }
        return "\(why), pc \(place)"
    }

    static let signalNames: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
        9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
        17: "SIGCHLD", 18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 31: "SIGSYS",
    ]

    public static func signalName(_ s: Int32) -> String { signalNames[s] ?? "signal \(s)" }

    static func codeName(_ signal: Int32, _ code: Int32) -> String? {
        switch (signal, code) {
        case (11, 1): return "SEGV_MAPERR"
        case (11, 2): return "SEGV_ACCERR"
        case (_, 0x80): return "SI_KERNEL"
        case (_, 0): return "SI_USER"
        case (_, -6): return "SI_TKILL"
        default: return nil
        }
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
}
