//! The store conformance suite on SQLite.

mod conformance;

async fn open() -> Option<tributary_store::testing::ScratchStore> {
    Some(tributary_store::testing::sqlite().await)
}

conformance_suite!(open);
