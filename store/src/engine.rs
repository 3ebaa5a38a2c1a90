//! The storage engine behind [`crate::Store`]: an append-only log file.
//!
//! This is the only file that knows the engine. The store's data is small
//! (one config, an outbox the daemon keeps short, a few counters), so the
//! whole of it is kept in memory and every write is appended to one file,
//! `store.log`, in the store's directory:
//!
//! ```text
//! header:  b"BPSTLOG1"
//! record:  len: u32 LE | crc: u32 LE | payload (len bytes)
//! payload: one or more ops
//! op:      1u8 (put)    | table: u8 | key_len: u32 LE | key | value_len: u32 LE | value
//!          2u8 (delete) | table: u8 | key_len: u32 LE | key
//! ```
//!
//! `crc` is the CRC-32 (IEEE) of `len` and the payload. One write (one call
//! of [`Engine::write`]) is one record, so it is atomic: at open the log is
//! replayed up to the first record that is incomplete or fails its CRC — the
//! torn tail left by a crash in the middle of an append — and the file is
//! truncated there.
//!
//! Durability: a [`Durability::Durable`] write is appended and then
//! `fdatasync`ed before it returns, which also makes every earlier append
//! durable; so a torn tail can only hold writes that were never
//! acknowledged. A [`Durability::Lazy`] write is appended without a sync,
//! unless the last sync is [`LAZY_SYNC_INTERVAL`] or more ago; dropping the
//! engine syncs too. After a kill the kernel still writes the appended bytes
//! back; at a power cut only lazy writes made within [`LAZY_SYNC_INTERVAL`]
//! after the last sync can be lost.
//!
//! Compaction: when the log has grown past [`COMPACT_MIN_BYTES`] and to more
//! than [`COMPACT_RATIO`] times what is live, the live data is written as
//! one record to `store.log.new`, which is fsynced and renamed over
//! `store.log`, and the directory is fsynced. A crash leaves either the old
//! or the new log complete; a leftover `store.log.new` is deleted at open. A
//! new store is made the same way, so `store.log` always has its header.
//! The VM power-cut test lowers [`COMPACT_MIN_BYTES`] through
//! [`COMPACT_MIN_BYTES_ENV`] so that its cuts land in compactions often.
//!
//! A lock file, `store.lock`, held with `flock` while the engine is open,
//! keeps a second process out (`store.log` itself is replaced by compaction,
//! so it cannot carry the lock).
//!
//! Why this and not sled or redb: see `docs/storage.md`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::{Durability, EngineError, Table, Write};

/// The log file in the store's directory.
const LOG_NAME: &str = "store.log";
/// Where a new or compacted log is written before it is renamed.
const NEW_LOG_NAME: &str = "store.log.new";
/// The lock file in the store's directory.
const LOCK_NAME: &str = "store.lock";
/// The first bytes of the log: what it is and its format version.
const MAGIC: &[u8; 8] = b"BPSTLOG1";
/// Bytes before a record's payload: its length and CRC.
const RECORD_HEADER: usize = 8;
const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;

/// The longest time lazy writes stay unsynced while writes keep coming.
pub(crate) const LAZY_SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// The log is never compacted below this size (unless
/// [`COMPACT_MIN_BYTES_ENV`] says otherwise).
const COMPACT_MIN_BYTES: u64 = 1024 * 1024;
/// An environment variable that replaces [`COMPACT_MIN_BYTES`] when it
/// holds a number: set by the VM power-cut test (`scripts/store-powercut`)
/// to make compactions, and so cuts inside them, frequent. Never set on the
/// box.
const COMPACT_MIN_BYTES_ENV: &str = "BP_STORE_COMPACT_MIN_BYTES";
/// The log is compacted when it is this many times larger than the live data.
const COMPACT_RATIO: u64 = 4;

/// A key and its value, as read by [`Engine::scan`].
pub(crate) type Row = (Vec<u8>, Vec<u8>);

/// The store is open in another process (or twice in this one).
#[derive(Debug)]
struct Locked;

impl std::fmt::Display for Locked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{LOCK_NAME} is locked by another process")
    }
}

impl std::error::Error for Locked {}

/// An open store: its data in memory and its log file.
pub(crate) struct Engine {
    state: Mutex<State>,
    /// Held (and `flock`ed) while the engine is open.
    _lock: File,
}

struct State {
    dir: PathBuf,
    /// One map per table, indexed by [`table_id`].
    tables: [BTreeMap<Vec<u8>, Vec<u8>>; 4],
    log: File,
    /// The log's length: where the next record goes.
    log_len: u64,
    /// The size the live data would take as one record.
    live_bytes: u64,
    /// [`COMPACT_MIN_BYTES`], or what [`COMPACT_MIN_BYTES_ENV`] says.
    compact_min_bytes: u64,
    last_sync: Instant,
    lazy_pending: bool,
    /// How many times the log was fsynced (for tests).
    syncs: u64,
    /// Set when an append or a sync failed: what is on disk is then not
    /// known, so no further write is accepted until the store is reopened.
    failed: Option<String>,
}

impl Engine {
    /// Opens (creating if needed) the store in `dir`, which exists: replays
    /// the log and cuts off a torn tail.
    pub(crate) fn open(dir: &Path) -> Result<Engine, EngineError> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(LOCK_NAME))?;
        // SAFETY: flock on a file descriptor that `lock` owns for the call.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == std::io::ErrorKind::WouldBlock {
                return Err(Box::new(Locked));
            }
            return Err(error.into());
        }

        let path = dir.join(LOG_NAME);
        let new_path = dir.join(NEW_LOG_NAME);
        remove_if_present(&new_path)?;
        if !path.exists() {
            let (_, dir_synced) = write_log(dir, &encode_snapshot(&Default::default()))?;
            dir_synced?;
        }
        let mut log = OpenOptions::new().read(true).write(true).open(&path)?;
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes)?;
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(format!("{} is not a store log (bad header)", path.display()).into());
        }

        let mut tables: [BTreeMap<Vec<u8>, Vec<u8>>; 4] = Default::default();
        let mut at = MAGIC.len();
        while let Some((payload, next)) = next_record(&bytes, at) {
            apply_payload(&mut tables, payload).map_err(|e| {
                format!("{}: record at byte {at} is malformed: {e}", path.display())
            })?;
            at = next;
        }
        let log_len = at as u64;
        if log_len < bytes.len() as u64 {
            // The torn tail of an append that was never acknowledged.
            log.set_len(log_len)?;
            log.sync_data()?;
        }
        let live_bytes = live_size(&tables);
        Ok(Engine {
            state: Mutex::new(State {
                dir: dir.to_path_buf(),
                tables,
                log,
                log_len,
                live_bytes,
                compact_min_bytes: std::env::var(COMPACT_MIN_BYTES_ENV)
                    .ok()
                    .and_then(|bytes| bytes.parse().ok())
                    .unwrap_or(COMPACT_MIN_BYTES),
                last_sync: Instant::now(),
                lazy_pending: false,
                syncs: 0,
                failed: None,
            }),
            _lock: lock,
        })
    }

    /// The value of `key` in `table`.
    pub(crate) fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        let state = self.lock();
        Ok(state.tables[table_id(table) as usize].get(key).cloned())
    }

    /// Appends `writes` as one record (atomic), syncing it before this
    /// returns if it is durable, then applies it in memory.
    pub(crate) fn write(
        &self,
        writes: &[Write<'_>],
        durability: Durability,
    ) -> Result<(), EngineError> {
        let mut state = self.lock();
        if let Some(failure) = &state.failed {
            return Err(format!("an earlier write failed ({failure}); reopen the store").into());
        }
        let record = encode_record(writes)?;
        let at = state.log_len;
        if let Err(error) = state.log.write_all_at(&record, at) {
            // Cut the partial record off, so later records stay readable.
            let cut = state.log.set_len(at);
            if let Err(cut_error) = cut {
                state.failed = Some(format!("append: {error}; cutting it off: {cut_error}"));
            }
            return Err(error.into());
        }
        state.log_len += record.len() as u64;
        let sync =
            durability == Durability::Durable || state.last_sync.elapsed() >= LAZY_SYNC_INTERVAL;
        if sync {
            if let Err(error) = state.log.sync_data() {
                state.failed = Some(format!("fdatasync: {error}"));
                return Err(error.into());
            }
            state.last_sync = Instant::now();
            state.lazy_pending = false;
            state.syncs += 1;
        } else {
            state.lazy_pending = true;
        }
        for write in writes {
            apply(&mut state.tables, *write);
        }
        state.live_bytes = live_size(&state.tables);
        if state.log_len >= state.compact_min_bytes
            && state.log_len > COMPACT_RATIO * state.live_bytes
        {
            // The write itself is done; a failed compaction is retried
            // after the next write.
            let _ = state.compact();
        }
        Ok(())
    }

    /// Up to `limit` rows of `table`, in key order.
    pub(crate) fn scan(&self, table: Table, limit: usize) -> Result<Vec<Row>, EngineError> {
        let state = self.lock();
        Ok(state.tables[table_id(table) as usize]
            .iter()
            .take(limit)
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect())
    }

    /// How many times the log has been fsynced since the engine was opened
    /// (compactions included): lets tests check which writes are durable,
    /// which a kill -9 cannot tell.
    #[cfg(test)]
    pub(crate) fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while the state was held cannot have left it half
        // updated: the log is appended before memory is changed, and memory
        // is changed by infallible map operations.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let state = self.lock();
        if state.lazy_pending && state.failed.is_none() {
            // Best effort: if it fails, the lazy writes are lost as at a
            // power cut, which their callers accept.
            let _ = state.log.sync_data();
        }
    }
}

impl State {
    /// Replaces the log with one holding only the live data.
    fn compact(&mut self) -> Result<(), EngineError> {
        let snapshot = encode_snapshot(&self.tables);
        let (log, dir_synced) = write_log(&self.dir, &snapshot)?;
        // Renamed: from now on appends must go to the new log.
        self.log = log;
        self.log_len = snapshot.len() as u64;
        if let Err(error) = dir_synced {
            // Whether the rename is durable is unknown, so whether later
            // appends would be found after a power cut is unknown too.
            self.failed = Some(format!("fsync of the directory after compaction: {error}"));
            return Err(error.into());
        }
        self.last_sync = Instant::now();
        self.lazy_pending = false;
        self.syncs += 1;
        Ok(())
    }
}

/// Writes a complete log to `store.log.new`, fsyncs it and renames it to
/// `store.log`; an error here means the old log (if any) is still the log.
/// Returns the new log, open, and the result of fsyncing the directory
/// after the rename.
fn write_log(dir: &Path, contents: &[u8]) -> Result<(File, std::io::Result<()>), EngineError> {
    let new_path = dir.join(NEW_LOG_NAME);
    let path = dir.join(LOG_NAME);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&new_path)?;
    let written = file
        .write_all_at(contents, 0)
        .and_then(|()| file.sync_all());
    if let Err(error) = written {
        let _ = std::fs::remove_file(&new_path);
        return Err(error.into());
    }
    std::fs::rename(&new_path, &path)?;
    let dir_synced = File::open(dir).and_then(|dir| dir.sync_all());
    Ok((file, dir_synced))
}

/// The header and, if there is live data, one record putting all of it.
fn encode_snapshot(tables: &[BTreeMap<Vec<u8>, Vec<u8>>; 4]) -> Vec<u8> {
    let mut payload = Vec::new();
    for table in Table::ALL {
        for (key, value) in &tables[table_id(table) as usize] {
            encode_op(&mut payload, Write::Put(table, key, value));
        }
    }
    let mut log = MAGIC.to_vec();
    if !payload.is_empty() {
        log.extend_from_slice(&frame(&payload));
    }
    log
}

/// One record holding `writes`.
fn encode_record(writes: &[Write<'_>]) -> Result<Vec<u8>, EngineError> {
    if writes.is_empty() {
        return Err("an empty write".into());
    }
    let mut payload = Vec::new();
    for write in writes {
        encode_op(&mut payload, *write);
    }
    if u32::try_from(payload.len()).is_err() {
        return Err(format!("a write of {} bytes is too large", payload.len()).into());
    }
    Ok(frame(&payload))
}

fn encode_op(payload: &mut Vec<u8>, write: Write<'_>) {
    match write {
        Write::Put(table, key, value) => {
            payload.push(OP_PUT);
            payload.push(table_id(table));
            push_bytes(payload, key);
            push_bytes(payload, value);
        }
        Write::Delete(table, key) => {
            payload.push(OP_DELETE);
            payload.push(table_id(table));
            push_bytes(payload, key);
        }
    }
}

fn push_bytes(payload: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values are far below 4 GiB; `encode_record` checks the total.
    payload.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    payload.extend_from_slice(bytes);
}

/// `len | crc | payload`.
fn frame(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_le_bytes();
    let mut record = Vec::with_capacity(RECORD_HEADER + payload.len());
    record.extend_from_slice(&len);
    record.extend_from_slice(&crc32(&[&len, payload]).to_le_bytes());
    record.extend_from_slice(payload);
    record
}

/// The payload of the record at `at` and where the next one starts; `None`
/// at the end of the log or at a torn or damaged record.
fn next_record(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let header = bytes.get(at..at.checked_add(RECORD_HEADER)?)?;
    let len_bytes: [u8; 4] = header[..4].try_into().ok()?;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    let len = u32::from_le_bytes(len_bytes) as usize;
    if len == 0 {
        return None;
    }
    let start = at + RECORD_HEADER;
    let payload = bytes.get(start..start.checked_add(len)?)?;
    (crc32(&[&len_bytes, payload]) == crc).then_some((payload, start + len))
}

/// Applies a record's ops to the tables.
fn apply_payload(
    tables: &mut [BTreeMap<Vec<u8>, Vec<u8>>; 4],
    payload: &[u8],
) -> Result<(), String> {
    let mut rest = payload;
    while !rest.is_empty() {
        let (&op, after) = rest.split_first().ok_or("truncated op")?;
        let (&id, after) = after.split_first().ok_or("truncated op")?;
        let table = table_from_id(id).ok_or_else(|| format!("unknown table {id}"))?;
        let (key, after) = take_bytes(after)?;
        rest = match op {
            OP_PUT => {
                let (value, after) = take_bytes(after)?;
                apply(tables, Write::Put(table, key, value));
                after
            }
            OP_DELETE => {
                apply(tables, Write::Delete(table, key));
                after
            }
            _ => return Err(format!("unknown op {op}")),
        };
    }
    Ok(())
}

fn take_bytes(bytes: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let len_bytes: [u8; 4] = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or("truncated length")?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let value = bytes.get(4..4 + len).ok_or("truncated bytes")?;
    Ok((value, &bytes[4 + len..]))
}

fn apply(tables: &mut [BTreeMap<Vec<u8>, Vec<u8>>; 4], write: Write<'_>) {
    match write {
        Write::Put(table, key, value) => {
            tables[table_id(table) as usize].insert(key.to_vec(), value.to_vec());
        }
        Write::Delete(table, key) => {
            tables[table_id(table) as usize].remove(key);
        }
    }
}

/// The size of the live data as one record (what compaction would write).
fn live_size(tables: &[BTreeMap<Vec<u8>, Vec<u8>>; 4]) -> u64 {
    let entries: usize = tables
        .iter()
        .flat_map(|table| table.iter())
        .map(|(key, value)| 10 + key.len() + value.len())
        .sum();
    (MAGIC.len() + RECORD_HEADER + entries) as u64
}

fn table_id(table: Table) -> u8 {
    match table {
        Table::Provisioned => 0,
        Table::Outbox => 1,
        Table::Meta => 2,
        Table::Counters => 3,
    }
}

fn table_from_id(id: u8) -> Option<Table> {
    Table::ALL.into_iter().find(|table| table_id(*table) == id)
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`) over `parts` in order.
fn crc32(parts: &[&[u8]]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut crc = i as u32;
            let mut bit = 0;
            while bit < 8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
                bit += 1;
            }
            table[i] = crc;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for part in parts {
        for &byte in *part {
            crc = TABLE[((crc ^ byte as u32) & 0xff) as usize] ^ (crc >> 8);
        }
    }
    !crc
}

/// Whether an error of [`Engine::open`] means that the store is open
/// elsewhere.
pub(crate) fn is_locked(error: &(dyn std::error::Error + 'static)) -> bool {
    error.downcast_ref::<Locked>().is_some()
}

#[cfg(test)]
mod tests {
    //! Tests of what is specific to this engine: the log's format, torn
    //! tails, compaction, creation, the lock.

    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("bp-store-engine-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn put<'a>(table: Table, key: &'a [u8], value: &'a [u8]) -> Write<'a> {
        Write::Put(table, key, value)
    }

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b""]), 0);
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_what_came_before_is_kept() {
        let dir = temp_dir("torn");
        let engine = Engine::open(&dir).unwrap();
        engine
            .write(&[put(Table::Meta, b"a", b"1")], Durability::Durable)
            .unwrap();
        engine
            .write(&[put(Table::Meta, b"b", b"2")], Durability::Durable)
            .unwrap();
        drop(engine);
        let log = dir.join(LOG_NAME);
        let full = std::fs::read(&log).unwrap();
        // Every cut inside the second record keeps exactly the first.
        let second = full.len() - (RECORD_HEADER + 2 + 4 + 1 + 4 + 1);
        for cut in second..full.len() {
            std::fs::write(&log, &full[..cut]).unwrap();
            let engine = Engine::open(&dir).unwrap();
            assert_eq!(
                engine.get(Table::Meta, b"a").unwrap(),
                Some(b"1".to_vec()),
                "cut {cut}"
            );
            assert_eq!(engine.get(Table::Meta, b"b").unwrap(), None, "cut {cut}");
            drop(engine);
            assert_eq!(std::fs::metadata(&log).unwrap().len(), second as u64);
        }
        // Garbage after the last record (zeros, as a filesystem can leave
        // them after a power cut) is cut off too.
        let mut padded = full.clone();
        padded.extend_from_slice(&[0u8; 4096]);
        std::fs::write(&log, &padded).unwrap();
        let engine = Engine::open(&dir).unwrap();
        assert_eq!(engine.get(Table::Meta, b"b").unwrap(), Some(b"2".to_vec()));
        drop(engine);
        assert_eq!(std::fs::read(&log).unwrap(), full);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_multi_table_write_is_one_record() {
        let dir = temp_dir("atomic");
        let engine = Engine::open(&dir).unwrap();
        let before = std::fs::metadata(dir.join(LOG_NAME)).unwrap().len();
        engine
            .write(
                &[
                    put(Table::Outbox, b"k", b"event"),
                    put(Table::Meta, b"next", b"2"),
                ],
                Durability::Durable,
            )
            .unwrap();
        drop(engine);
        let log = dir.join(LOG_NAME);
        let full = std::fs::read(&log).unwrap();
        // Cut one byte short: neither change is there.
        std::fs::write(&log, &full[..full.len() - 1]).unwrap();
        let engine = Engine::open(&dir).unwrap();
        assert_eq!(engine.get(Table::Outbox, b"k").unwrap(), None);
        assert_eq!(engine.get(Table::Meta, b"next").unwrap(), None);
        assert_eq!(std::fs::metadata(&log).unwrap().len(), before);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn compaction_keeps_the_live_data_and_bounds_the_log() {
        let dir = temp_dir("compact");
        let engine = Engine::open(&dir).unwrap();
        let value = vec![7u8; 10_000];
        for i in 0u32..2_000 {
            let key = i.to_be_bytes();
            engine
                .write(&[put(Table::Outbox, &key, &value)], Durability::Lazy)
                .unwrap();
            if i >= 10 {
                let old = (i - 10).to_be_bytes();
                engine
                    .write(&[Write::Delete(Table::Outbox, &old)], Durability::Lazy)
                    .unwrap();
            }
        }
        let len = std::fs::metadata(dir.join(LOG_NAME)).unwrap().len();
        assert!(len < 2 * COMPACT_MIN_BYTES, "log of {len} bytes");
        drop(engine);
        let engine = Engine::open(&dir).unwrap();
        let rows = engine.scan(Table::Outbox, usize::MAX).unwrap();
        let keys: Vec<u32> = rows
            .iter()
            .map(|(k, _)| u32::from_be_bytes(k[..].try_into().unwrap()))
            .collect();
        assert_eq!(keys, (1990..2000).collect::<Vec<u32>>());
        assert!(rows.iter().all(|(_, v)| *v == value));
        assert!(!dir.join(NEW_LOG_NAME).exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_leftover_new_log_is_ignored_and_removed() {
        // What a crash during compaction or creation leaves: the old log is
        // complete (or absent, for a new store) and is what counts.
        let dir = temp_dir("leftover");
        let engine = Engine::open(&dir).unwrap();
        engine
            .write(&[put(Table::Meta, b"a", b"1")], Durability::Durable)
            .unwrap();
        drop(engine);
        std::fs::write(dir.join(NEW_LOG_NAME), b"BPSTLOG1 half written").unwrap();
        let engine = Engine::open(&dir).unwrap();
        assert_eq!(engine.get(Table::Meta, b"a").unwrap(), Some(b"1".to_vec()));
        assert!(!dir.join(NEW_LOG_NAME).exists());
        drop(engine);

        let fresh = temp_dir("leftover-new");
        std::fs::write(fresh.join(NEW_LOG_NAME), vec![0u8; 100]).unwrap();
        let engine = Engine::open(&fresh).unwrap();
        assert_eq!(engine.scan(Table::Meta, 10).unwrap(), vec![]);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&fresh);
    }

    #[test]
    fn a_log_without_its_header_is_refused() {
        let dir = temp_dir("header");
        std::fs::write(dir.join(LOG_NAME), b"something else").unwrap();
        let error = Engine::open(&dir).err().unwrap().to_string();
        assert!(error.contains("not a store log"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_second_open_is_reported_as_locked() {
        let dir = temp_dir("locked");
        let engine = Engine::open(&dir).unwrap();
        let error = Engine::open(&dir).err().unwrap();
        assert!(is_locked(&*error), "{error}");
        drop(engine);
        Engine::open(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
