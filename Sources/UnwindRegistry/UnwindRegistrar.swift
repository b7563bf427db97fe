// UnwindRegistrar: one consumer of unwind information (libgcc, nongnu libunwind, gdb,
// perf) and how to tell it about an image, and take it back. Each keeps what it needs to
// deregister exactly once.

public enum RegistrarKind: String, Sendable, CaseIterable, Comparable {
    case libgcc
    case libunwind
    case gdb
    case perf

    public static func < (a: RegistrarKind, b: RegistrarKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

public protocol UnwindRegistrar: AnyObject, Sendable {
    var kind: RegistrarKind { get }
    /// Tells the consumer about the image. Throws RegistrationError.
    func register(_ image: RegisteredImage) throws
    /// Takes it back; called once per successful register.
    func deregister(_ image: RegisteredImage) throws
}

public struct RegistrationError: Error, Equatable, CustomStringConvertible {
    public var registrar: RegistrarKind?
    public var message: String

    public init(_ registrar: RegistrarKind?, _ message: String) {
        self.registrar = registrar
        self.message = message
    }

    public var description: String { registrar.map { "\($0.rawValue): \(message)" } ?? message }
}
