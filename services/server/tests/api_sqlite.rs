//! The router suite on SQLite.

mod api;

async fn open() -> Option<tributary_store::testing::ScratchStore> {
    Some(tributary_store::testing::sqlite().await)
}

all_api_tests!(open);
