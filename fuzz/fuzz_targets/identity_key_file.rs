#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rats_core::__fuzz::identity_key_file(data));
