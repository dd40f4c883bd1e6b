//! One ingestion run: the connector's snapshot reconciled batch by batch, retried on
//! transient failures, bounded in time, then the sweep of what the source no longer
//! holds, and the outcome recorded. The lease is renewed while it goes on.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tributary_catalog::{ConnectionConfig, Fqn, REDACTED};
use tributary_connectors::{ConnectorError, SinkError, SnapshotBatch, SnapshotSink};
use tributary_store::{
    EntityTree, IngestionRun, RunCounts, RunOutcome, RunStatus, SnapshotWrite, Store,
};
use uuid::Uuid;

use super::{BegunRun, Ingestion};

/// Warnings kept per run; the rest are counted.
const MAX_WARNINGS: usize = 200;

/// Told of each reconciled batch (the CLI's progress bar).
pub trait RunProgress: Send + Sync {
    fn batch(&self, trees: usize, counts: &RunCounts);
}

/// Reconciles each batch as it comes, counting and keeping warnings.
struct ReconcileSink<'a> {
    store: &'a dyn Store,
    run: Uuid,
    service: Fqn,
    source: String,
    actor: String,
    teams: HashSet<String>,
    unknown_owners: HashSet<String>,
    counts: RunCounts,
    warnings: Vec<String>,
    more_warnings: usize,
    progress: Option<&'a dyn RunProgress>,
}

#[async_trait]
impl SnapshotSink for ReconcileSink<'_> {
    async fn accept(&mut self, batch: SnapshotBatch) -> Result<(), SinkError> {
        let mut trees = Vec::with_capacity(batch.trees.len());
        for tree in batch.trees {
            let mut root = tree.root;
            let mut children = tree.children;
            // An owner the catalog has no team for would refuse the whole batch: the
            // entity is kept without one, and the run says which team to create.
            if let Some(owner) = root.owner.clone()
                && !self.teams.contains(&owner)
            {
                if self.unknown_owners.insert(owner.clone()) {
                    self.warn(format!(
                        "owner {owner:?} (of {}) names no team; create the team to link its models",
                        root.fqn
                    ));
                }
                root.owner = None;
                for child in &mut children {
                    if child.owner.as_deref() == Some(owner.as_str()) {
                        child.owner = None;
                    }
                }
            }
            trees.push(EntityTree {
                root,
                children: Some(children),
            });
        }
        let count = trees.len();
        let written = self
            .store
            .reconcile_batch(
                &self.actor,
                SnapshotWrite {
                    run_id: self.run,
                    service: self.service.clone(),
                    source: self.source.clone(),
                    trees,
                    edges: batch.edges,
                },
            )
            .await
            .map_err(|e| SinkError(e.to_string()))?;
        self.counts.add(written.counts);
        for skipped in written.skipped_edges {
            self.warn(format!("{}: {}", skipped.reference, skipped.problem));
        }
        if let Some(progress) = self.progress {
            progress.batch(count, &self.counts);
        }
        Ok(())
    }

    fn warn(&mut self, warning: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(warning);
        } else {
            self.more_warnings += 1;
        }
    }
}

/// Whether trying again may help: the source was unreachable, slow or failing, not
/// refusing.
fn transient(err: &ConnectorError) -> bool {
    match err {
        ConnectorError::Unreachable { .. } => true,
        ConnectorError::Source { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    }
}

/// Replaces every secret of the connection in `text`: a source may echo a credential in
/// an error message, and run records are shown to every reader.
pub(super) fn scrub(text: String, connection: &ConnectionConfig) -> String {
    connection
        .secret_values()
        .iter()
        .filter(|s| s.len() >= 3)
        .fold(text, |t, secret| t.replace(secret.as_str(), REDACTED))
}

impl Ingestion {
    /// Carries a begun run out and records how it ended.
    pub async fn execute(
        self: &Arc<Self>,
        begun: BegunRun,
        progress: Option<&dyn RunProgress>,
    ) -> Result<IngestionRun, tributary_store::StoreError> {
        let BegunRun {
            run,
            service,
            settings,
            connection,
            connector,
            _running,
        } = begun;
        let span = tracing::info_span!("ingestion", service = %service.fqn, run = %run.id);
        let _entered = span.enter();
        tracing::info!(trigger = run.trigger.as_str(), "ingestion run started");
        let service_type = service.attrs["service_type"].as_str().unwrap_or("source");
        let mut sink = ReconcileSink {
            store: self.store.as_ref(),
            run: run.id,
            service: service.fqn.clone(),
            source: format!("{service_type}:{}", service.fqn),
            actor: format!("ingestion:{}", service.fqn),
            teams: self
                .store
                .list_teams()
                .await?
                .into_iter()
                .map(|t| t.name)
                .collect(),
            unknown_owners: HashSet::new(),
            counts: RunCounts::default(),
            warnings: Vec::new(),
            more_warnings: 0,
            progress,
        };
        // Ends only when the lease is lost: then another replica may be running the
        // service, and this run stops rather than overlap it.
        let mut renewal = self.spawn_lease_renewal(service.id);
        let timeout = settings.timeout(self.config.run_timeout);
        let retries = settings.retries(self.config.retries);
        let mut outcome: Result<(), String> = Err("not run".into());
        for attempt in 0..=retries {
            if attempt > 0 {
                let wait = self
                    .config
                    .retry_backoff
                    .saturating_mul(2u32.saturating_pow(attempt - 1));
                tokio::time::sleep(wait).await;
            }
            // Settings it cannot use: retrying would not help.
            let connector = match &connector {
                Ok(connector) => connector,
                Err(e) => {
                    outcome = Err(e.to_string());
                    break;
                }
            };
            let pulled = tokio::select! {
                pulled = tokio::time::timeout(timeout, connector.pull(&mut sink)) => pulled,
                _ = &mut renewal => {
                    outcome = Err("stopped: another replica took the service's lease over \
                        (this replica could not renew it in time)".into());
                    break;
                }
            };
            let (error, retry) = match pulled {
                Ok(Ok(())) => {
                    outcome = Ok(());
                    break;
                }
                Ok(Err(err)) => (err.to_string(), transient(&err)),
                Err(_) => (
                    format!("the run took longer than its {} s limit", timeout.as_secs()),
                    true,
                ),
            };
            let retry = retry && attempt < retries;
            tracing::warn!(attempt = attempt + 1, retry, error = %scrub(error.clone(), &connection), "ingestion attempt failed");
            outcome = Err(error);
            if !retry {
                break;
            }
        }
        // Only a complete snapshot says what is gone: a failed run deletes nothing.
        if outcome.is_ok() {
            outcome = self.sweep(&mut sink).await;
        }
        renewal.abort();
        let mut warnings = std::mem::take(&mut sink.warnings);
        if sink.more_warnings > 0 {
            warnings.push(format!("… and {} more warnings", sink.more_warnings));
        }
        let warnings = warnings
            .into_iter()
            .map(|w| scrub(w, &connection))
            .collect();
        let (status, error) = match outcome {
            Ok(()) => (RunStatus::Succeeded, None),
            Err(e) => (RunStatus::Failed, Some(scrub(e, &connection))),
        };
        let finished = self
            .store
            .finish_ingestion_run(
                run.id,
                RunOutcome {
                    status,
                    counts: sink.counts,
                    warnings,
                    error,
                },
                self.clock.now(),
            )
            .await?;
        // The lease went with the record; now this process may start the service again.
        drop(_running);
        tracing::info!(
            status = finished.status.as_str(),
            created = finished.counts.entities_created,
            updated = finished.counts.entities_updated,
            deleted = finished.counts.entities_deleted,
            edges_added = finished.counts.edges_added,
            edges_removed = finished.counts.edges_removed,
            warnings = finished.warnings.len(),
            "ingestion run finished"
        );
        Ok(finished)
    }

    async fn sweep(&self, sink: &mut ReconcileSink<'_>) -> Result<(), String> {
        loop {
            let counts = self
                .store
                .sweep_unseen(
                    &sink.actor,
                    sink.run,
                    &sink.service,
                    &sink.source,
                    self.config.sweep_batch,
                )
                .await
                .map_err(|e| {
                    format!("the catalog could not remove what the source dropped: {e}")
                })?;
            if counts.is_empty() {
                return Ok(());
            }
            sink.counts.add(counts);
        }
    }

    /// Renews the service's lease every third of its length until aborted.
    fn spawn_lease_renewal(self: &Arc<Self>, service: Uuid) -> tokio::task::JoinHandle<()> {
        let ingestion = self.clone();
        tokio::spawn(async move {
            let every = (ingestion.config.lease / 3).max(Duration::from_millis(100));
            loop {
                tokio::time::sleep(every).await;
                let now = ingestion.clock.now();
                match ingestion
                    .store
                    .acquire_ingestion_lease(
                        service,
                        &ingestion.holder,
                        now,
                        ingestion.config.lease,
                    )
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!(
                            "the ingestion lease was taken over by another replica; stopping the run"
                        );
                        return;
                    }
                    Err(err) => tracing::warn!(error = %err, "could not renew the ingestion lease"),
                }
            }
        })
    }
}
