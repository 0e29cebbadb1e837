#![no_main]
// Structure-aware: the bytes are frame operations, not a raw stream (see the entry point).
libfuzzer_sys::fuzz_target!(|data: &[u8]| rats_core::__fuzz::reassembly(data));
