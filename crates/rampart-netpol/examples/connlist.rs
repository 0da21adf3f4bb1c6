//! Prints the connection list of the manifests under the given paths (like `rampart netpol list`).

fn main() -> std::process::ExitCode {
    let paths: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-') && a != "txt" && a != "list")
        .collect();
    let mut loaded = rampart_manifest::load_paths(&paths);
    let files: std::collections::BTreeSet<String> =
        loaded.skipped.iter().map(|e| e.file.clone()).collect();
    for f in files {
        if let Ok(text) = std::fs::read_to_string(&f) {
            let (docs, _) = rampart_manifest::parse_yaml(&f, &text);
            loaded
                .objects
                .extend(rampart_netpol::typed_list_items(&f, &docs));
        }
    }
    for e in &loaded.errors {
        eprintln!("{e}");
    }
    match rampart_netpol::analyze(&loaded.objects) {
        Ok(a) => {
            for e in &a.errors {
                eprintln!("{e}");
            }
            print!(
                "{}",
                rampart_netpol::render(&a, rampart_netpol::Format::Txt)
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::from(2)
        }
    }
}
