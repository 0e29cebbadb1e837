#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| rats_discovery_dht::__fuzz::krpc(data));
