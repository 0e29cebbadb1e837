#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rats_discovery_mdns::__fuzz::txt(data));
