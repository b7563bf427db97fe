// Per-thread error text for the C interface (see vunwind_error.h).
#include "vunwind_error.h"
#include <string.h>

static __thread char message_buffer[512];

void vu_error_set(const char *message) {
    strncpy(message_buffer, message ? message : "", sizeof message_buffer - 1);
    message_buffer[sizeof message_buffer - 1] = 0;
}

const char *vu_error_get(void) { return message_buffer; }
