//! `tributary ingest SERVICE`: one ingestion run from the command line, against the
//! configured catalog database, with a progress bar; the same lease and run history as
//! the server's runs, so it never overlaps one of theirs.

use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tributary_catalog::Fqn;
use tributary_store::{RunCounts, RunStatus, RunTrigger, Store};

use crate::config::Config;
use crate::ingestion::{Ingestion, RunProgress, SystemClock};

struct Bar(ProgressBar);

impl RunProgress for Bar {
    fn batch(&self, trees: usize, counts: &RunCounts) {
        self.0.inc(trees as u64);
        self.0.set_message(summary(counts));
    }
}

fn summary(c: &RunCounts) -> String {
    format!(
        "entities +{} ~{} -{}, edges +{} ~{} -{}",
        c.entities_created,
        c.entities_updated,
        c.entities_deleted,
        c.edges_added,
        c.edges_updated,
        c.edges_removed
    )
}

/// Runs `service` once; the exit code: 0 succeeded, 1 the run failed, 2 it could not start.
pub async fn ingest(store: Arc<dyn Store>, config: &Config, service: &str) -> i32 {
    let fqn = match Fqn::from_parts([service]) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {service:?} is not a service name: {e}");
            return 2;
        }
    };
    let ingestion = Ingestion::new(
        store,
        config.ingestion.clone(),
        Arc::new(SystemClock),
        format!("cli@{}", Ingestion::default_holder()),
    );
    let begun = match ingestion.begin(&fqn, RunTrigger::Cli, None).await {
        Ok(Some(begun)) => begun,
        Ok(None) => unreachable!("a run serving no slot is never skipped"),
        Err(err) => {
            eprintln!("error: {err}");
            return 2;
        }
    };
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} {prefix}: {pos} read, {msg} [{elapsed}]")
            .expect("a valid template"),
    );
    bar.set_prefix(fqn.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    let progress = Bar(bar);
    let finished = ingestion.execute(begun, Some(&progress)).await;
    progress.0.finish_and_clear();
    match finished {
        Ok(run) => {
            for warning in &run.warnings {
                eprintln!("warning: {warning}");
            }
            match run.status {
                RunStatus::Succeeded => {
                    println!("{fqn}: run {} succeeded: {}", run.id, summary(&run.counts));
                    0
                }
                _ => {
                    eprintln!(
                        "{fqn}: run {} failed: {}",
                        run.id,
                        run.error.as_deref().unwrap_or("no reason recorded")
                    );
                    1
                }
            }
        }
        Err(err) => {
            eprintln!("error: the run's end could not be recorded: {err}");
            2
        }
    }
}
