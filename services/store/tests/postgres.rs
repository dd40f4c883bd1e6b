//! The store conformance suite on PostgreSQL (`TRIBUTARY_TEST_POSTGRES_URL`).

mod conformance;

conformance_suite!(tributary_store::testing::postgres);
