;; ABI 1, but the probe entry point is missing.
(module
  (memory (export "memory") 1)
  (func (export "wanc_abi_version") (result i32) i32.const 1)
  (func (export "wanc_settings") (result i64) i64.const 0)
  (func (export "wanc_alloc") (param i32) (result i32) i32.const 1024))
