//! Unit tests of the store's interface, on a real engine in a temporary
//! directory.

use super::*;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A fresh directory under the system's temporary directory, removed when
/// dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "bp-store-unit-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn event(seq: u64) -> String {
    format!(r#"{{"id":"evt-{seq}","kind":"test"}}"#)
}

#[test]
fn a_new_store_is_empty() {
    let dir = TempDir::new("empty");
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.provisioned().unwrap(), None);
    assert!(store.pending_events(100).unwrap().is_empty());
    assert_eq!(store.counter("boots").unwrap(), 0);
    assert_eq!(store.dir(), dir.path());
}

#[test]
fn open_creates_missing_parent_directories() {
    let dir = TempDir::new("nested");
    let nested = dir.path().join("a/b/store");
    let store = Store::open(&nested).unwrap();
    store.save_provisioned(1, "{}").unwrap();
    assert!(nested.is_dir());
}

#[test]
fn provisioned_config_round_trips_and_is_replaced() {
    let dir = TempDir::new("provisioned");
    let store = Store::open(dir.path()).unwrap();
    store
        .save_provisioned(3, r#"{"video":{"fps":30}}"#)
        .unwrap();
    assert_eq!(
        store.provisioned().unwrap(),
        Some(ProvisionedConfig {
            version: 3,
            config_json: r#"{"video":{"fps":30}}"#.to_string()
        })
    );
    let unicode = r#"{"room":"Phòng tiếp công dân – Lạng Sơn"}"#;
    store.save_provisioned(4, unicode).unwrap();
    let config = store.provisioned().unwrap().unwrap();
    assert_eq!((config.version, config.config_json.as_str()), (4, unicode));
    // The version is stored as given, also an older one and an empty JSON.
    store.save_provisioned(2, "").unwrap();
    let config = store.provisioned().unwrap().unwrap();
    assert_eq!((config.version, config.config_json.as_str()), (2, ""));
}

#[test]
fn a_large_config_round_trips() {
    let dir = TempDir::new("large");
    let store = Store::open(dir.path()).unwrap();
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(300_000));
    store.save_provisioned(u64::MAX, &big).unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let config = store.provisioned().unwrap().unwrap();
    assert_eq!(config.version, u64::MAX);
    assert_eq!(config.config_json, big);
}

#[test]
fn clear_forgets_the_config_durably() {
    let dir = TempDir::new("clear");
    let store = Store::open(dir.path()).unwrap();
    store.save_provisioned(7, "{}").unwrap();
    store.clear_provisioned().unwrap();
    assert_eq!(store.provisioned().unwrap(), None);
    // Clearing twice is fine.
    store.clear_provisioned().unwrap();
    let entry = store.enqueue_event(event).unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.provisioned().unwrap(), None);
    // A factory reset of the config leaves the outbox alone.
    assert_eq!(store.pending_events(10).unwrap(), vec![entry]);
}

#[test]
fn everything_survives_a_reopen_after_drop() {
    let dir = TempDir::new("reopen");
    let store = Store::open(dir.path()).unwrap();
    store.save_provisioned(9, r#"{"v":9}"#).unwrap();
    let a = store.enqueue_event(event).unwrap();
    let b = store.enqueue_event(event).unwrap();
    store.increment_counter("boots").unwrap();
    store.increment_counter("boots").unwrap();
    drop(store);

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.provisioned().unwrap().unwrap().version, 9);
    assert_eq!(store.pending_events(10).unwrap(), vec![a, b]);
    assert_eq!(store.counter("boots").unwrap(), 2);
}

#[test]
fn seqs_start_at_one_and_render_sees_its_seq() {
    let dir = TempDir::new("seq");
    let store = Store::open(dir.path()).unwrap();
    let entry = store.enqueue_event(|seq| format!("seq={seq}")).unwrap();
    assert_eq!(
        entry,
        OutboxEntry {
            seq: 1,
            json: "seq=1".to_string()
        }
    );
    let entry = store.enqueue_event(|seq| format!("seq={seq}")).unwrap();
    assert_eq!(
        entry,
        OutboxEntry {
            seq: 2,
            json: "seq=2".to_string()
        }
    );
}

#[test]
fn seqs_increase_across_reopens_and_are_never_reused_after_removal() {
    let dir = TempDir::new("seq-reopen");
    let mut last = 0;
    for round in 0..5 {
        let store = Store::open(dir.path()).unwrap();
        for _ in 0..3 {
            let entry = store.enqueue_event(event).unwrap();
            assert!(
                entry.seq > last,
                "round {round}: seq {} after {last}",
                entry.seq
            );
            last = entry.seq;
        }
        // Empty the outbox entirely: the next seq must still be higher.
        for entry in store.pending_events(usize::MAX).unwrap() {
            store.remove_event(entry.seq).unwrap();
        }
        assert!(store.pending_events(10).unwrap().is_empty());
        let entry = store.enqueue_event(event).unwrap();
        assert_eq!(entry.seq, last + 1);
        last = entry.seq;
        store.remove_event(entry.seq).unwrap();
    }
    assert_eq!(last, 20);
}

#[test]
fn pending_events_are_oldest_first_and_limited() {
    let dir = TempDir::new("order");
    let store = Store::open(dir.path()).unwrap();
    // Past 255 and 65535 so that a little-endian or textual key would sort
    // wrongly.
    let mut entries = Vec::new();
    for _ in 0..300 {
        entries.push(store.enqueue_event(event).unwrap());
    }
    assert_eq!(store.pending_events(usize::MAX).unwrap(), entries);
    assert_eq!(store.pending_events(5).unwrap(), entries[..5].to_vec());
    assert!(store.pending_events(0).unwrap().is_empty());

    store.remove_event(1).unwrap();
    store.remove_event(3).unwrap();
    store.remove_event(256).unwrap();
    let seqs: Vec<u64> = store
        .pending_events(4)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, vec![2, 4, 5, 6]);
    let all = store.pending_events(usize::MAX).unwrap();
    assert_eq!(all.len(), 297);
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    assert!(all.iter().all(|e| e.json == event(e.seq)));
}

#[test]
fn lazy_writes_are_kept_when_the_store_is_dropped() {
    let dir = TempDir::new("lazy-drop");
    let store = Store::open(dir.path()).unwrap();
    let a = store.enqueue_event(event).unwrap();
    let b = store.enqueue_event(event).unwrap();
    // Both lazy: no durable write follows them before the drop.
    store.remove_event(a.seq).unwrap();
    store.increment_counter("acks").unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.pending_events(10).unwrap(), vec![b]);
    assert_eq!(store.counter("acks").unwrap(), 1);
}

#[test]
fn acknowledged_writes_are_fsynced_before_they_return_and_lazy_ones_are_not() {
    // A kill -9 keeps the page cache, so the power-cut test cannot tell a
    // synced write from an unsynced one: this checks it directly.
    let dir = TempDir::new("syncs");
    let store = Store::open(dir.path()).unwrap();
    let mut syncs = store.engine.syncs();
    let mut expect = |synced: bool, what: &str| {
        let now = store.engine.syncs();
        assert_eq!(now > syncs, synced, "{what}: {syncs} -> {now} syncs");
        syncs = now;
    };
    store.save_provisioned(1, "{}").unwrap();
    expect(true, "save_provisioned");
    let entry = store.enqueue_event(event).unwrap();
    expect(true, "enqueue_event");
    store.clear_provisioned().unwrap();
    expect(true, "clear_provisioned");
    // Lazy, as long as the last sync is less than a second ago.
    store.remove_event(entry.seq).unwrap();
    expect(false, "remove_event");
    store.increment_counter("boots").unwrap();
    expect(false, "increment_counter");
}

#[test]
fn removing_an_absent_event_is_not_an_error() {
    let dir = TempDir::new("remove-absent");
    let store = Store::open(dir.path()).unwrap();
    store.remove_event(42).unwrap();
    let entry = store.enqueue_event(event).unwrap();
    store.remove_event(entry.seq).unwrap();
    store.remove_event(entry.seq).unwrap();
    assert!(store.pending_events(10).unwrap().is_empty());
}

#[test]
fn counters_count_independently() {
    let dir = TempDir::new("counters");
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.increment_counter("calls").unwrap(), 1);
    assert_eq!(store.increment_counter("calls").unwrap(), 2);
    assert_eq!(store.increment_counter("boots").unwrap(), 1);
    assert_eq!(store.increment_counter("").unwrap(), 1);
    assert_eq!(store.counter("calls").unwrap(), 2);
    assert_eq!(store.counter("boots").unwrap(), 1);
    assert_eq!(store.counter("").unwrap(), 1);
    assert_eq!(store.counter("never").unwrap(), 0);
}

#[test]
fn concurrent_enqueues_get_distinct_seqs() {
    let dir = TempDir::new("threads");
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| {
                        store.increment_counter("n").unwrap();
                        store.enqueue_event(event).unwrap().seq
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=100).collect::<Vec<u64>>());
    assert_eq!(store.counter("n").unwrap(), 100);
}

#[test]
fn the_store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
}

#[test]
fn a_second_open_of_the_same_store_fails_naming_the_path() {
    let dir = TempDir::new("locked");
    let _store = Store::open(dir.path()).unwrap();
    let error = Store::open(dir.path()).err().unwrap();
    assert!(matches!(error, StoreError::Locked { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains(&dir.path().display().to_string()),
        "{error}"
    );
}

#[test]
fn a_path_that_is_a_file_gives_a_create_dir_error() {
    let dir = TempDir::new("file");
    std::fs::create_dir_all(dir.path()).unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let error = Store::open(&file).err().unwrap();
    assert!(matches!(error, StoreError::CreateDir { .. }), "{error:?}");
    assert!(error.to_string().contains("not-a-dir"), "{error}");
}

#[test]
fn a_corrupt_store_gives_an_open_error_naming_the_path() {
    let dir = TempDir::new("corrupt");
    let store = Store::open(dir.path()).unwrap();
    store.save_provisioned(1, "{}").unwrap();
    drop(store);
    // Overwrite every file the engine made with garbage.
    let mut overwritten = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let len = std::fs::metadata(&path).unwrap().len().max(64);
            std::fs::write(&path, vec![0x5a; len as usize]).unwrap();
            overwritten += 1;
        }
    }
    assert!(overwritten > 0);
    let error = Store::open(dir.path()).err().unwrap();
    assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("move"), "{message}");
    eprintln!("{message}");
}

#[test]
fn another_on_disk_format_is_refused() {
    let dir = TempDir::new("format");
    let store = Store::open(dir.path()).unwrap();
    store
        .write(
            &[Write::Put(Table::Meta, FORMAT_KEY, &2u64.to_be_bytes())],
            Durability::Durable,
            "write",
            || "meta/format".to_string(),
        )
        .unwrap();
    drop(store);
    let error = Store::open(dir.path()).err().unwrap();
    assert!(
        matches!(
            error,
            StoreError::Format {
                found: 2,
                expected: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error
        .to_string()
        .contains(&dir.path().display().to_string()));
}

#[test]
fn a_malformed_value_names_its_key() {
    let dir = TempDir::new("malformed");
    let store = Store::open(dir.path()).unwrap();
    store
        .write(
            &[
                Write::Put(Table::Counters, b"calls", b"abc"),
                Write::Put(Table::Provisioned, PROVISIONED_KEY, b"short"),
            ],
            Durability::Durable,
            "write",
            || "test".to_string(),
        )
        .unwrap();
    let error = store.counter("calls").err().unwrap();
    assert!(matches!(error, StoreError::Malformed { .. }), "{error:?}");
    assert!(error.to_string().contains("counters/calls"), "{error}");
    let error = store.increment_counter("calls").err().unwrap();
    assert!(error.to_string().contains("counters/calls"), "{error}");
    let error = store.provisioned().err().unwrap();
    assert!(error.to_string().contains("provisioned/current"), "{error}");
}

#[test]
fn key_names_are_readable() {
    assert_eq!(key_name(Table::Outbox, &42u64.to_be_bytes()), "outbox/42");
    assert_eq!(key_name(Table::Meta, b"next_seq"), "meta/next_seq");
    assert_eq!(key_name(Table::Counters, b"\x01\xff"), "counters/0x01ff");
    assert_eq!(key_name(Table::Counters, b""), "counters/0x");
}

#[test]
fn a_record_survives_a_reopen_and_is_apart_from_the_format_and_seq() {
    let dir = TempDir::new("records");
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.record("command_counter").unwrap(), None);
        store
            .save_record("command_counter", &17u64.to_be_bytes())
            .unwrap();
        store
            .save_record("slots", b"{\"last_good_slot\":\"A\"}")
            .unwrap();
        store
            .save_record("command_counter", &18u64.to_be_bytes())
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.record("command_counter").unwrap(),
        Some(18u64.to_be_bytes().to_vec())
    );
    assert_eq!(
        store.record("slots").unwrap().as_deref(),
        Some(&b"{\"last_good_slot\":\"A\"}"[..])
    );
    assert_eq!(
        store.enqueue_event(|seq| seq.to_string()).unwrap().seq,
        1,
        "next_seq untouched"
    );
}
