// FailureRecorder: turns one stop's mismatches into report entries, the same way for
// every run (ptrace walkers, eu-stack samples, the in-process pair, gdb): the address, the
// function and offset from the helper's modules, objdump's text of the instruction read
// from the helper (which must still be there), and at most `limit` stops per cell.

import Bytes
import Unwind

struct FailureRecorder {
    let subject: WalkSubject
    let modules: ModuleMap
    let memory: any MemoryReader
    let disassembler = Disassembler()
    let limit: Int

    /// Counts `found` in `tally` (a pass if empty) and records it, up to the limit.
    func count(_ found: [Mismatch], in tally: inout StackWalkTester.Tally, pc: UInt64, stop: Int, into report: inout WalkReport) {
        guard !found.isEmpty else {
            tally.cell.passed += 1
            return
        }
        tally.cell.failed += 1
        guard tally.kept < limit else { return }
        tally.kept += 1
        let symbol = modules.module(containing: pc)?.symbol(for: pc)
        let instruction = disassembler.instruction(at: pc, bytes: (try? memory.fetchBytes(from: pc, count: 15)) ?? [])
        for m in found {
            report.failures.append(WalkFailure(walker: tally.cell.walker, subject: subject.name, path: subject.path,
                                               address: "0x" + String(pc, radix: 16), function: symbol?.name ?? "?",
                                               offset: Int(symbol?.offset ?? 0), instruction: instruction, stop: stop,
                                               field: m.field, expected: m.expected, actual: m.actual))
        }
    }
}
