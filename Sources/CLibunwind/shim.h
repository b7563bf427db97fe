// nongnu libunwind for Swift. Its API names are macros (unw_step is _Ux86_64_step for the
// generic, remote-capable API), which Swift cannot see, so each call we use gets a
// static inline wrapper here (FIELD-NOTES: "Wrap them in static inline functions").
//
// Remote API only: local unwinding needs unw_getcontext in the walking frame itself, which
// a wrapper cannot provide; local walks live in C targets that include <libunwind.h>.
#pragma once
#include <libunwind.h>
#include <libunwind-ptrace.h>
#include <libunwind-coredump.h>

static inline unw_addr_space_t vu_unw_create_addr_space(unw_accessors_t *a, int byteorder) {
    return unw_create_addr_space(a, byteorder);
}
static inline void vu_unw_destroy_addr_space(unw_addr_space_t as) { unw_destroy_addr_space(as); }
static inline int vu_unw_init_remote(unw_cursor_t *c, unw_addr_space_t as, void *arg) {
    return unw_init_remote(c, as, arg);
}
static inline int vu_unw_step(unw_cursor_t *c) { return unw_step(c); }
static inline int vu_unw_get_reg(unw_cursor_t *c, int reg, unw_word_t *v) { return unw_get_reg(c, reg, v); }
static inline int vu_unw_is_signal_frame(unw_cursor_t *c) { return unw_is_signal_frame(c); }
static inline int vu_unw_get_proc_name(unw_cursor_t *c, char *buf, size_t len, unw_word_t *off) {
    return unw_get_proc_name(c, buf, len, off);
}
static inline int vu_unw_set_caching_policy(unw_addr_space_t as, unw_caching_policy_t p) {
    return unw_set_caching_policy(as, p);
}
static inline unw_accessors_t *vu_upt_accessors(void) { return &_UPT_accessors; }
static inline unw_accessors_t *vu_ucd_accessors(void) { return &_UCD_accessors; }

// libunwind numbers x86-64 registers in DWARF order (rax=0 ... r15=15, rip=16), so DWARF
// numbers can be passed to unw_get_reg directly.
_Static_assert(UNW_X86_64_RAX == 0 && UNW_X86_64_RBX == 3 && UNW_X86_64_RSP == 7 && UNW_X86_64_R15 == 15 &&
               UNW_X86_64_RIP == 16, "libunwind's x86-64 register numbers are not DWARF's");
