//! The box's durable store.
//!
//! A Bridgepoint box is usually switched off by pulling its plug, so what it
//! must remember across a power cut lives here, in one directory under
//! `data_dir`:
//! - the last good **provisioned config** pushed by central IT, with its
//!   version, so that on start the box runs on it before the broker is even
//!   reachable;
//! - the **outbox**: events written before they are published, removed only
//!   after the broker's ack, resent after a reconnect or a restart, in the
//!   order of their sequence numbers;
//! - **counters** (boots, calls, ...).
//!
//! Durability: [`Store::save_provisioned`], [`Store::clear_provisioned`] and
//! [`Store::enqueue_event`] are committed and fsynced before they return, so
//! an acknowledgement sent after them is never lost. [`Store::remove_event`]
//! and [`Store::increment_counter`] are "lazy": they are not fsynced when
//! they return but become durable with the next durable write, with the
//! first lazy write made more than a second after the last durable one,
//! or when the store is dropped. So a power cut can only lose lazy writes
//! made within about a second after the last durable commit. A removal lost
//! that way only makes the box publish that event again after the restart,
//! which consumers dedupe by the event's id; a counter may lose its last
//! increments.
//!
//! The engine is hidden behind this interface: everything engine-specific is
//! in the private module `engine` (one file), so a change of engine touches
//! that file only. The layout it is asked to keep — four tables of byte keys
//! and values, atomic multi-table writes, an optional fsync — is described
//! by the crate-private `Table`, `Write` and `Durability` in this file; the
//! on-disk layout and the guarantees are in `docs/storage.md`.

mod engine;
mod error;

pub use error::{EngineError, StoreError};

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use engine::Engine;

/// The on-disk format this firmware reads and writes, kept in `meta/format`.
pub const FORMAT: u64 = 1;

/// Key of the single record in the `provisioned` table.
const PROVISIONED_KEY: &[u8] = b"current";
/// Key in `meta` of the on-disk format.
const FORMAT_KEY: &[u8] = b"format";
/// Key in `meta` of the next outbox sequence number to assign.
const NEXT_SEQ_KEY: &[u8] = b"next_seq";
/// The first sequence number of a new store.
const FIRST_SEQ: u64 = 1;

/// The box's durable store. Cheap to share behind an `Arc`: every method
/// takes `&self` and the store is `Send + Sync`.
pub struct Store {
    dir: PathBuf,
    engine: Engine,
    /// Serialises the read-modify-write of the outbox's sequence number and
    /// of counters.
    write_lock: Mutex<()>,
}

/// The last good config provisioned by central IT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedConfig {
    /// The version central IT gave it.
    pub version: u64,
    /// The config, as the JSON it was received in.
    pub config_json: String,
}

/// An event waiting in the outbox for the broker's ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Its sequence number: strictly increasing, never reused.
    pub seq: u64,
    /// The event, as the JSON to publish.
    pub json: String,
}

/// A table of the store. Keys and values are bytes; each engine maps a
/// table to its own notion (here a tag in each log record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    /// `current` → version (u64 big-endian) followed by the config's JSON.
    Provisioned,
    /// seq (u64 big-endian, so byte order is seq order) → the event's JSON.
    Outbox,
    /// `format`, `next_seq` → u64 big-endian.
    Meta,
    /// counter name → u64 big-endian.
    Counters,
}

impl Table {
    /// Every table, in a fixed order.
    pub(crate) const ALL: [Table; 4] = [
        Table::Provisioned,
        Table::Outbox,
        Table::Meta,
        Table::Counters,
    ];

    /// The table's name in error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Provisioned => "provisioned",
            Table::Outbox => "outbox",
            Table::Meta => "meta",
            Table::Counters => "counters",
        }
    }
}

/// One change in an atomic write.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Write<'a> {
    /// Set `key` to `value` in a table.
    Put(Table, &'a [u8], &'a [u8]),
    /// Remove `key` from a table (no error if it is absent).
    Delete(Table, &'a [u8]),
}

/// Whether a write must be on disk when it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Committed and fsynced before returning.
    Durable,
    /// May stay unsynced until the next durable write, for at most about a
    /// second of further lazy writes, or until the store is dropped.
    Lazy,
}

impl Store {
    /// Opens the store in `dir`, creating the directory and the engine's
    /// files in it if needed. A corrupt store gives [`StoreError::Open`], a
    /// store another process has open [`StoreError::Locked`], both naming
    /// `dir`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let engine = Engine::open(dir).map_err(|source| {
            if engine::is_locked(&*source) {
                StoreError::Locked {
                    path: dir.to_path_buf(),
                }
            } else {
                StoreError::Open {
                    path: dir.to_path_buf(),
                    source,
                }
            }
        })?;
        let store = Store {
            dir: dir.to_path_buf(),
            engine,
            write_lock: Mutex::new(()),
        };
        match store.get_u64(Table::Meta, FORMAT_KEY)? {
            Some(FORMAT) => {}
            Some(found) => {
                return Err(StoreError::Format {
                    path: store.dir.clone(),
                    found,
                    expected: FORMAT,
                })
            }
            None => store.write(
                &[Write::Put(Table::Meta, FORMAT_KEY, &FORMAT.to_be_bytes())],
                Durability::Durable,
                "write",
                || key_name(Table::Meta, FORMAT_KEY),
            )?,
        }
        Ok(store)
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last good provisioned config, if the box has one.
    pub fn provisioned(&self) -> Result<Option<ProvisionedConfig>, StoreError> {
        let key = || key_name(Table::Provisioned, PROVISIONED_KEY);
        let Some(bytes) = self.get(Table::Provisioned, PROVISIONED_KEY)? else {
            return Ok(None);
        };
        if bytes.len() < 8 {
            return Err(
                self.malformed(key(), format!("{} bytes, expected at least 8", bytes.len()))
            );
        }
        let (version, json) = bytes.split_at(8);
        let version = u64::from_be_bytes(to_array(version));
        let config_json = String::from_utf8(json.to_vec())
            .map_err(|e| self.malformed(key(), format!("config is not UTF-8: {e}")))?;
        Ok(Some(ProvisionedConfig {
            version,
            config_json,
        }))
    }

    /// Replaces the provisioned config with `config_json` at `version`.
    /// Durable (flushed and fsynced) when it returns. The version is stored
    /// as given: whether an older version may replace a newer one is the
    /// caller's decision.
    pub fn save_provisioned(&self, version: u64, config_json: &str) -> Result<(), StoreError> {
        let mut value = Vec::with_capacity(8 + config_json.len());
        value.extend_from_slice(&version.to_be_bytes());
        value.extend_from_slice(config_json.as_bytes());
        self.write(
            &[Write::Put(Table::Provisioned, PROVISIONED_KEY, &value)],
            Durability::Durable,
            "write",
            || key_name(Table::Provisioned, PROVISIONED_KEY),
        )
    }

    /// Forgets the provisioned config (factory reset). Durable when it
    /// returns.
    pub fn clear_provisioned(&self) -> Result<(), StoreError> {
        self.write(
            &[Write::Delete(Table::Provisioned, PROVISIONED_KEY)],
            Durability::Durable,
            "remove",
            || key_name(Table::Provisioned, PROVISIONED_KEY),
        )
    }

    /// Puts an event in the outbox: assigns it the next sequence number
    /// (strictly increasing across restarts, never reused even after the
    /// event is removed), stores `render(seq)` under it and returns the
    /// entry. Durable when it returns. The sequence number and the event are
    /// written in one atomic write.
    pub fn enqueue_event(
        &self,
        render: impl FnOnce(u64) -> String,
    ) -> Result<OutboxEntry, StoreError> {
        let _guard = self.lock();
        let seq = self
            .get_u64(Table::Meta, NEXT_SEQ_KEY)?
            .unwrap_or(FIRST_SEQ);
        let next = seq.checked_add(1).ok_or_else(|| StoreError::SeqExhausted {
            path: self.dir.clone(),
        })?;
        let json = render(seq);
        let seq_key = seq.to_be_bytes();
        let next_value = next.to_be_bytes();
        self.write(
            &[
                Write::Put(Table::Outbox, &seq_key, json.as_bytes()),
                Write::Put(Table::Meta, NEXT_SEQ_KEY, &next_value),
            ],
            Durability::Durable,
            "write",
            || {
                format!(
                    "{} and {}",
                    key_name(Table::Outbox, &seq_key),
                    key_name(Table::Meta, NEXT_SEQ_KEY)
                )
            },
        )?;
        Ok(OutboxEntry { seq, json })
    }

    /// Up to `limit` events of the outbox, oldest (lowest seq) first.
    pub fn pending_events(&self, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = self.engine.scan(Table::Outbox, limit).map_err(|source| {
            self.engine_error("scan", Table::Outbox.name().to_string(), source)
        })?;
        rows.into_iter()
            .map(|(key, value)| {
                let name = || key_name(Table::Outbox, &key);
                let seq: [u8; 8] = key.as_slice().try_into().map_err(|_| {
                    self.malformed(name(), format!("key of {} bytes, expected 8", key.len()))
                })?;
                let json = String::from_utf8(value)
                    .map_err(|e| self.malformed(name(), format!("event is not UTF-8: {e}")))?;
                Ok(OutboxEntry {
                    seq: u64::from_be_bytes(seq),
                    json,
                })
            })
            .collect()
    }

    /// Removes an event from the outbox after the broker's ack; removing an
    /// absent event is not an error.
    ///
    /// Not fsynced before it returns (see the crate's durability notes): a
    /// removal lost at a power cut only makes the box publish that event
    /// again after the restart, and consumers dedupe events by their id.
    pub fn remove_event(&self, seq: u64) -> Result<(), StoreError> {
        let key = seq.to_be_bytes();
        self.write(
            &[Write::Delete(Table::Outbox, &key)],
            Durability::Lazy,
            "remove",
            || key_name(Table::Outbox, &key),
        )
    }

    /// Adds one to the counter `name` (absent counters are 0) and returns
    /// its new value, which saturates at `u64::MAX`. Not fsynced before it
    /// returns: the last increments may be lost at a power cut (see the
    /// crate's durability notes).
    pub fn increment_counter(&self, name: &str) -> Result<u64, StoreError> {
        let _guard = self.lock();
        let value = self
            .get_u64(Table::Counters, name.as_bytes())?
            .unwrap_or(0)
            .saturating_add(1);
        self.write(
            &[Write::Put(
                Table::Counters,
                name.as_bytes(),
                &value.to_be_bytes(),
            )],
            Durability::Lazy,
            "write",
            || key_name(Table::Counters, name.as_bytes()),
        )?;
        Ok(value)
    }

    /// The value of the counter `name` (0 if it was never incremented).
    pub fn counter(&self, name: &str) -> Result<u64, StoreError> {
        Ok(self.get_u64(Table::Counters, name.as_bytes())?.unwrap_or(0))
    }

    /// Keeps a small named record durably (flushed and fsynced when it
    /// returns): state that must survive a power cut exactly, such as the
    /// counter of the last signed command the box obeyed (a replay after a
    /// restart must still be refused) or what it knows about its update
    /// slots. Kept in `meta` under `record/<name>`.
    pub fn save_record(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let key = record_key(name);
        self.write(
            &[Write::Put(Table::Meta, &key, value)],
            Durability::Durable,
            "write",
            || key_name(Table::Meta, &key),
        )
    }

    /// The record `name`, if it was ever saved.
    pub fn record(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(Table::Meta, &record_key(name))
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The mutex guards no data, so a panic while it was held leaves
        // nothing inconsistent behind: ignore the poison.
        self.write_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.engine
            .get(table, key)
            .map_err(|source| self.engine_error("read", key_name(table, key), source))
    }

    fn get_u64(&self, table: Table, key: &[u8]) -> Result<Option<u64>, StoreError> {
        let Some(bytes) = self.get(table, key)? else {
            return Ok(None);
        };
        let array: [u8; 8] = bytes.as_slice().try_into().map_err(|_| {
            self.malformed(
                key_name(table, key),
                format!("{} bytes, expected an 8-byte integer", bytes.len()),
            )
        })?;
        Ok(Some(u64::from_be_bytes(array)))
    }

    fn write(
        &self,
        writes: &[Write<'_>],
        durability: Durability,
        operation: &'static str,
        key: impl FnOnce() -> String,
    ) -> Result<(), StoreError> {
        self.engine
            .write(writes, durability)
            .map_err(|source| self.engine_error(operation, key(), source))
    }

    fn engine_error(
        &self,
        operation: &'static str,
        key: String,
        source: EngineError,
    ) -> StoreError {
        StoreError::Engine {
            path: self.dir.clone(),
            operation,
            key,
            source,
        }
    }

    fn malformed(&self, key: String, reason: String) -> StoreError {
        StoreError::Malformed {
            path: self.dir.clone(),
            key,
            reason,
        }
    }
}

/// `table/key` for messages: the key as text if it is printable, outbox
/// keys as their seq, anything else in hex.
fn key_name(table: Table, key: &[u8]) -> String {
    if table == Table::Outbox {
        if let Ok(seq) = <[u8; 8]>::try_from(key) {
            return format!("outbox/{}", u64::from_be_bytes(seq));
        }
    }
    match std::str::from_utf8(key) {
        Ok(text) if !text.is_empty() && text.chars().all(|c| !c.is_control()) => {
            format!("{}/{text}", table.name())
        }
        _ => {
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            format!("{}/0x{hex}", table.name())
        }
    }
}

/// The `meta` key of the record `name`.
fn record_key(name: &str) -> Vec<u8> {
    format!("record/{name}").into_bytes()
}

/// The first 8 bytes of `bytes` (which the caller checked has 8).
fn to_array(bytes: &[u8]) -> [u8; 8] {
    let mut array = [0u8; 8];
    array.copy_from_slice(&bytes[..8]);
    array
}

#[cfg(test)]
mod tests;
