// WalkReport: the tester's result: one cell per walker and subject path (stops, passed,
// failed, expected failures), and each failure with where it happened and what differed.
// Codable: `vunwind walk --json` prints it (the stable format, documented in the README);
// addresses are hex strings so no JSON reader loses their high bits.

public struct WalkCell: Codable, Sendable, Equatable {
    public var walker: String
    public var subject: String
    public var path: String
    /// Instructions executed between the call and its return (loops counted each pass).
    public var instructions: Int
    /// Instructions judged: each executed instruction once per stack pointer (a loop's
    /// later passes run the same instructions on the same frame).
    public var stops: Int
    public var passed: Int
    /// Unexpected outcomes: a wrong walk where none was declared, or a declared
    /// limitation that did not fail.
    public var failed: Int
    /// Declared limitations that did fail, as declared.
    public var expected: Int
    /// Seconds spent in this walker for this subject.
    public var seconds: Double
}

public struct WalkFailure: Codable, Sendable, Equatable {
    public var walker: String
    public var subject: String
    public var path: String
    /// The stopped instruction (hex), the function and offset in it, its disassembly.
    public var address: String
    public var function: String
    public var offset: Int
    public var instruction: String
    /// The stop's index in the subject's run (0 = the subject's first instruction).
    public var stop: Int
    public var field: String
    public var expected: String
    public var actual: String

    public init(walker: String, subject: String, path: String, address: String, function: String, offset: Int,
                instruction: String, stop: Int, field: String, expected: String, actual: String) {
        self.walker = walker
        self.subject = subject
        self.path = path
        self.address = address
        self.function = function
        self.offset = offset
        self.instruction = instruction
        self.stop = stop
        self.field = field
        self.expected = expected
        self.actual = actual
    }
}

/// A walker not run on a subject, and why.
public struct WalkSkip: Codable, Sendable, Equatable {
    public var walker: String
    public var subject: String
    public var reason: String
}

public struct WalkReport: Codable, Sendable, Equatable {
    public var cells: [WalkCell] = []
    /// Walkers declared unable to run a subject at all.
    public var skipped: [WalkSkip] = []
    /// At most `failureLimit` per cell are kept; the cell's count is exact.
    public var failures: [WalkFailure] = []
    public init() {}

    /// True when nothing unexpected happened.
    public var passed: Bool { cells.allSatisfy { $0.failed == 0 } }
}
