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
            let db = create_file(&new_path)?;
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
        let mut txn = begin_write(&self.db)?;
        if !durable {
            txn.set_durability(redb::Durability::None);
        }
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
        begin_write(&self.db)?.commit()?;
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

/// Makes a new redb file at `path` with every table, committed durably.
fn create_file(path: &Path) -> Result<redb::Database, EngineError> {
    let db = redb::Database::builder()
        .set_cache_size(CACHE_BYTES)
        .create(path)?;
    let txn = begin_write(&db)?;
    for table in Table::ALL {
        txn.open_table(definition(table))?;
    }
    txn.commit()?;
    Ok(db)
}

/// Opens the existing redb file at `path`, and refuses it if a table is
/// missing: tables are only ever created with the file, so a missing table
/// means the file went back to an earlier state, and opening it as an empty
/// store would silently lose the config and the outbox.
fn open_file(path: &Path) -> Result<redb::Database, EngineError> {
    let db = redb::Database::builder()
        .set_cache_size(CACHE_BYTES)
        .create(path)?;
    let txn = db.begin_read()?;
    for table in Table::ALL {
        match txn.open_table(definition(table)) {
            Ok(_) => {}
            Err(redb::TableError::TableDoesNotExist(_)) => {
                return Err(format!(
                    "table `{}` is missing from {}: the file is damaged",
                    table.name(),
                    path.display()
                )
                .into())
            }
            Err(e) => return Err(e.into()),
        }
    }
    drop(txn);
    Ok(db)
}

/// A write transaction, durable (`Durability::Immediate`) unless changed,
/// with quick-repair on. Quick-repair makes each durable commit two-phase
/// (the data is fsynced before the commit slot that points to it is
/// switched, and that switch is fsynced again) and saves the allocator
/// state with it, so that opening after a crash does not need redb 2's
/// full repair. Without it, a kill during that repair, after a kill during
/// a commit, could roll the file back to an empty database: the power-cut
/// test found exactly that after 2130 kills with redb 2.6.4's default
/// one-phase commit, a bug redb fixed only in 4.2 (which needs a newer Rust
/// than this workspace's 1.85).
fn begin_write(db: &redb::Database) -> Result<redb::WriteTransaction, EngineError> {
    let mut txn = db.begin_write()?;
    txn.set_durability(redb::Durability::Immediate);
    txn.set_quick_repair(true);
    Ok(txn)
}

/// The redb table of a [`Table`].
fn definition(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(table.name())
}

#[cfg(test)]
mod tests {
    //! Tests of what is specific to this engine: how a new file is made and
    //! how a damaged one is refused.

    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("bp-store-engine-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_file_whose_creation_was_cut_is_made_again() {
        // A kill while redb made a new file leaves it without its header
        // (redb writes that last), and redb refuses such a file. It is made
        // under another name and renamed when complete, so a leftover is
        // simply replaced: it never held a write.
        let dir = temp_dir("creation-cut");
        std::fs::write(dir.join(NEW_FILE_NAME), vec![0u8; 64 * 1024]).unwrap();
        let engine = Engine::open(&dir).unwrap();
        engine
            .write(&[Write::Put(Table::Meta, b"k", b"v")], Durability::Durable)
            .unwrap();
        drop(engine);
        assert!(!dir.join(NEW_FILE_NAME).exists());
        let engine = Engine::open(&dir).unwrap();
        assert_eq!(engine.get(Table::Meta, b"k").unwrap(), Some(b"v".to_vec()));
        drop(engine);

        // The same header-less file under the real name is refused.
        std::fs::write(dir.join(FILE_NAME), vec![0u8; 64 * 1024]).unwrap();
        assert!(Engine::open(&dir).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_file_missing_a_table_is_refused_not_opened_empty() {
        let dir = temp_dir("missing-table");
        let engine = Engine::open(&dir).unwrap();
        engine
            .write(
                &[Write::Put(Table::Outbox, b"k", b"v")],
                Durability::Durable,
            )
            .unwrap();
        drop(engine);
        {
            let db = redb::Database::create(dir.join(FILE_NAME)).unwrap();
            let txn = db.begin_write().unwrap();
            txn.delete_table(definition(Table::Meta)).unwrap();
            txn.commit().unwrap();
        }
        let error = Engine::open(&dir).err().unwrap().to_string();
        assert!(error.contains("table `meta` is missing"), "{error}");
        assert!(error.contains(FILE_NAME), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn another_process_holding_the_file_is_reported_as_locked() {
        let dir = temp_dir("locked");
        let _engine = Engine::open(&dir).unwrap();
        let error = Engine::open(&dir).err().unwrap();
        assert!(is_locked(&*error), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
