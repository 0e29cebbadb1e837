#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rats_core::__fuzz::address(data));
