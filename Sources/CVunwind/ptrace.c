#include "vunwind.h"
