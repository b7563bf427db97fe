/* Header-only target (sanitizer_hooks.h); SwiftPM needs one source file. */
#include "sanitizer_hooks.h"
