// The C interface's error text, one per thread: vsyscall_error() returns the calling
// thread's last message, which no other thread's failure can change or free.
#pragma once

/// Copies `message` (truncated to 511 bytes) into the calling thread's buffer.
void vu_error_set(const char *message);
/// The calling thread's last message ("" if none); valid until its next failure.
const char *vu_error_get(void);
