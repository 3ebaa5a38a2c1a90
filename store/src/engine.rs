//! The storage engine behind [`crate::Store`]: redb 2.
//!
//! This is the only file that knows the engine. The store is one redb file,
//! `store.redb`, in the store's directory (made as `store.redb.new` and
//! renamed once complete, see [`Engine::open`]), with one redb table (byte
//! keys, byte values) per [`Table`], all created with the
//! file. Every write is one redb write transaction, so a write that touches
//! several tables is atomic, also across a crash.
//!
//! Durability: a [`Durability::Durable`] write commits with
//! `redb::Durability::Immediate`, which fsyncs (`fdatasync`) the file before
//! `commit` returns. A [`Durability::Lazy`] write commits with
//! `redb::Durability::None`: nothing is synced, and after a crash the store
//! comes back as of the last durable commit. Any durable commit makes every
//! lazy commit before it durable, a lazy write made [`LAZY_SYNC_INTERVAL`]
//! or more after the last durable commit commits durably itself, and
//! dropping the engine makes pending lazy writes durable. So a crash can
//! only lose lazy writes made within [`LAZY_SYNC_INTERVAL`] after the last
//! durable commit.
//!
//! Why redb and not sled, which the design first named: see
//! `docs/storage.md` and `tests/sled_reopen_failure.rs`.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redb::{ReadableTable, TableDefinition};

use crate::{Durability, EngineError, Table, Write};

/// The engine's file in the store's directory.
const FILE_NAME: &str = "store.redb";
/// Where a new store's file is made before it is renamed to [`FILE_NAME`].
const NEW_FILE_NAME: &str = "store.redb.new";

/// How much of the file redb caches in memory. The store holds one config,
/// a bounded outbox and a few counters; the box is a Raspberry Pi.
const CACHE_BYTES: usize = 4 * 1024 * 1024;

/// The longest time lazy writes stay unsynced while writes keep coming.
pub(crate) const LAZY_SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// A key and its value, as read by [`Engine::scan`].
pub(crate) type Row = (Vec<u8>, Vec<u8>);

/// An open redb database.
pub(crate) struct Engine {
    db: redb::Database,
    /// When the last durable commit returned, and whether lazy commits were
    /// made since.
    sync: Mutex<SyncState>,
}

struct SyncState {
    last_durable: Instant,
    lazy_pending: bool,
}

impl Engine {
    /// Opens (creating if needed) the database in `dir`, which exists. An
    /// unclean shutdown is repaired here (redb checks the file's checksums
    /// and rebuilds its allocator state).
    ///
    /// A new database is made as `store.redb.new`, with all its tables,
    /// fsynced, and only then renamed to `store.redb` (and the directory
    /// fsynced): redb writes a new file's header last, so a file whose
    /// creation was cut by a power cut has no valid header and redb refuses
    /// to open it. A leftover `.new` file never held a write, so it is
    /// simply made again.
    pub(crate) fn open(dir: &Path) -> Result<Engine, EngineError> {
        let path = dir.join(FILE_NAME);
        if !path.exists() {
            let new_path = dir.join(NEW_FILE_NAME);
            match std::fs::remove_file(&new_path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            let db = open_file(&new_path)?;
            drop(db);
            std::fs::File::open(&new_path)?.sync_all()?;
            std::fs::rename(&new_path, &path)?;
            std::fs::File::open(dir)?.sync_all()?;
        }
        let db = open_file(&path)?;
        Ok(Engine {
            db,
            sync: Mutex::new(SyncState {
                last_durable: Instant::now(),
                lazy_pending: false,
            }),
        })
    }

    /// The value of `key` in `table`.
    pub(crate) fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(definition(table))?;
        Ok(table.get(key)?.map(|value| value.value().to_vec()))
    }

    /// Applies `writes` atomically in one transaction; a durable one is
    /// fsynced before this returns.
    pub(crate) fn write(
        &self,
        writes: &[Write<'_>],
        durability: Durability,
    ) -> Result<(), EngineError> {
        let mut sync = self
            .sync
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let durable =
            durability == Durability::Durable || sync.last_durable.elapsed() >= LAZY_SYNC_INTERVAL;
        let mut txn = self.db.begin_write()?;
        txn.set_durability(if durable {
            redb::Durability::Immediate
        } else {
            redb::Durability::None
        });
        for write in writes {
            match *write {
                Write::Put(table, key, value) => {
                    txn.open_table(definition(table))?.insert(key, value)?;
                }
                Write::Delete(table, key) => {
                    txn.open_table(definition(table))?.remove(key)?;
                }
            }
        }
        txn.commit()?;
        if durable {
            sync.last_durable = Instant::now();
            sync.lazy_pending = false;
        } else {
            sync.lazy_pending = true;
        }
        Ok(())
    }

    /// Up to `limit` rows of `table`, in key order.
    pub(crate) fn scan(&self, table: Table, limit: usize) -> Result<Vec<Row>, EngineError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(definition(table))?;
        let mut rows = Vec::new();
        for row in table.iter()?.take(limit) {
            let (key, value) = row?;
            rows.push((key.value().to_vec(), value.value().to_vec()));
        }
        Ok(rows)
    }

    /// Makes pending lazy writes durable with an empty durable commit.
    fn sync_lazy(&self) -> Result<(), EngineError> {
        let mut sync = self
            .sync
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !sync.lazy_pending {
            return Ok(());
        }
        let mut txn = self.db.begin_write()?;
        txn.set_durability(redb::Durability::Immediate);
        txn.commit()?;
        sync.last_durable = Instant::now();
        sync.lazy_pending = false;
        Ok(())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Best effort: if it fails, the lazy writes are lost as at a power
        // cut, which their callers accept.
        let _ = self.sync_lazy();
    }
}

/// Whether an error of [`Engine::open`] means that the store is open
/// elsewhere.
pub(crate) fn is_locked(error: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        error.downcast_ref::<redb::DatabaseError>(),
        Some(redb::DatabaseError::DatabaseAlreadyOpen)
    )
}

/// Opens or creates the redb file at `path` and makes sure every table
/// exists, with a durable commit.
fn open_file(path: &Path) -> Result<redb::Database, EngineError> {
    let db = redb::Database::builder()
        .set_cache_size(CACHE_BYTES)
        .create(path)?;
    let mut txn = db.begin_write()?;
    txn.set_durability(redb::Durability::Immediate);
    for table in Table::ALL {
        txn.open_table(definition(table))?;
    }
    txn.commit()?;
    Ok(db)
}

/// The redb table of a [`Table`].
fn definition(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(table.name())
}
