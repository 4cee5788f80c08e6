/* Traps as a panic or abort in a plugin would. */
#include "plugin.h"

EXPORT("wanc_probe") long long wanc_probe(int ptr, int len) {
    (void)ptr;
    (void)len;
    __builtin_trap();
}
