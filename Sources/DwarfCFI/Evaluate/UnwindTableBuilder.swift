// UnwindTableBuilder: runs a CIE's initial instructions and an FDE's instructions and
// yields the rows of the unwind table (DWARF 5 section 6.4.3), under UnwindLimits.
//
// Choices where consumers differ, and whom we follow:
// - DW_CFA_remember_state saves the CFA rule with the register rules (libgcc, libunwind,
//   libdw and readelf all do; DWARF's text is ambiguous). LLVM 14's dumper saves only the
//   register rules; `rememberedStateIncludesCFA: false` evaluates its way, so it can be
//   compared as a judge.
// - DW_CFA_restore of a register the CIE gave no rule makes it unspecified.
// - Location advances inside a CIE's initial instructions are ignored for FDEs: the CIE's
//   final state is each FDE's initial state (readelf, libdw).
// - Consecutive rows with identical rules are merged; rows at or beyond the FDE's end are
//   dropped (no unwinder can look them up).

public enum UnwindTableBuilder {
    /// The CIE's initial row (rules before any FDE instruction), with range 0..<0.
    public static func initialRow(cie: CommonInformationEntry, section: CallFrameSection,
                                  limits: UnwindLimits = .default) throws -> UnwindRow {
        var state = State(cfa: .registerOffset(register: 0, offset: 0), cfaIsSet: false)
        var decoder = CallFrameInstructionDecoder(section: section, range: cie.instructions, cie: cie)
        var budget = limits.maxInstructions
        var location: UInt64 = 0
        try run(&decoder, cie: cie, state: &state, initial: nil, location: &location, tracksLocation: false,
                end: 0, limits: limits, budget: &budget, section: section) { _ in true }
        return UnwindRow(start: 0, end: 0, cfa: state.cfa, registers: state.registers,
                         argumentsSize: state.argumentsSize)
    }

    /// Calls `body` with each row of `fde`, in address order, until it returns false.
    public static func forEachRow(fde: FrameDescriptionEntry, cie: CommonInformationEntry,
                                  section: CallFrameSection, limits: UnwindLimits = .default,
                                  rememberedStateIncludesCFA: Bool = true,
                                  _ body: (UnwindRow) throws -> Bool) throws {
        let initial = try initialRow(cie: cie, section: section, limits: limits)
        var state = State(cfa: initial.cfa, cfaIsSet: true)
        state.rememberedStateIncludesCFA = rememberedStateIncludesCFA
        state.registers = initial.registers
        state.argumentsSize = initial.argumentsSize
        var decoder = CallFrameInstructionDecoder(section: section, range: fde.instructions, cie: cie)
        var budget = limits.maxInstructions
        var location = fde.initialLocation
        let end = fde.pcRange.upperBound
        var merger = RowMerger(limit: limits.maxRows, errorOffset: section.fileOffset &+ UInt64(fde.offset))
        let finished = try run(&decoder, cie: cie, state: &state, initial: initial, location: &location,
                               tracksLocation: true, end: end, limits: limits, budget: &budget, section: section) {
            try merger.push($0, body)
        }
        if finished && !merger.stopped && location < end {
            _ = try merger.push(UnwindRow(start: location, end: end, cfa: state.cfa, registers: state.registers,
                                          argumentsSize: state.argumentsSize), body)
        }
        try merger.finish(body)
    }

    /// Holds back one row so that a following row with the same rules extends it.
    struct RowMerger {
        var pending: UnwindRow?
        var rows = 0
        var stopped = false
        let limit: Int
        let errorOffset: UInt64

        init(limit: Int, errorOffset: UInt64) {
            self.limit = limit
            self.errorOffset = errorOffset
        }

        mutating func push(_ row: UnwindRow, _ body: (UnwindRow) throws -> Bool) throws -> Bool {
            if var p = pending {
                if p.hasSameRules(as: row) && p.end == row.start {
                    p.end = row.end
                    pending = p
                    return true
                }
                rows += 1
                if rows > limit { throw CFIError(offset: errorOffset, reason: .rowLimit(limit)) }
                if try !body(p) {
                    stopped = true
                    pending = nil
                    return false
                }
            }
            pending = row
            return true
        }

        mutating func finish(_ body: (UnwindRow) throws -> Bool) throws {
            if !stopped, let p = pending { _ = try body(p) }
            pending = nil
        }
    }

    /// Every row of `fde`.
    public static func rows(fde: FrameDescriptionEntry, cie: CommonInformationEntry, section: CallFrameSection,
                            limits: UnwindLimits = .default,
                            rememberedStateIncludesCFA: Bool = true) throws -> [UnwindRow] {
        var out: [UnwindRow] = []
        try forEachRow(fde: fde, cie: cie, section: section, limits: limits,
                       rememberedStateIncludesCFA: rememberedStateIncludesCFA) { out.append($0); return true }
        return out
    }

    /// The row that holds at `pc`, or nil if `pc` is outside the FDE.
    public static func row(at pc: UInt64, fde: FrameDescriptionEntry, cie: CommonInformationEntry,
                           section: CallFrameSection, limits: UnwindLimits = .default) throws -> UnwindRow? {
        guard fde.contains(pc) else { return nil }
        var found: UnwindRow?
        try forEachRow(fde: fde, cie: cie, section: section, limits: limits) { row in
            if row.start <= pc && pc < row.end { found = row; return false }
            return row.start <= pc
        }
        return found
    }

    // MARK: Machine

    struct State {
        var cfa: CFARule
        var cfaIsSet: Bool
        var registers = RegisterRuleSet()
        var argumentsSize: UInt64 = 0
        var stack: [(CFARule, RegisterRuleSet)] = []
        var rememberedStateIncludesCFA = true
    }

    /// Runs instructions. Without `tracksLocation` (a CIE), advances are ignored. Returns
    /// false if `emit` asked to stop or a row started at or beyond `end`.
    @discardableResult
    static func run(_ decoder: inout CallFrameInstructionDecoder, cie: CommonInformationEntry, state: inout State,
                    initial: UnwindRow?, location loc: inout UInt64, tracksLocation: Bool, end: UInt64,
                    limits: UnwindLimits, budget: inout Int, section: CallFrameSection,
                    emit: (UnwindRow) throws -> Bool) throws -> Bool {
        let caf = cie.codeAlignmentFactor
        let daf = cie.dataAlignmentFactor
        while true {
            let at = decoder.offset
            guard let instruction = try decoder.next() else { return true }
            budget -= 1
            if budget < 0 { throw CFIError(offset: at, reason: .instructionLimit(limits.maxInstructions)) }
            func reg(_ r: UInt64) throws -> UInt16 {
                guard r <= UInt64(DwarfRegister.maximum) else { throw CFIError(offset: at, reason: .registerOutOfRange(r)) }
                return UInt16(r)
            }
            func factored(_ f: Int64) throws -> Int64 {
                let (v, o) = f.multipliedReportingOverflow(by: daf)
                // An overflowing offset cannot address anything; report it as out of range.
                if o { throw CFIError(offset: at, reason: .entryLengthOutOfRange(UInt64(bitPattern: f))) }
                return v
            }
            func factoredU(_ f: UInt64) throws -> Int64 {
                guard let s = Int64(exactly: f) else {
                    throw CFIError(offset: at, reason: .entryLengthOutOfRange(f))
                }
                return try factored(s)
            }
            func move(to newLoc: UInt64) throws -> Bool {
                guard tracksLocation else { return true }
                if newLoc < loc { throw CFIError(offset: at, reason: .locationDecreases(from: loc, to: newLoc)) }
                if newLoc == loc { return true }
                if loc >= end { return false }
                let row = UnwindRow(start: loc, end: min(newLoc, end), cfa: state.cfa, registers: state.registers,
                                    argumentsSize: state.argumentsSize)
                loc = newLoc
                return try emit(row)
            }
            switch instruction {
            case .nop:
                break
            case let .advanceLoc(delta):
                let (d, o1) = delta.multipliedReportingOverflow(by: caf)
                let (n, o2) = loc.addingReportingOverflow(d)
                if o1 || o2 { throw CFIError(offset: at, reason: .locationDecreases(from: loc, to: n)) }
                if try !move(to: n) { return false }
            case let .setLoc(address):
                if try !move(to: address) { return false }
            case let .defCfa(r, off):
                guard let o = Int64(exactly: off) else { throw CFIError(offset: at, reason: .entryLengthOutOfRange(off)) }
                state.cfa = .registerOffset(register: try reg(r), offset: o)
                state.cfaIsSet = true
            case let .defCfaSf(r, f):
                state.cfa = .registerOffset(register: try reg(r), offset: try factored(f))
                state.cfaIsSet = true
            case let .defCfaRegister(r):
                let newReg = try reg(r)
                guard case let .registerOffset(_, o) = state.cfa else {
                    throw CFIError(offset: at, reason: .cfaNotRegisterBased)
                }
                state.cfa = .registerOffset(register: newReg, offset: o)
            case let .defCfaOffset(off):
                guard case let .registerOffset(r, _) = state.cfa else {
                    throw CFIError(offset: at, reason: .cfaNotRegisterBased)
                }
                guard let o = Int64(exactly: off) else { throw CFIError(offset: at, reason: .entryLengthOutOfRange(off)) }
                state.cfa = .registerOffset(register: r, offset: o)
            case let .defCfaOffsetSf(f):
                guard case let .registerOffset(r, _) = state.cfa else {
                    throw CFIError(offset: at, reason: .cfaNotRegisterBased)
                }
                state.cfa = .registerOffset(register: r, offset: try factored(f))
            case let .defCfaExpression(bytes):
                state.cfa = .expression(RuleExpression(bytes: bytes, origin: section.fileOffset &+ UInt64(bytes.startIndex)))
                state.cfaIsSet = true
            case let .undefined(r):
                state.registers[try reg(r)] = .undefined
            case let .sameValue(r):
                state.registers[try reg(r)] = .sameValue
            case let .offset(r, f):
                state.registers[try reg(r)] = .offset(try factoredU(f))
            case let .offsetExtendedSf(r, f):
                state.registers[try reg(r)] = .offset(try factored(f))
            case let .negativeOffsetExtended(r, f):
                state.registers[try reg(r)] = .offset(0 &- (try factoredU(f)))
            case let .valOffset(r, f):
                state.registers[try reg(r)] = .valOffset(try factoredU(f))
            case let .valOffsetSf(r, f):
                state.registers[try reg(r)] = .valOffset(try factored(f))
            case let .register(r, other):
                state.registers[try reg(r)] = .register(try reg(other))
            case let .expression(r, bytes):
                state.registers[try reg(r)] = .expression(
                    RuleExpression(bytes: bytes, origin: section.fileOffset &+ UInt64(bytes.startIndex)))
            case let .valExpression(r, bytes):
                state.registers[try reg(r)] = .valExpression(
                    RuleExpression(bytes: bytes, origin: section.fileOffset &+ UInt64(bytes.startIndex)))
            case let .restore(r):
                let register = try reg(r)
                state.registers[register] = initial?.registers[register]
            case .rememberState:
                guard state.stack.count < limits.maxRememberDepth else {
                    throw CFIError(offset: at, reason: .rememberStackOverflow(limit: limits.maxRememberDepth))
                }
                state.stack.append((state.cfa, state.registers))
            case .restoreState:
                guard let (cfa, regs) = state.stack.popLast() else {
                    throw CFIError(offset: at, reason: .restoreWithEmptyStack)
                }
                if state.rememberedStateIncludesCFA { state.cfa = cfa }
                state.registers = regs
            case let .argsSize(n):
                state.argumentsSize = n
            case .windowSave:
                // SPARC register windows (AArch64: return-address signing): meaningless on
                // x86-64.
                throw CFIError(offset: at, reason: .unknownOpcode(CallFrameOpcode.gnuWindowSave))
            }
        }
    }
}
