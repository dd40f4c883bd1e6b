//! The router suite: every endpoint through `oneshot`, run against each store backend.

pub mod documents;
pub mod failures;
pub mod graph;
pub mod harness;
pub mod incidents;
pub mod ingestion;
pub mod resources;
pub mod search;

/// Every suite test, for `api_suite!`.
#[macro_export]
macro_rules! all_api_tests {
    ($open:path) => {
        $crate::api_suite!($open;
            resources::services_round_trip_with_secrets_hidden,
            resources::tables_put_get_list_delete,
            resources::table_writes_refuse_bad_references,
            resources::twenty_thousand_columns_store_all_or_nothing,
            resources::models_put_get_list_delete,
            resources::an_fqn_taken_by_another_kind_conflicts,
            resources::teams_round_trip,
            resources::entities_show_parents_children_and_edges,
            resources::edges_put_and_delete,
            resources::tokens_are_issued_used_and_revoked,
            resources::health_ready_and_openapi_are_served,
            resources::demo_loads_once_through_the_api_paths,
            resources::overview_and_me_say_what_the_home_page_shows,
            resources::ui_pages_and_files_are_served,
            failures::writes_need_a_token_of_the_right_role,
            failures::anonymous_reads_can_be_turned_off,
            failures::malformed_json_points_at_line_and_column,
            failures::bodies_over_the_limit_are_refused,
            failures::unknown_routes_and_methods_answer_in_json,
            failures::nul_characters_are_refused_not_stored,
            graph::impact_follows_columns_features_and_models_to_teams,
            graph::impact_survives_cycles_and_skips_deleted,
            graph::lineage_pages_a_ten_thousand_edge_fan_out,
            graph::lineage_reads_any_depth_both_ways,
            graph::openmetadata_add_lineage_bodies_work,
            incidents::incidents_snapshot_impact_and_queue_team_notifications,
            incidents::incident_requests_are_checked,
            documents::documents_round_trip_idempotently,
            documents::documents_own_only_their_edges,
            documents::unchanged_re_pushes_are_recognised_until_the_catalog_moves,
            documents::document_errors_say_where_and_suggest,
            documents::datahub_lineage_files_are_mapped,
            search::search_ranks_exact_prefix_fuzzy_and_words,
            search::search_filters_and_pages,
            search::models_by_feature_exact_then_close,
            search::search_follows_updates_and_deletes,
            search::suggest_and_bad_search_requests,
            ingestion::mlflow_runs_fill_the_catalog_then_follow_it,
            ingestion::run_requests_are_checked,
            ingestion::the_scheduler_runs_due_slots_once_across_replicas,
            ingestion::a_run_whose_lease_is_taken_over_stops,
        );
    };
}
