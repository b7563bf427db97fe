#!/bin/sh
# make install: copies libvunwind-vsyscall.so, the C header, the linker script and a
# pkg-config file under PREFIX, so that a C program builds with
#   cc prog.c $(pkg-config --cflags --libs vunwind-vsyscall)
# Usage: scripts/install.sh BUILD_DIR PREFIX   (BUILD_DIR holds libvunwind-vsyscall.so)
set -eu
[ $# -eq 2 ] || { echo "usage: scripts/install.sh BUILD_DIR PREFIX" >&2; exit 2; }
build=$1
prefix=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$build/libvunwind-vsyscall.so" ] || {
    echo "make install: $build/libvunwind-vsyscall.so is not built (run make build)" >&2; exit 1; }
case "$prefix" in /*) ;; *) prefix=$(pwd)/$prefix ;; esac

install -d "$prefix/lib/pkgconfig" "$prefix/lib/vunwind" "$prefix/include/vunwind"
install -m 0755 "$build/libvunwind-vsyscall.so" "$prefix/lib/"
install -m 0644 "$repo/include/vunwind/vsyscall.h" "$prefix/include/vunwind/"
install -m 0644 "$repo/include/vunwind/vsyscall.ld" "$prefix/lib/vunwind/"

# The entries are absolute symbols at 0x550000001000...: the call sites must go through
# GOT slots the linker leaves unrelaxed (-fno-plt, no relax relocations), in an executable
# that is not position-independent (the script refuses a PIE link with its own message).
cat > "$prefix/lib/pkgconfig/vunwind-vsyscall.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: vunwind-vsyscall
Description: A user-space vsyscall page with DWARF unwind info, registered at install
Version: 0.1.0
Cflags: -I\${includedir} -fno-plt -Wa,-mrelax-relocations=no
Libs: -L\${libdir} -lvunwind-vsyscall -Wl,-rpath,\${libdir} -no-pie \${libdir}/vunwind/vsyscall.ld
PC
echo "installed libvunwind-vsyscall under $prefix (pkg-config: PKG_CONFIG_PATH=$prefix/lib/pkgconfig)"
