/* What the C test plugins share: the ABI version 1 exports that are the
 * same in all of them. Each plugin defines wanc_probe (and may override the
 * version with WANC_ABI_VERSION). Built with clang --target=wasm32
 * -nostdlib; see plugins/build.sh. */

#ifndef WANC_ABI_VERSION
#define WANC_ABI_VERSION 1
#endif

#define EXPORT(name) __attribute__((export_name(name)))

typedef unsigned long long u64;

/* The settings block of one probe; the host never asks for more than a
 * check's settings, and a larger request is refused with 0. */
static unsigned char settings_buf[4096];

static u64 pack(const void *ptr, unsigned len) {
    return ((u64)(unsigned long)ptr << 32) | len;
}

EXPORT("wanc_abi_version") int wanc_abi_version(void) { return WANC_ABI_VERSION; }

EXPORT("wanc_settings") long long wanc_settings(void) { return 0; }

EXPORT("wanc_alloc") int wanc_alloc(int len) {
    return len >= 0 && len <= (int)sizeof settings_buf ? (int)(unsigned long)settings_buf : 0;
}
