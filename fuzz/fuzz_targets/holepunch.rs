#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rats_nat::__fuzz::holepunch(data));
