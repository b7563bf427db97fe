// libunwind-ptrace accessors that know in-memory images (see vunwind_remote.h).
#include "vunwind_remote.h"
#include <libunwind-ptrace.h>
#include <string.h>

// Exported by libunwind-x86_64 (libunwind-generic) but not declared in its public headers.
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip, unw_dyn_info_t *di,
                                              unw_proc_info_t *pi, int need_unwind_info, void *arg);

#define CONTEXT(arg) ((struct vu_remote_context *)(arg))
#define IS_CONTEXT(arg) (CONTEXT(arg)->magic == VU_REMOTE_MAGIC)
// The UPT handle for an accessor's argument, whichever of the two it is.
#define UPT(arg) (IS_CONTEXT(arg) ? CONTEXT(arg)->upt : (arg))

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi, int need_unwind_info, void *arg) {
    if (!IS_CONTEXT(arg)) return _UPT_find_proc_info(as, ip, pi, need_unwind_info, arg);
    struct vu_remote_context *c = CONTEXT(arg);
    for (unsigned i = 0; i < c->image_count; i++) {
        struct vu_remote_image *image = &c->images[i];
        if (ip < image->code_start || ip >= image->code_end) continue;
        unw_dyn_info_t di;
        memset(&di, 0, sizeof di);
        di.start_ip = image->code_start;
        di.end_ip = image->code_end;
        di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
        di.u.rti.segbase = image->header;
        // The table follows the header's 4 encoding bytes, eh_frame_ptr and fde_count.
        di.u.rti.table_data = image->header + 12;
        di.u.rti.table_len = image->fde_count * 8 / sizeof(unw_word_t);
        c->answered++;
        // `arg` (this context) goes on to access_mem below, which forwards to _UPT.
        return _Ux86_64_dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
    }
    return _UPT_find_proc_info(as, ip, pi, need_unwind_info, c->upt);
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg) {
    _UPT_put_unwind_info(as, pi, UPT(arg));
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dilap, void *arg) {
    return _UPT_get_dyn_info_list_addr(as, dilap, UPT(arg));
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg) {
    return _UPT_access_mem(as, addr, val, write, UPT(arg));
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg) {
    return _UPT_access_reg(as, reg, val, write, UPT(arg));
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write, void *arg) {
    return _UPT_access_fpreg(as, reg, val, write, UPT(arg));
}

static int resume(unw_addr_space_t as, unw_cursor_t *c, void *arg) { return _UPT_resume(as, c, UPT(arg)); }

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len, unw_word_t *off, void *arg) {
    return _UPT_get_proc_name(as, addr, buf, len, off, UPT(arg));
}

unw_accessors_t vu_remote_accessors = {
    .find_proc_info = find_proc_info,
    .put_unwind_info = put_unwind_info,
    .get_dyn_info_list_addr = get_dyn_info_list_addr,
    .access_mem = access_mem,
    .access_reg = access_reg,
    .access_fpreg = access_fpreg,
    .resume = resume,
    .get_proc_name = get_proc_name,
};

unw_addr_space_t vu_remote_create_address_space(void) { return unw_create_addr_space(&vu_remote_accessors, 0); }
void vu_remote_destroy_address_space(unw_addr_space_t space) { unw_destroy_addr_space(space); }
int vu_remote_init(unw_cursor_t *cursor, unw_addr_space_t space, struct vu_remote_context *context) {
    return unw_init_remote(cursor, space, context);
}
int vu_remote_step(unw_cursor_t *cursor) { return unw_step(cursor); }
int vu_remote_get_reg(unw_cursor_t *cursor, int reg, uint64_t *value) {
    unw_word_t v = 0;
    int r = unw_get_reg(cursor, reg, &v);
    *value = v;
    return r;
}
int vu_remote_is_signal_frame(unw_cursor_t *cursor) { return unw_is_signal_frame(cursor); }
void *vu_upt_create(int pid) { return _UPT_create(pid); }
void vu_upt_destroy(void *upt) { _UPT_destroy(upt); }
void vu_remote_cache_globally(unw_addr_space_t space) { unw_set_caching_policy(space, UNW_CACHE_GLOBAL); }
