//! Precision and recall of the credential detector on a labeled corpus written for the project
//! (`tests/secrets-corpus.yaml`): `positive` name/value pairs hold a credential, `negative` pairs
//! do not. Run with `--nocapture` to see the figures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use rampart_rules::secrets::detect;

fn pairs(doc: &serde_json::Value, key: &str) -> Vec<(String, String)> {
    doc[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn precision_and_recall_on_the_labeled_corpus() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/secrets-corpus.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let (docs, errors) = rampart_manifest::parse_yaml(path, &text);
    assert!(errors.is_empty(), "{errors:?}");
    let doc = &docs[0].value;
    let positive = pairs(doc, "positive");
    let negative = pairs(doc, "negative");
    assert!(positive.len() >= 150 && negative.len() >= 150);

    let missed: Vec<_> = positive
        .iter()
        .filter(|(n, v)| detect(n, v).is_none())
        .collect();
    let false_alarms: Vec<_> = negative
        .iter()
        .filter(|(n, v)| detect(n, v).is_some())
        .collect();
    let tp = (positive.len() - missed.len()) as f64;
    let recall = tp / positive.len() as f64;
    let precision = tp / (tp + false_alarms.len() as f64);
    println!(
        "secret corpus: {} positive, {} negative; recall {recall:.3}, precision {precision:.3}",
        positive.len(),
        negative.len()
    );
    // names only: values in test output would be a bad habit even for invented ones
    fn names(v: &[&(String, String)]) -> Vec<String> {
        v.iter().map(|(n, _)| n.clone()).collect()
    }
    println!("missed: {:?}", names(&missed));
    println!("false alarms: {:?}", names(&false_alarms));
    assert!(
        recall >= 0.95,
        "recall {recall:.3}; missed {:?}",
        names(&missed)
    );
    assert!(
        precision >= 0.95,
        "precision {precision:.3}; false alarms {:?}",
        names(&false_alarms)
    );
}

/// Detection text never leaves the detector in a message: the phrase names the rule only.
#[test]
fn phrases_never_hold_the_value() {
    let d = detect("MYSQL_ROOT_PASSWORD", "supersecret").unwrap();
    assert!(!d.kind.phrase().contains("supersecret"));
    assert!(d.kind.phrase().contains("name says credential"));
}
