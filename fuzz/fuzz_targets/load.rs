//! The loader and the check catalog on arbitrary bytes: errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let loaded = rampart_manifest::load_str("fuzz.yaml", text);
    for e in &loaded.errors {
        assert!(e.line > 0 || e.message.contains("limit"), "error without a position: {e}");
    }
    let _ = rampart_rules::Catalog::default().check_all(&loaded.objects);
});
