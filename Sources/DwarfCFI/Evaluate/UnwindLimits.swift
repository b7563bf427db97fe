// UnwindLimits: hard bounds on everything an evaluator does with untrusted CFI, so hostile
// input ends in a typed error instead of a hang or an exhausted heap.

public struct UnwindLimits: Sendable, Equatable {
    public var maxRows: Int
    public var maxInstructions: Int
    public var maxRememberDepth: Int
    public var maxExpressionSteps: Int
    public var maxExpressionStack: Int

    public init(maxRows: Int = 1 << 20, maxInstructions: Int = 1 << 22, maxRememberDepth: Int = 64,
                maxExpressionSteps: Int = 10_000, maxExpressionStack: Int = 64) {
        self.maxRows = maxRows
        self.maxInstructions = maxInstructions
        self.maxRememberDepth = maxRememberDepth
        self.maxExpressionSteps = maxExpressionSteps
        self.maxExpressionStack = maxExpressionStack
    }

    public static let `default` = UnwindLimits()
}
