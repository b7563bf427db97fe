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
// - DW_CFA_def_cfa_register and DW_CFA_def_cfa_offset(_sf) after DW_CFA_def_cfa_expression
//   take the offset (or register) of the last register-based CFA rule, and
//   remember_state saves that pair too: libgcc, libunwind and readelf all do (they keep
//   register, offset and expression side by side), and libgcrypt's assembly relies on it
//   (an expression CFA while the stack is realigned, then def_cfa_register rsp). libdw
//   refuses such programs.
//
// Two groupings of rows (RowGrouping):
// - merged (lookups, `vunwind cfi --merge`): consecutive rows with identical rules are
//   merged; rows at or beyond the FDE's end are dropped (no unwinder can look them up).
//   Rows are flushed lazily: an advance only moves the location; the stretch since the last
//   flush becomes a row just before the next rule changes (while the state still describes
//   it) and at the end. Runs of advances without rule changes cost nothing.
// - asListed (`vunwind cfi --rows`): readelf's rows exactly: the rules in force at every
//   advance or set_loc (before it moves), and once more at the end; none merged, none
//   dropped, a zero-length advance included.

/// How rows are grouped (see UnwindTableBuilder).
public enum RowGrouping: Sendable {
    /// Identical neighbours merged, nothing at or past the FDE's end: what lookups see.
    case merged
    /// One row per advance and one at the end, as `readelf --debug-dump=frames-interp`.
    case asListed
}

public enum UnwindTableBuilder {
    /// The CIE's initial row (rules before any FDE instruction), with range 0..<0.
    public static func initialRow(cie: CommonInformationEntry, section: CallFrameSection,
                                  limits: UnwindLimits = .default) throws -> UnwindRow {
        var state = State(cfa: .registerOffset(register: 0, offset: 0))
        var machine = Machine(section: section, cie: cie, range: cie.instructions, initial: nil, start: 0, end: 0,
                              limits: limits, tracksLocation: false)
        try machine.run(&state) { _ in true }
        return UnwindRow(start: 0, end: 0, cfa: state.cfa, registers: state.registers,
                         argumentsSize: state.argumentsSize, expressions: section.expressionSource)
    }

    /// Calls `body` with each row of `fde`, in address order, until it returns false.
    /// `initial` is the CIE's initial row when the caller has it cached.
    public static func forEachRow(fde: FrameDescriptionEntry, cie: CommonInformationEntry,
                                  section: CallFrameSection, limits: UnwindLimits = .default,
                                  rememberedStateIncludesCFA: Bool = true, initial cached: UnwindRow? = nil,
                                  grouping: RowGrouping = .merged,
                                  _ body: (UnwindRow) throws -> Bool) throws {
        var (state, machine) = try start(fde: fde, cie: cie, section: section, limits: limits,
                                         rememberedStateIncludesCFA: rememberedStateIncludesCFA, initial: cached)
        if grouping == .asListed {
            machine.rowPerAdvance = true
            var rows = 0
            try machine.run(&state) { row in
                rows += 1
                if rows > limits.maxRows { throw rowLimit(fde, section, limits) }
                return try body(row)
            }
            return
        }
        var merger = RowMerger(limit: limits.maxRows, errorOffset: section.fileOffset &+ UInt64(fde.offset))
        try machine.run(&state) { try merger.push($0, body) }
        try merger.finish(body)
    }

    /// Every row of `fde`. Merges into the array as it goes (no row held back and copied
    /// again, as `forEachRow` must): this builds the lookup cache's tables.
    public static func rows(fde: FrameDescriptionEntry, cie: CommonInformationEntry, section: CallFrameSection,
                            limits: UnwindLimits = .default,
                            rememberedStateIncludesCFA: Bool = true, initial cached: UnwindRow? = nil,
                            grouping: RowGrouping = .merged) throws -> [UnwindRow] {
        if grouping == .asListed {
            var out: [UnwindRow] = []
            try forEachRow(fde: fde, cie: cie, section: section, limits: limits,
                           rememberedStateIncludesCFA: rememberedStateIncludesCFA, initial: cached,
                           grouping: .asListed) { out.append($0); return true }
            return out
        }
        var (state, machine) = try start(fde: fde, cie: cie, section: section, limits: limits,
                                         rememberedStateIncludesCFA: rememberedStateIncludesCFA, initial: cached)
        var out: [UnwindRow] = []
        // Most FDEs have a handful of rows: one allocation instead of a growth sequence.
        out.reserveCapacity(8)
        try machine.run(&state) { row in
            if let last = out.indices.last, out[last].end == row.start, out[last].hasSameRules(as: row) {
                out[last].end = row.end
                return true
            }
            guard out.count < limits.maxRows else { throw rowLimit(fde, section, limits) }
            out.append(row)
            return true
        }
        return out
    }

    /// The state and machine that run `fde`'s program from its CIE's initial row.
    private static func start(fde: FrameDescriptionEntry, cie: CommonInformationEntry, section: CallFrameSection,
                              limits: UnwindLimits, rememberedStateIncludesCFA: Bool,
                              initial cached: UnwindRow?) throws -> (State, Machine) {
        let initial = try cached ?? initialRow(cie: cie, section: section, limits: limits)
        var state = State(initial)
        state.rememberedStateIncludesCFA = rememberedStateIncludesCFA
        let machine = Machine(section: section, cie: cie, range: fde.instructions, initial: initial,
                              start: fde.initialLocation, end: fde.pcRange.upperBound, limits: limits,
                              tracksLocation: true)
        return (state, machine)
    }

    /// More rows than `limits` allow: an error at the FDE.
    private static func rowLimit(_ fde: FrameDescriptionEntry, _ section: CallFrameSection,
                                 _ limits: UnwindLimits) -> CFIError {
        CFIError(offset: section.fileOffset &+ UInt64(fde.offset), reason: .rowLimit(limits.maxRows))
    }

    /// The row that holds at `pc`, or nil if `pc` is outside the FDE. Runs the program only
    /// until the location passes `pc`, and builds only that row (unmerged: its range may be
    /// narrower than in the merged table).
    public static func row(at pc: UInt64, fde: FrameDescriptionEntry, cie: CommonInformationEntry,
                           section: CallFrameSection, limits: UnwindLimits = .default,
                           initial cached: UnwindRow? = nil) throws -> UnwindRow? {
        guard fde.contains(pc) else { return nil }
        let initial = try cached ?? initialRow(cie: cie, section: section, limits: limits)
        var state = State(initial)
        var machine = Machine(section: section, cie: cie, range: fde.instructions, initial: initial,
                              start: fde.initialLocation, end: fde.pcRange.upperBound, limits: limits,
                              tracksLocation: true)
        machine.target = pc
        var found: UnwindRow?
        try machine.run(&state) { row in
            if row.start <= pc && pc < row.end { found = row; return false }
            return row.start <= pc
        }
        return found
    }

    // MARK: Machine

    struct State {
        var cfa: CFARule {
            didSet { if case let .registerOffset(r, o) = cfa { registerCFA = (r, o) } }
        }
        /// The register and offset of the last register-based CFA rule: what
        /// def_cfa_register and def_cfa_offset combine with while the CFA is an expression.
        var registerCFA: (register: UInt16, offset: Int64) = (0, 0)
        var registers = RegisterRuleSet()
        var argumentsSize: UInt64 = 0
        var stack: [(CFARule, (register: UInt16, offset: Int64), RegisterRuleSet)] = []
        var rememberedStateIncludesCFA = true

        init(cfa: CFARule) {
            self.cfa = cfa
            if case let .registerOffset(r, o) = cfa { registerCFA = (r, o) }
        }

        init(_ row: UnwindRow) {
            cfa = row.cfa
            registers = row.registers
            argumentsSize = row.argumentsSize
            if case let .registerOffset(r, o) = row.cfa { registerCFA = (r, o) }
        }

        /// True if the CFA rule or a register rule is a DWARF expression.
        var usesExpressions: Bool {
            if case .expression = cfa { return true }
            for entry in registers {
                switch entry.rule {
                case .expression, .valExpression: return true
                default: continue
                }
            }
            return false
        }
    }

    struct Machine {
        var decoder: CallFrameInstructionDecoder
        // The CIE's factors, not the CIE: the machine is built per lookup, and a CIE is a
        // couple of hundred bytes to copy.
        let caf: UInt64
        let daf: Int64
        /// The CIE's rules, for DW_CFA_restore (nil while running the CIE itself).
        let initialRules: RegisterRuleSet?
        let expressions: ExpressionSource
        let end: UInt64
        let limits: UnwindLimits
        let tracksLocation: Bool
        /// A point lookup: rows wholly before it are not built, rows after it stop the run.
        var target: UInt64?
        /// RowGrouping.asListed: a row at every advance (before it moves) and at the end.
        var rowPerAdvance = false
        /// The current location, and where the stretch of unchanged rules began.
        var location: UInt64
        var pendingStart: UInt64
        var budget: Int

        init(section: CallFrameSection, cie: CommonInformationEntry, range: Range<Int>, initial: UnwindRow?,
             start: UInt64, end: UInt64, limits: UnwindLimits, tracksLocation: Bool) {
            self.decoder = CallFrameInstructionDecoder(section: section, range: range, cie: cie)
            self.caf = cie.codeAlignmentFactor
            self.daf = cie.dataAlignmentFactor
            self.initialRules = initial?.registers
            self.expressions = section.expressionSource
            self.end = end
            self.limits = limits
            self.tracksLocation = tracksLocation
            self.location = start
            self.pendingStart = start
            self.budget = limits.maxInstructions
        }

        /// Emits the stretch [pendingStart, location) with the current rules. False: stop.
        mutating func flush(_ state: State, _ emit: (UnwindRow) throws -> Bool) throws -> Bool {
            guard tracksLocation, location > pendingStart else { return true }
            let start = pendingStart
            pendingStart = location
            if start >= end { return false }
            if let t = target {
                if location <= t { return true }
                if start > t { return false }
            }
            // Only a row with an expression rule needs the section's bytes; leaving the
            // reference out of the others spares a reference count on every copy of them.
            return try emit(UnwindRow(start: start, end: min(location, end), cfa: state.cfa,
                                      registers: state.registers, argumentsSize: state.argumentsSize,
                                      expressions: state.usesExpressions ? expressions : nil))
        }

        mutating func run(_ state: inout State, _ emit: (UnwindRow) throws -> Bool) throws {
            program: while true {
                let at = decoder.offset
                guard let instruction = try decoder.next() else { break program }
                budget -= 1
                if budget < 0 { throw CFIError(offset: at, reason: .instructionLimit(limits.maxInstructions)) }
                func reg(_ r: UInt64) throws -> UInt16 {
                    guard r <= UInt64(DwarfRegister.maximum) else { throw CFIError(offset: at, reason: .registerOutOfRange(r)) }
                    return UInt16(r)
                }
                func factored(_ f: Int64) throws -> Int64 {
                    let (v, o) = f.multipliedReportingOverflow(by: daf)
                    // An overflowing offset cannot address anything; report it as out of range.
                    if o { throw CFIError(offset: at, reason: .factoredOffsetOverflow(f, factor: daf)) }
                    return v
                }
                func factoredU(_ f: UInt64) throws -> Int64 {
                    guard let s = Int64(exactly: f) else { throw CFIError(offset: at, reason: .offsetOutOfRange(f)) }
                    return try factored(s)
                }
                func move(to newLocation: UInt64) throws -> Bool {
                    guard tracksLocation else { return true }
                    if newLocation < location {
                        throw CFIError(offset: at, reason: .locationDecreases(from: location, to: newLocation))
                    }
                    if rowPerAdvance {
                        let row = UnwindRow(start: location, end: newLocation, cfa: state.cfa, registers: state.registers,
                                            argumentsSize: state.argumentsSize,
                                            expressions: state.usesExpressions ? expressions : nil)
                        location = newLocation
                        pendingStart = newLocation
                        return try emit(row)
                    }
                    location = newLocation
                    // Beyond the FDE's end nothing can be looked up: finish the last row.
                    return location < end
                }
                switch instruction {
                case .nop:
                    continue program
                case let .advanceLoc(delta):
                    let (d, o1) = delta.multipliedReportingOverflow(by: caf)
                    let (n, o2) = location.addingReportingOverflow(d)
                    if o1 || o2 { throw CFIError(offset: at, reason: .locationDecreases(from: location, to: n)) }
                    if try !move(to: n) { break program }
                    continue program
                case let .setLoc(address):
                    if try !move(to: address) { break program }
                    continue program
                default:
                    break
                }
                // A rule is about to change: the stretch so far keeps the old rules.
                if !rowPerAdvance, try !flush(state, emit) { return }
                switch instruction {
                case let .defCfa(r, off):
                    guard let o = Int64(exactly: off) else { throw CFIError(offset: at, reason: .offsetOutOfRange(off)) }
                    state.cfa = .registerOffset(register: try reg(r), offset: o)
                case let .defCfaSf(r, f):
                    state.cfa = .registerOffset(register: try reg(r), offset: try factored(f))
                case let .defCfaRegister(r):
                    state.cfa = .registerOffset(register: try reg(r), offset: state.registerCFA.offset)
                case let .defCfaOffset(off):
                    guard let o = Int64(exactly: off) else { throw CFIError(offset: at, reason: .offsetOutOfRange(off)) }
                    state.cfa = .registerOffset(register: state.registerCFA.register, offset: o)
                case let .defCfaOffsetSf(f):
                    state.cfa = .registerOffset(register: state.registerCFA.register, offset: try factored(f))
                case let .defCfaExpression(bytes):
                    state.cfa = .expression(RuleExpression(bytes.indices))
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
                    state.registers[try reg(r)] = .expression(RuleExpression(bytes.indices))
                case let .valExpression(r, bytes):
                    state.registers[try reg(r)] = .valExpression(RuleExpression(bytes.indices))
                case let .restore(r):
                    let register = try reg(r)
                    state.registers[register] = initialRules?[register]
                case .rememberState:
                    guard state.stack.count < limits.maxRememberDepth else {
                        throw CFIError(offset: at, reason: .rememberStackOverflow(limit: limits.maxRememberDepth))
                    }
                    state.stack.append((state.cfa, state.registerCFA, state.registers))
                case .restoreState:
                    guard let (cfa, registerCFA, regs) = state.stack.popLast() else {
                        throw CFIError(offset: at, reason: .restoreWithEmptyStack)
                    }
                    if state.rememberedStateIncludesCFA {
                        state.cfa = cfa
                        state.registerCFA = registerCFA
                    }
                    state.registers = regs
                case let .argsSize(n):
                    state.argumentsSize = n
                case .windowSave:
                    // SPARC register windows (AArch64: return-address signing): meaningless
                    // on x86-64.
                    throw CFIError(offset: at, reason: .unknownOpcode(CallFrameOpcode.gnuWindowSave))
                case .nop, .advanceLoc, .setLoc:
                    break
                }
            }
            // The rules in force now hold to the end of the FDE.
            if tracksLocation && rowPerAdvance {
                // readelf prints the final rules wherever the location stands, even at or
                // past the FDE's end.
                _ = try emit(UnwindRow(start: location, end: max(location, end), cfa: state.cfa,
                                       registers: state.registers, argumentsSize: state.argumentsSize,
                                       expressions: state.usesExpressions ? expressions : nil))
                return
            }
            if tracksLocation && pendingStart < end {
                location = end
                _ = try flush(state, emit)
            }
        }
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

        mutating func push(_ row: consuming UnwindRow, _ body: (UnwindRow) throws -> Bool) throws -> Bool {
            // In place: rows are a few hundred bytes, and this runs once per row.
            if pending != nil {
                if pending!.end == row.start && pending!.hasSameRules(as: row) {
                    pending!.end = row.end
                    return true
                }
                rows += 1
                if rows > limit { throw CFIError(offset: errorOffset, reason: .rowLimit(limit)) }
                if try !body(pending!) {
                    stopped = true
                    pending = nil
                    return false
                }
            }
            pending = row
            return true
        }

        mutating func finish(_ body: (UnwindRow) throws -> Bool) throws {
            if !stopped, let p = pending {
                // The last row counts against the limit like every other.
                rows += 1
                if rows > limit { throw CFIError(offset: errorOffset, reason: .rowLimit(limit)) }
                _ = try body(p)
            }
            pending = nil
        }
    }
}
