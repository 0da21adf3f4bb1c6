//! Writes a generated cluster as a `kubectl get -o json` dump:
//! `cargo run -p rampart-cluster --example gen_dump -- NAMESPACES APPS > dump.json`
//! (51 × 22, the default, gives 10,189 objects).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let namespaces = args.next().map_or(Ok(51), |a| a.parse())?;
    let apps = args.next().map_or(Ok(22), |a| a.parse())?;
    let items = rampart_cluster::generate::cluster(namespaces, apps);
    serde_json::to_writer(
        std::io::stdout().lock(),
        &rampart_cluster::generate::list(&items),
    )?;
    Ok(())
}
