// CoreReport: what `vunwind core` finds in one core, as one Codable model rendered as text
// for people or as JSON (the stable format, documented in the README). Addresses are hex
// strings ("0x..."), so no JSON reader loses their high bits.

public struct CoreReport: Codable, Sendable, Equatable {
    public struct Process: Codable, Sendable, Equatable {
        public var pid: Int32
        public var name: String
        public var arguments: String
    }

    public struct Signal: Codable, Sendable, Equatable {
        public var signal: Int32
        public var name: String
        public var code: Int32
        public var address: String
    }

    public struct ModuleEntry: Codable, Sendable, Equatable {
        public var name: String
        public var base: String
        public var end: String
    }

    public struct MissingModule: Codable, Sendable, Equatable {
        public var name: String
        public var base: String
        public var reason: String
    }

    public struct Frame: Codable, Sendable, Equatable {
        public var index: Int
        public var pc: String
        /// "pc" (the instruction the thread is at) or "return" (a return address).
        public var kind: String
        public var function: String?
        public var offset: String?
        public var module: String?
        /// "cfi", or "frame pointer" when this frame had no CFI and rbp found its caller.
        public var caller: String?
    }

    public struct Vsyscall: Codable, Sendable, Equatable {
        public var kind: String
        public var function: String
        public var offset: String
    }

    public struct Output: Codable, Sendable, Equatable {
        public var address: String
        public var bytes: String
        /// True if the core holds those bytes, so a rewrite puts the value there.
        public var inCore: Bool
    }

    public struct Returned: Codable, Sendable, Equatable {
        public var value: Int64
        public var derivation: String
        public var outputs: [Output]
        public var outputsNote: String?
        public var rip: String
        public var rsp: String
        public var rax: String
        public var rbx: String
        public var rbp: String
        public var r12: String
        public var r13: String
        public var r14: String
        public var r15: String
    }

    public struct CrossCheck: Codable, Sendable, Equatable {
        public var judge: String
        public var frames: [String]
        public var agrees: Bool
        public var disagreement: String?
    }

    public struct Thread: Codable, Sendable, Equatable {
        public var tid: Int32
        public var signal: Int32
        /// Where it stopped and why, in one line.
        public var stopped: String
        public var vsyscall: Vsyscall?
        public var returned: Returned?
        /// Why a thread inside a vsyscall could not be returned.
        public var notReturned: String?
        public var frames: [Frame]
        public var walkEnd: String
        public var crossCheck: CrossCheck?
    }

    public var file: String
    public var process: Process?
    public var signal: Signal?
    public var modules: [ModuleEntry]
    public var missingModules: [MissingModule]
    /// Parts of the core that were ignored, with the reason.
    public var problems: [String]
    public var threads: [Thread]
}
