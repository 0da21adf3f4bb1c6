//! Prints the connection list of the manifests under the given paths (like `rampart netpol list`).

fn main() -> std::process::ExitCode {
    let paths: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-') && a != "txt" && a != "list")
        .collect();
    let loaded = rampart_manifest::load_paths(&paths);
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
