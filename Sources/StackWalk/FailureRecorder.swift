// FailureRecorder: turns one stop's mismatches into report entries, the same way for
// every run (ptrace walkers, eu-stack samples, the in-process pair, gdb): the address, the
// function and offset from the helper's modules, objdump's text of the instruction read
// from the helper (which must still be there), and at most `limit` stops per cell.

import Bytes
import Unwind

/// What a walker is declared to do at a stop.
enum Declaration {
    case passes
    case fails(String)
    /// The declaration holds either way (the mutated CFI changed the caller at some passes
    /// over this instruction and not at others).
    case either(String)

    init(_ limitation: String?) { self = limitation.map { .fails($0) } ?? .passes }
}

struct FailureRecorder {
    let subject: WalkSubject
    let modules: ModuleMap
    let memory: any MemoryReader
    let disassembler = Disassembler()
    let limit: Int

    /// Counts one walk against its declaration: a pass, an expected failure, or an
    /// unexpected outcome (a failure, or a declared failure that passed), recorded.
    /// True if it was unexpected.
    @discardableResult
    func judge(_ found: [Mismatch], declared: Declaration, in tally: inout StackWalkTester.Tally, pc: UInt64, stop: Int,
               into report: inout WalkReport) -> Bool {
        switch (found.isEmpty, declared) {
        case (true, .passes), (true, .either): tally.cell.passed += 1; return false
        case (false, .fails), (false, .either): tally.cell.expected += 1; return false
        case let (true, .fails(reason)):
            count([Mismatch(field: "limitation", expected: "fails: \(reason)", actual: "passed")], in: &tally, pc: pc, stop: stop,
                  into: &report)
        case (false, .passes):
            count(found, in: &tally, pc: pc, stop: stop, into: &report)
        }
        return true
    }

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
