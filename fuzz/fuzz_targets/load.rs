//! The loader, the check catalog and slim objects on arbitrary bytes: errors are fine, panics are not.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let loaded = rampart_manifest::load_str("fuzz.yaml", text);
    for e in &loaded.errors {
        assert!(
            e.line > 0 || e.message.contains("limit"),
            "error without a position: {e}"
        );
    }
    let catalog = rampart_rules::Catalog::default();
    let _ = catalog.check_all(&loaded.objects);
    // what a scan keeps for the analyses across objects
    let slim: Vec<_> = loaded.objects.into_iter().map(|o| o.slim()).collect();
    let _ = catalog.check_across(&slim);
});
