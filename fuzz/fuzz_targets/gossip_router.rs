#![no_main]
// Stateful: the bytes are a sequence of router operations (see the entry point).
libfuzzer_sys::fuzz_target!(|data: &[u8]| rats_gossipsub::__fuzz::router(data));
