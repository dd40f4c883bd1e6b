//! The router suite on PostgreSQL (`TRIBUTARY_TEST_POSTGRES_URL`).

mod api;

all_api_tests!(tributary_store::testing::postgres);
