//! The index directory: one writer at a time, and an index of another version rebuilt.

use tributary_search::{Found, SearchError, SearchIndex};

#[test]
fn a_second_process_cannot_write_the_same_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (first, found) = SearchIndex::open_dir(dir.path()).unwrap();
    assert_eq!(found, Found::Empty);
    match SearchIndex::open_dir(dir.path()) {
        Err(SearchError::Locked { dir: locked }) => assert_eq!(locked, dir.path()),
        Err(other) => panic!("expected Locked, got {other}"),
        Ok(_) => panic!("two writers opened one index"),
    }
    drop(first);
    SearchIndex::open_dir(dir.path()).unwrap();
}

#[tokio::test]
async fn an_index_with_an_unknown_payload_is_emptied_for_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (index, _) = SearchIndex::open_dir(dir.path()).unwrap();
        let mut batch = index.batch().await;
        batch.commit(42).unwrap();
    }
    let (index, found) = SearchIndex::open_dir(dir.path()).unwrap();
    assert_eq!(found, Found::At { seq: 42 });
    drop(index);
    // A payload this build does not understand (another version wrote it).
    let meta = dir.path().join("meta.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["payload"] = serde_json::Value::String("{\"schema\":999,\"seq\":42}".into());
    std::fs::write(&meta, json.to_string()).unwrap();
    let (_, found) = SearchIndex::open_dir(dir.path()).unwrap();
    assert_eq!(found, Found::Empty);
}
