//! `cargo +nightly fuzz run parsers` (from the repository root): connections.json and every Scalekit answer
//! parser on arbitrary bytes. A panic is a bug.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tokenbroker::fuzz::connections(data);
    tokenbroker::fuzz::responses(data);
    tokenbroker::fuzz::config_text(data);
});
