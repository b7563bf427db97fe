// UnwindLimits: hard bounds on everything an evaluator does with untrusted CFI, so hostile
// input ends in a typed error instead of a hang or an exhausted heap.

// The defaults are far above real code (the largest FDE runs 96 instructions in libc.so.6,
// 362 in libstdc++, 1154 in libLLVM-14, by readelf) and far below what hurts: 2^18
// instructions or rows replay in milliseconds; a hostile program of 10^6 is refused at
// its 2^18th.
public struct UnwindLimits: Sendable, Equatable {
    public var maxRows: Int
    public var maxInstructions: Int
    public var maxRememberDepth: Int
    public var maxExpressionSteps: Int
    public var maxExpressionStack: Int

    public init(maxRows: Int = 1 << 18, maxInstructions: Int = 1 << 18, maxRememberDepth: Int = 64,
                maxExpressionSteps: Int = 10_000, maxExpressionStack: Int = 64) {
        self.maxRows = maxRows
        self.maxInstructions = maxInstructions
        self.maxRememberDepth = maxRememberDepth
        self.maxExpressionSteps = maxExpressionSteps
        self.maxExpressionStack = maxExpressionStack
    }

    public static let `default` = UnwindLimits()
}
