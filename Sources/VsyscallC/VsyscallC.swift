// The C entry points of libvunwind-vsyscall.so (include/vunwind/vsyscall.h): install and
// uninstall the page from C. The entries themselves are called directly at their absolute
// addresses.

import Vsyscall
#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) private var lastError: UnsafeMutablePointer<CChar>? = strdup("")
nonisolated(unsafe) private var page: VsyscallPage?

private func fail(_ message: String) -> Int32 {
    free(lastError)
    lastError = strdup(message)
    return -1
}

@_cdecl("vsyscall_install")
public func vsyscall_install(_ address: UInt, _ faultMode: Int32, _ tickMicroseconds: UInt32) -> Int32 {
    do {
        page = try Vsyscall.install(address: address == 0 ? Vsyscall.defaultAddress : UInt64(address),
                                    faultMode: faultMode == 1 ? .sigsegv : .efault,
                                    tick: .microseconds(tickMicroseconds == 0 ? 4000 : Int(tickMicroseconds)))
        return 0
    } catch {
        return fail("\(error)")
    }
}

@_cdecl("vsyscall_uninstall")
public func vsyscall_uninstall() -> Int32 {
    guard let p = page else { return fail("no vsyscall page is installed") }
    do {
        try p.uninstall()
        page = nil
        return 0
    } catch {
        return fail("\(error)")
    }
}

@_cdecl("vsyscall_error")
public func vsyscall_error() -> UnsafePointer<CChar>? { UnsafePointer(lastError) }
