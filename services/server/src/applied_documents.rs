//! Lineage documents this process applied, remembered so that pushing one again unchanged —
//! what CI does on every pipeline of the main branch — is answered without parsing and
//! comparing it all over again.
//!
//! A memo holds the digest of the document's text, the change-log position at which the
//! catalog was exactly as the document says, and everything the document covers: the
//! entities it wrote or names, the containers whose full contents it asserts and its
//! source. A push of the same text is unchanged when no change-log row since that position
//! touches any of these; the log holds every replica's writes, so the answer is the one a
//! full comparison would give. Anything else — another text, a row that touches the
//! document, a long log since, a memo evicted or lost on restart — takes the full path.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use tributary_documents::Format;
use tributary_store::{Change, CommittedWrite, Store, StoreError};
use uuid::Uuid;

/// Change-log rows read to decide; with more since the memo, the full path is cheaper.
const LOG_WINDOW: u32 = 10_000;
/// Entity ids kept across all memos (about 50 bytes each); the oldest memos go first.
const MAX_IDS: usize = 1_000_000;

pub type TextDigest = [u8; 32];

/// The digest a memo is found by: the text as pushed, and how DataHub platforms map (the
/// same text may mean another document under other rules).
pub fn digest(text: &str, platforms: &[tributary_documents::PlatformRule]) -> TextDigest {
    let mut hasher = Sha256::new();
    hasher.update(text.as_bytes());
    for rule in platforms {
        hasher.update(format!("\0{rule:?}").as_bytes());
    }
    hasher.finalize().into()
}

/// What a document covers, and the log position where the catalog matched it.
#[derive(Debug)]
pub struct Memo {
    pub digest: TextDigest,
    pub source: String,
    pub format: Format,
    /// Edges the document lists (all stored as listed at `seq`).
    pub edges: u64,
    seq: i64,
    /// Entities it wrote or names.
    entities: HashSet<Uuid>,
    /// `fqn.` of each container whose full set of children it asserts: a child created
    /// under one is a change the document would undo.
    prefixes: Vec<String>,
}

impl Memo {
    /// The memo of a document whose write committed (or found nothing to write) as `write`.
    pub fn new(
        digest: TextDigest,
        source: String,
        format: Format,
        edges: u64,
        write: &CommittedWrite,
    ) -> Memo {
        let mut entities: HashSet<Uuid> = write.ids.values().copied().collect();
        entities.extend(write.entities.iter().map(|e| e.id));
        let mut prefixes = Vec::with_capacity(write.trees.len());
        for (root, children) in &write.trees {
            entities.insert(root.id);
            entities.extend(children.iter().map(|c| c.id));
            prefixes.push(format!("{}.", root.fqn));
        }
        Memo {
            digest,
            source,
            format,
            edges,
            seq: write.last_seq,
            entities,
            prefixes,
        }
    }

    /// Whether a change-log row may make the catalog differ from the document.
    fn touched_by(&self, change: &Change) -> bool {
        let op = change.op.as_str();
        if op.starts_with("entity.") {
            change
                .entity_id
                .is_some_and(|id| self.entities.contains(&id))
                || change
                    .fqn
                    .as_deref()
                    .is_some_and(|fqn| self.prefixes.iter().any(|p| fqn.starts_with(p)))
        } else if op.starts_with("edge.") {
            change.detail["source"].as_str() == Some(self.source.as_str())
        } else {
            // Incidents, tokens and service connections say nothing a document asserts;
            // anything else (teams, owners of its models) is taken as touching it.
            !["incident.", "token.", "service."]
                .iter()
                .any(|p| op.starts_with(p))
        }
    }
}

/// The memos, newest last.
#[derive(Default)]
pub struct AppliedDocuments {
    memos: Mutex<VecDeque<Memo>>,
}

/// A push found unchanged.
pub struct Unchanged {
    pub source: String,
    pub format: Format,
    pub edges: u64,
}

impl AppliedDocuments {
    /// Whether the document with `digest` is, as far as the change log shows, exactly as
    /// the catalog holds it now. `Ok(None)` sends the push down the full path.
    pub async fn unchanged(
        &self,
        store: &dyn Store,
        digest: &TextDigest,
    ) -> Result<Option<Unchanged>, StoreError> {
        let Some(seq) = self.with(digest, |memo| memo.seq) else {
            return Ok(None);
        };
        let changes = store.changes_after(seq, LOG_WINDOW).await?;
        if changes.len() >= LOG_WINDOW as usize {
            return Ok(None);
        }
        let last = changes.last().map_or(seq, |c| c.seq);
        let mut memos = self.memos.lock().unwrap_or_else(|p| p.into_inner());
        let Some(memo) = memos.iter_mut().find(|m| &m.digest == digest) else {
            return Ok(None);
        };
        // Checked against the memo as it is now: another push may have moved it on.
        if memo.seq != seq || changes.iter().any(|c| memo.touched_by(c)) {
            return Ok(None);
        }
        // Still exact at the newer position: the next check reads less.
        memo.seq = last;
        Ok(Some(Unchanged {
            source: memo.source.clone(),
            format: memo.format,
            edges: memo.edges,
        }))
    }

    /// Remembers a document just applied, replacing any memo of its source (whatever the
    /// older one said, the catalog now holds this one).
    pub fn remember(&self, memo: Memo) {
        let mut memos = self.memos.lock().unwrap_or_else(|p| p.into_inner());
        memos.retain(|m| m.source != memo.source && m.digest != memo.digest);
        memos.push_back(memo);
        let mut ids: usize = memos.iter().map(|m| m.entities.len()).sum();
        while ids > MAX_IDS && memos.len() > 1 {
            let oldest = memos.pop_front().expect("more than one memo");
            ids -= oldest.entities.len();
        }
    }

    fn with<T>(&self, digest: &TextDigest, read: impl FnOnce(&Memo) -> T) -> Option<T> {
        let memos = self.memos.lock().unwrap_or_else(|p| p.into_inner());
        memos.iter().find(|m| &m.digest == digest).map(read)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;
    use tributary_catalog::{EntityDraft, EntityKind, Fqn};
    use tributary_store::{DocumentWrite, EntityTree};

    use super::*;

    fn fqn(text: &str) -> Fqn {
        Fqn::parse(text).unwrap()
    }

    fn table(name: &str, column: &str) -> EntityTree {
        EntityTree {
            root: EntityDraft::bare(EntityKind::Table, fqn(name), "test"),
            children: Some(vec![EntityDraft::bare(
                EntityKind::Column,
                fqn(&format!("{name}.{column}")),
                "test",
            )]),
        }
    }

    /// Against a real store: the memo answers while the log since holds nothing touching the
    /// document, and stops at the first row that does.
    #[tokio::test]
    async fn a_memo_holds_until_a_logged_change_touches_its_document() {
        let scratch = tributary_store::testing::sqlite().await;
        let store = scratch.store.as_ref();
        for name in ["hive", "ml"] {
            let mut service = EntityDraft::bare(EntityKind::Service, fqn(name), "test");
            service.attrs = json!({ "service_type": "custom" });
            store
                .put_service("test", service, Default::default())
                .await
                .unwrap();
        }
        store
            .put_entity_tree("test", table("hive.d.s.t", "a"))
            .await
            .unwrap();
        let text = "version: 1\nmodels:\n  - fqn: ml.churn\n    features:\n      - name: fa\n        source: hive.d.s.t.a\n";
        let document = tributary_documents::parse(text, &[]).unwrap();
        let written = store
            .apply_lineage_document(
                "test",
                DocumentWrite {
                    source: document.source.clone(),
                    models: document.models,
                    tables_to_create: document.tables_to_create,
                    edges: document.edges,
                    expected: vec![],
                    dry_run: false,
                },
            )
            .await
            .unwrap();
        let documents = AppliedDocuments::default();
        let at = digest(text, &[]);
        documents.remember(Memo::new(
            at,
            document.source,
            document.format,
            1,
            written.committed.as_ref().unwrap(),
        ));
        let unchanged = documents.unchanged(store, &at).await.unwrap().unwrap();
        assert_eq!(unchanged.source, "yaml:ml.churn");
        assert_eq!(unchanged.edges, 1);
        // Another text is not this document.
        assert!(
            documents
                .unchanged(store, &digest("version: 1", &[]))
                .await
                .unwrap()
                .is_none()
        );
        // A write elsewhere leaves it recognised.
        store
            .put_entity_tree("test", table("hive.d.s.other", "b"))
            .await
            .unwrap();
        assert!(documents.unchanged(store, &at).await.unwrap().is_some());
        // Its column rewritten (the table now lists another column): no longer.
        store
            .put_entity_tree("test", table("hive.d.s.t", "renamed"))
            .await
            .unwrap();
        assert!(documents.unchanged(store, &at).await.unwrap().is_none());
    }

    fn change(op: &str, entity_id: Option<Uuid>, fqn: Option<&str>, source: &str) -> Change {
        Change {
            seq: 1,
            at: Utc::now(),
            actor: "t".into(),
            op: op.into(),
            entity_id,
            fqn: fqn.map(str::to_owned),
            detail: json!({ "source": source }),
        }
    }

    fn memo(feature: Uuid) -> Memo {
        Memo {
            digest: [0; 32],
            source: "yaml:m".into(),
            format: Format::Tributary,
            edges: 1,
            seq: 0,
            entities: HashSet::from([feature]),
            prefixes: vec!["ml.m.".into()],
        }
    }

    #[test]
    fn rows_touching_the_document_are_told_apart_from_the_rest() {
        let feature = Uuid::now_v7();
        let memo = memo(feature);
        let other = Some(Uuid::now_v7());
        // Its entities, anything new inside its models, its source's edges, teams.
        for touching in [
            change("entity.updated", Some(feature), Some("ml.m.f"), "api"),
            change("entity.created", other, Some("ml.m.extra"), "api"),
            change("edge.deleted", None, None, "yaml:m"),
            change("team.updated", None, None, "api"),
        ] {
            assert!(memo.touched_by(&touching), "{}", touching.op);
        }
        // Others' entities and edges, incidents, tokens.
        for apart in [
            change("entity.updated", other, Some("ml.mx.f"), "api"),
            change("edge.created", None, None, "yaml:other"),
            change("incident.opened", other, Some("ml.m.f"), "api"),
            change("token.created", None, None, "api"),
        ] {
            assert!(!memo.touched_by(&apart), "{}", apart.op);
        }
    }

    #[test]
    fn one_memo_per_source_and_the_oldest_go_first() {
        let documents = AppliedDocuments::default();
        let mut first = memo(Uuid::now_v7());
        first.digest = [1; 32];
        documents.remember(first);
        let mut second = memo(Uuid::now_v7());
        second.digest = [2; 32];
        documents.remember(second);
        assert!(documents.with(&[1; 32], |_| ()).is_none());
        assert!(documents.with(&[2; 32], |_| ()).is_some());
        // Past the id budget, the oldest memos go.
        let mut large = memo(Uuid::now_v7());
        large.source = "yaml:large".into();
        large.digest = [3; 32];
        large.entities = (0..MAX_IDS).map(|_| Uuid::now_v7()).collect();
        documents.remember(large);
        assert!(documents.with(&[2; 32], |_| ()).is_none());
        assert!(documents.with(&[3; 32], |_| ()).is_some());
    }
}
