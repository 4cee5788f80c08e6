;; ABI 1; declares a required `url` and an optional `expect`.
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "url\0aexpect?\0a")
  (func (export "wanc_abi_version") (result i32) i32.const 1)
  ;; (ptr << 32) | len
  (func (export "wanc_settings") (result i64) i64.const 0x100000000c)
  (func (export "wanc_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "wanc_probe") (param i32 i32) (result i64) i64.const 0))
