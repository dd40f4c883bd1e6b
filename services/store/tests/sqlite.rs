//! The store conformance suite on SQLite.

mod conformance;

async fn open() -> Option<tributary_store::testing::ScratchStore> {
    Some(tributary_store::testing::sqlite().await)
}

conformance_suite!(open);

/// Commits leave checkpoints to a background task (`wal_autocheckpoint` is off): the write
/// reaches the database file while the test does nothing but watch its size.
#[tokio::test]
async fn the_write_ahead_log_is_checkpointed_in_the_background() {
    use tributary_catalog::{EntityDraft, EntityKind, Fqn};
    use tributary_store::EntityTree;

    let scratch = tributary_store::testing::sqlite().await;
    let file = std::path::PathBuf::from(scratch.url.trim_start_matches("sqlite://"));
    let store = scratch.store.as_ref();
    let draft = |kind, fqn: &str| EntityDraft::bare(kind, Fqn::parse(fqn).unwrap(), "test");
    store
        .put_service(
            "test",
            draft(EntityKind::Service, "hive"),
            Default::default(),
        )
        .await
        .unwrap();
    let before = std::fs::metadata(&file).unwrap().len();
    let columns = (0..5_000)
        .map(|c| draft(EntityKind::Column, &format!("hive.dwh.marts.wide.c_{c:04}")))
        .collect();
    store
        .put_entity_tree(
            "test",
            EntityTree {
                root: draft(EntityKind::Table, "hive.dwh.marts.wide"),
                children: Some(columns),
            },
        )
        .await
        .unwrap();
    let wal = file.with_extension("db-wal");
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 1024 * 1024,
        "the write went to the log"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // 5,000 rows and their index entries: well over a megabyte once in the file.
    while std::fs::metadata(&file).unwrap().len() < before + 1024 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "the database file never received the write ({} bytes)",
            std::fs::metadata(&file).unwrap().len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
