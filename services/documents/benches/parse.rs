//! Parsing one lineage document of 5,000 features (700 KB of YAML): the whole of
//! `tributary_documents::parse` against the YAML deserialisation alone, medians of 20.
//!
//! `cargo bench -p tributary-documents --bench parse`

use std::time::{Duration, Instant};

// The server binary's allocator, so the figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn document() -> String {
    let mut doc = "version: 1\nmodels:\n  - fqn: mlflow.churn\n    owner: ml-team\n    features:\n"
        .to_owned();
    for i in 0..5_000 {
        let (t, c) = (i / 50, i % 50);
        doc.push_str(&format!(
            "      - name: feature_{i:05}\n        data_type: numerical\n        source: hive.dwh.marts.mart_{t:03}.col_{c:02}\n        transform: avg over 30 days\n"
        ));
    }
    doc
}

fn median(mut run: impl FnMut()) -> Duration {
    let mut samples: Vec<Duration> = (0..20)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let text = document();
    let whole = median(|| {
        tributary_documents::parse(&text, &[]).unwrap();
    });
    let yaml = median(|| {
        let _: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    });
    let json_text =
        serde_json::to_string(&serde_saphyr::from_str::<serde_json::Value>(&text).unwrap())
            .unwrap();
    let as_json = median(|| {
        tributary_documents::parse(&json_text, &[]).unwrap();
    });
    println!(
        "parse (YAML, {} bytes): {whole:?}; YAML to a JSON value only: {yaml:?}; parse of the same document as JSON: {as_json:?}",
        text.len()
    );
}
