;; A plugin built against a future ABI: version 2.
(module
  (memory (export "memory") 1)
  (func (export "wanc_abi_version") (result i32) i32.const 2)
  (func (export "wanc_settings") (result i64) i64.const 0)
  (func (export "wanc_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "wanc_probe") (param i32 i32) (result i64) i64.const 0))
