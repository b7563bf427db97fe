// elfutils libdw/libdwfl, as vunwind uses them: to cross-check our CFI evaluator
// (dwarf_getcfi_elf, dwarf_cfi_addrframe) and, later, to unwind with libdwfl.
#pragma once
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <dwarf.h>
#include <fcntl.h>
#include <unistd.h>
