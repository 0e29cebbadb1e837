#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rats_transfer::__fuzz::state(data));
