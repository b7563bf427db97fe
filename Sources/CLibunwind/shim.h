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

// Register numbers (x86-64), for Swift.
enum {
    VU_UNW_RAX = UNW_X86_64_RAX, VU_UNW_RDX = UNW_X86_64_RDX, VU_UNW_RCX = UNW_X86_64_RCX,
    VU_UNW_RBX = UNW_X86_64_RBX, VU_UNW_RSI = UNW_X86_64_RSI, VU_UNW_RDI = UNW_X86_64_RDI,
    VU_UNW_RBP = UNW_X86_64_RBP, VU_UNW_RSP = UNW_X86_64_RSP, VU_UNW_R8 = UNW_X86_64_R8,
    VU_UNW_R9 = UNW_X86_64_R9, VU_UNW_R10 = UNW_X86_64_R10, VU_UNW_R11 = UNW_X86_64_R11,
    VU_UNW_R12 = UNW_X86_64_R12, VU_UNW_R13 = UNW_X86_64_R13, VU_UNW_R14 = UNW_X86_64_R14,
    VU_UNW_R15 = UNW_X86_64_R15, VU_UNW_RIP = UNW_X86_64_RIP,
};
