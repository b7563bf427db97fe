// DynamicLibrary: a library opened explicitly and a symbol from it. The registrars bind
// libgcc's and libunwind's entry points this way, never by linking: libunwind.so.8 exports
// _Unwind_* names that, linked in, would take over every C++ throw in the process
// (FIELD-NOTES). RTLD_LOCAL keeps its symbols out of the global scope.

import CVunwind
#if canImport(Glibc)
import Glibc
#endif

final class DynamicLibrary: @unchecked Sendable {
    let name: String
    let handle: UnsafeMutableRawPointer

    init(_ name: String, for kind: RegistrarKind) throws {
        guard let h = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            throw RegistrationError(kind, "cannot open \(name): \(String(cString: dlerror()))")
        }
        self.name = name
        handle = h
    }

    func symbol<F>(_ symbol: String, as: F.Type, for kind: RegistrarKind) throws -> F {
        guard let p = dlsym(handle, symbol) else {
            throw RegistrationError(kind, "\(name) has no \(symbol)")
        }
        return unsafeBitCast(p, to: F.self)
    }

    /// The path the dynamic linker actually loaded for `symbol`'s address (for proof of
    /// which library a binding went to).
    static func path(containing address: UnsafeRawPointer) -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        guard vu_dladdr_path(address, &buf, UInt(buf.count)) != 0 else { return nil }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
