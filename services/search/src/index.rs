//! The tantivy index: where it lives, what it has applied, and writing to it.
//!
//! Each commit carries the change-log position it reflects (tantivy's commit payload),
//! so the position and the documents are saved together: a crash between the two cannot
//! leave an index that claims changes it does not hold.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};
use tantivy::directory::MmapDirectory;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, Term};
use tokio::sync::{Mutex, MutexGuard};
use uuid::Uuid;

use crate::document::EntityDoc;
use crate::error::SearchError;
use crate::schema::{self, Fields, SCHEMA_VERSION, WORDS};

/// Indexing memory, shared by the writer's threads. Enough for a million-column rebuild
/// to flush in a handful of segments; the writer's arenas are released between commits.
const WRITER_MEMORY: usize = 192 * 1024 * 1024;
const WRITER_THREADS: usize = 2;
/// Held by the process that owns an index directory, before anything in it is read or
/// cleared (tantivy's own writer lock comes only after).
const LOCK_FILE: &str = "tributary.lock";

/// What a commit records beside the documents.
#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    schema: u32,
    /// The change-log position the documents reflect.
    seq: i64,
}

/// Where the index was found on opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A usable index reflecting the change log up to `seq`.
    At { seq: i64 },
    /// Nothing usable: new, or written by a build with another schema (now emptied).
    Empty,
}

pub struct SearchIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    pub(crate) fields: Fields,
    applied: AtomicI64,
    dir: Option<PathBuf>,
    /// The directory lock, released when the index is dropped.
    _lock: Option<std::fs::File>,
}

impl SearchIndex {
    /// An index in memory, empty: for tests and for deployments without a disk to keep it.
    pub fn in_ram() -> Result<SearchIndex, SearchError> {
        let (schema, fields) = schema::build();
        SearchIndex::from_index(Index::create_in_ram(schema), fields, None, 0, None)
    }

    /// Opens the index kept in `dir`, creating it when absent. An index of another schema
    /// version is emptied: the caller rebuilds it.
    pub fn open_dir(dir: &Path) -> Result<(SearchIndex, Found), SearchError> {
        std::fs::create_dir_all(dir).map_err(|source| SearchError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let io = |source| SearchError::Io {
            path: dir.to_owned(),
            source,
        };
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(SearchError::Locked {
                    dir: dir.to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(io(err)),
        }
        let (schema, fields) = schema::build();
        let directory = MmapDirectory::open(dir)?;
        let existing = Index::exists(&directory).map_err(tantivy::TantivyError::from)?;
        if existing {
            let index = Index::open(directory.clone())?;
            let payload = index
                .load_metas()?
                .payload
                .and_then(|p| serde_json::from_str::<Payload>(&p).ok());
            match payload {
                Some(p) if p.schema == SCHEMA_VERSION && index.schema() == schema => {
                    let seq = p.seq;
                    let opened = SearchIndex::from_index(
                        index,
                        fields,
                        Some(dir.to_owned()),
                        seq,
                        Some(lock),
                    )?;
                    return Ok((opened, Found::At { seq }));
                }
                _ => {
                    tracing::info!(dir = %dir.display(), "search index from another version; rebuilding it");
                    drop(index);
                    clear_dir(dir)?;
                }
            }
        }
        let index = Index::create(
            MmapDirectory::open(dir)?,
            schema,
            tantivy::IndexSettings::default(),
        )?;
        let opened = SearchIndex::from_index(index, fields, Some(dir.to_owned()), 0, Some(lock))?;
        Ok((opened, Found::Empty))
    }

    fn from_index(
        index: Index,
        fields: Fields,
        dir: Option<PathBuf>,
        seq: i64,
        lock: Option<std::fs::File>,
    ) -> Result<SearchIndex, SearchError> {
        index.tokenizers().register(WORDS, schema::words_analyzer());
        let writer = index
            .writer_with_num_threads(WRITER_THREADS, WRITER_MEMORY)
            .map_err(|err| match err {
                tantivy::TantivyError::LockFailure(..) => SearchError::Locked {
                    dir: dir.clone().unwrap_or_default(),
                },
                other => other.into(),
            })?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            reader,
            writer: Mutex::new(writer),
            fields,
            applied: AtomicI64::new(seq),
            dir,
            _lock: lock,
        })
    }

    /// The change-log position the searchable documents reflect.
    pub fn applied_seq(&self) -> i64 {
        self.applied.load(Ordering::Acquire)
    }

    /// The directory the index lives in; `None` in memory.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// Starts a batch of writes; nothing is visible until [`IndexBatch::commit`].
    /// Batches are taken one at a time, so holding one also serialises change-log syncs.
    pub async fn batch(&self) -> IndexBatch<'_> {
        IndexBatch {
            index: self,
            writer: self.writer.lock().await,
            written: false,
        }
    }

    /// Live documents and bytes on disk (0 in memory).
    pub fn stats(&self) -> IndexStats {
        let searcher = self.searcher();
        IndexStats {
            documents: searcher.num_docs(),
            segments: searcher.segment_readers().len(),
            bytes_on_disk: self.dir.as_deref().map(dir_size).unwrap_or(0),
        }
    }

    /// The stored owner of the indexed entity `id`: `None` when not indexed.
    pub fn indexed_owner(&self, id: Uuid) -> Result<Option<Option<String>>, SearchError> {
        let searcher = self.searcher();
        let term = Term::from_field_text(self.fields.id, &id.to_string());
        let query = tantivy::query::TermQuery::new(term, tantivy::schema::IndexRecordOption::Basic);
        let hits = searcher.search(
            &query,
            &tantivy::collector::TopDocs::with_limit(1).order_by_score(),
        )?;
        let Some((_, address)) = hits.first() else {
            return Ok(None);
        };
        let doc: tantivy::TantivyDocument = searcher.doc(*address)?;
        use tantivy::schema::Value;
        Ok(Some(
            doc.get_first(self.fields.owner)
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        ))
    }
}

/// Sizes, for logs, `tributary reindex` and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IndexStats {
    pub documents: u64,
    pub segments: usize,
    pub bytes_on_disk: u64,
}

/// Writes in progress; dropped without [`IndexBatch::commit`], they are rolled back.
pub struct IndexBatch<'a> {
    index: &'a SearchIndex,
    writer: MutexGuard<'a, IndexWriter>,
    written: bool,
}

impl IndexBatch<'_> {
    /// Indexes `doc`, replacing any earlier document of the same entity.
    pub fn upsert(&mut self, doc: &EntityDoc) -> Result<(), SearchError> {
        let fields = &self.index.fields;
        self.writer
            .delete_term(Term::from_field_text(fields.id, &doc.id.to_string()));
        self.writer.add_document(doc.to_tantivy(fields))?;
        self.written = true;
        Ok(())
    }

    /// Indexes `doc`, known not to be indexed yet (a rebuild after [`IndexBatch::clear`]).
    pub fn add(&mut self, doc: &EntityDoc) -> Result<(), SearchError> {
        self.writer
            .add_document(doc.to_tantivy(&self.index.fields))?;
        self.written = true;
        Ok(())
    }

    pub fn remove(&mut self, id: Uuid) {
        self.writer
            .delete_term(Term::from_field_text(self.index.fields.id, &id.to_string()));
        self.written = true;
    }

    /// Removes every document: the start of a rebuild.
    pub fn clear(&mut self) -> Result<(), SearchError> {
        self.writer.delete_all_documents()?;
        self.written = true;
        Ok(())
    }

    /// Saves the batch as reflecting the change log up to `seq` and makes it searchable.
    /// Blocks while tantivy flushes: milliseconds for a request's writes, seconds for a
    /// rebuild, which only runs at start or from `tributary reindex`.
    pub fn commit(&mut self, seq: i64) -> Result<(), SearchError> {
        let payload = serde_json::to_string(&Payload {
            schema: SCHEMA_VERSION,
            seq,
        })
        .expect("the payload serialises");
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        self.index.reader.reload()?;
        self.index.applied.store(seq, Ordering::Release);
        self.written = false;
        Ok(())
    }
}

impl Drop for IndexBatch<'_> {
    fn drop(&mut self) {
        if self.written
            && let Err(err) = self.writer.rollback()
        {
            tracing::warn!(error = %err, "rolling back an abandoned search index batch failed");
        }
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Removes the index files in `dir`, leaving the directory.
fn clear_dir(dir: &Path) -> Result<(), SearchError> {
    let io = |source| SearchError::Io {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_type().map_err(io)?.is_file() && entry.file_name() != LOCK_FILE {
            std::fs::remove_file(entry.path()).map_err(io)?;
        }
    }
    Ok(())
}
