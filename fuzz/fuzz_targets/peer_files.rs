#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rats_persist::__fuzz::peer_files(data));
