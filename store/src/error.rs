//! The store's errors.
//!
//! Every variant names the store's directory, and those about a single
//! record also name the operation and the record's key (`outbox/42`,
//! `provisioned/current`, `counters/boots`, ...), so a log line alone says
//! what failed and where. The engine's own error is kept as the `source`,
//! boxed, so that no engine type leaks into this interface.

use std::path::PathBuf;

/// The storage engine's own error, boxed so this interface does not depend
/// on the engine.
pub type EngineError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error of the box's durable store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store's directory could not be created.
    #[error("cannot create the store directory {path}: {source}")]
    CreateDir {
        /// The store's directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// Another process (or another `Store` in this one) has the store open.
    #[error(
        "the store at {path} is already open in another process (is another bridgepointd running?)"
    )]
    Locked {
        /// The store's directory.
        path: PathBuf,
    },

    /// The engine could not open its files: they are corrupt or unreadable.
    #[error(
        "cannot open the store at {path}: {source} (if the store is corrupt, move \
         {path} aside: the box then starts unprovisioned with an empty outbox \
         and waits for its config from central IT)"
    )]
    Open {
        /// The store's directory.
        path: PathBuf,
        /// The engine's error.
        #[source]
        source: EngineError,
    },

    /// The store was written by a firmware with another on-disk format.
    #[error(
        "the store at {path} has on-disk format {found}, this firmware reads \
         format {expected}"
    )]
    Format {
        /// The store's directory.
        path: PathBuf,
        /// The format found in `meta/format`.
        found: u64,
        /// The format this firmware reads and writes.
        expected: u64,
    },

    /// A read, write, scan or flush failed in the engine.
    #[error("store at {path}: {operation} of {key} failed: {source}")]
    Engine {
        /// The store's directory.
        path: PathBuf,
        /// What was being done: `read`, `write`, `remove`, `scan`, ...
        operation: &'static str,
        /// The key or keys concerned, as `table/key`.
        key: String,
        /// The engine's error.
        #[source]
        source: EngineError,
    },

    /// A stored value could not be decoded.
    #[error("store at {path}: the value of {key} is malformed: {reason}")]
    Malformed {
        /// The store's directory.
        path: PathBuf,
        /// The key, as `table/key`.
        key: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The outbox's sequence numbers are used up (2^64 events).
    #[error("store at {path}: the outbox's sequence numbers are exhausted (meta/next_seq)")]
    SeqExhausted {
        /// The store's directory.
        path: PathBuf,
    },
}
