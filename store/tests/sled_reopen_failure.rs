//! The case that made the store leave sled 0.34.7, kept as a test.
//!
//! The power-cut test (`tests/power_cut.rs`) run against the sled engine
//! left, after 539 kills, a store that sled could never open again:
//! `Read corrupted data at file offset None`. The kill had come while sled,
//! recovering the store at open, was writing a new snapshot: sled writes it
//! to `snap.<lsn>.generating` and renames it when complete, but when it
//! looks for the latest snapshot it skips only `*.in___motion` files, so
//! the empty `.generating` file left by the kill is taken for the newest
//! snapshot and every later open fails on it. The box would then have lost
//! its config and its outbox at the next start.
//!
//! - `the_captured_store_does_not_open` opens that store, kept as it was
//!   left (less its `blobs/` directory, which the failure does not reach)
//!   in `tests/fixtures/sled-0.34.7-killed-while-recovering/`.
//! - `a_leftover_generating_snapshot_breaks_every_open` rebuilds the same
//!   state from scratch, deterministically.
//!
//! Both use sled with the settings the sled engine of this crate had. If a
//! later sled fixed this, these tests would fail: that is the moment to
//! re-read docs/storage.md, not to delete them.

use std::path::{Path, PathBuf};

/// The sled settings the store's sled engine used.
fn open_sled(dir: &Path) -> sled::Result<sled::Db> {
    sled::Config::new()
        .path(dir)
        .cache_capacity(8 * 1024 * 1024)
        .mode(sled::Mode::LowSpace)
        .flush_every_ms(Some(500))
        .open()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bp-store-sled-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn assert_corruption(result: sled::Result<sled::Db>) {
    match result {
        Err(sled::Error::Corruption { .. }) => {}
        Err(other) => panic!("expected sled to report corruption, got {other:?}"),
        Ok(_) => panic!("sled opened the store: the failure this test keeps is gone"),
    }
}

#[test]
fn the_captured_store_does_not_open() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sled-0.34.7-killed-while-recovering");
    let dir = temp_dir("captured");
    copy_dir(&fixture, &dir);
    assert_corruption(open_sled(&dir));
    // Twice: the failure is permanent, not a one-off.
    assert_corruption(open_sled(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_leftover_generating_snapshot_breaks_every_open() {
    let dir = temp_dir("synthetic");
    {
        let db = open_sled(&dir).unwrap();
        let tree = db.open_tree("provisioned").unwrap();
        tree.insert("current", &b"{\"version\":1}"[..]).unwrap();
        db.flush().unwrap();
    }
    // What a kill between creating and renaming the snapshot leaves: an
    // empty snapshot file with a newer lsn than any complete one.
    std::fs::write(dir.join("snap.7FFFFFFFFFFFFFFF.generating"), b"").unwrap();
    assert_corruption(open_sled(&dir));
    assert_corruption(open_sled(&dir));

    // Without the leftover the same store opens and has its data: the
    // snapshot handling alone makes the store unreadable.
    std::fs::remove_file(dir.join("snap.7FFFFFFFFFFFFFFF.generating")).unwrap();
    let db = open_sled(&dir).unwrap();
    let tree = db.open_tree("provisioned").unwrap();
    assert_eq!(
        tree.get("current").unwrap().as_deref(),
        Some(&b"{\"version\":1}"[..])
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
