//! A full data partition loses no event: the event the store cannot take
//! waits in memory, the box's status says so (`problem`), and once the
//! partition has room again the event is stored and sent, in order. The data
//! partition is a real tmpfs of 4 MiB mounted for the test (the test runs
//! as root, as the test command does), filled with a real file.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use bridgepoint_proto::{Command, Leaf};
use bridgepoint_system_tests::control::{command, plain_box_config, topic, wait_json, Central};
use bridgepoint_system_tests::daemon::Daemon;
use bridgepoint_system_tests::sim::SimBoard;
use bridgepoint_testkit::broker::Broker;
use bridgepoint_testkit::TempDir;

const DEVICE: &str = "lang-son-01";

/// A small tmpfs, unmounted when dropped.
struct SmallPartition(PathBuf);

impl SmallPartition {
    fn mount(at: &Path) -> SmallPartition {
        std::fs::create_dir_all(at).unwrap();
        let out = Process::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs"])
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs (this test needs root, as scripts/test has): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallPartition(at.to_owned())
    }

    /// Writes a file until the partition is full; returns its path.
    fn fill(&self) -> PathBuf {
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        for _ in 0..64 {
            if file.write_all(&[0]).is_err() {
                break;
            }
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallPartition {
    fn drop(&mut self) {
        let _ = Process::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn an_event_the_full_partition_cannot_take_waits_is_reported_and_is_sent_once_there_is_room() {
    let dir = TempDir::new("disk-full");
    let broker = Broker::plain();
    let central = Central::new(&broker, None);
    let (status, events) = (topic(DEVICE, Leaf::Status), topic(DEVICE, Leaf::Event));
    let sub = central.subscribe(&[&status, &events]);
    let partition = SmallPartition::mount(&dir.path().join("data"));
    let daemon = Daemon::start(dir.path(), &plain_box_config(dir.path(), DEVICE, &broker));
    let mut board = SimBoard::connect(&daemon.socket());
    assert!(
        wait_json(&sub, &status, 0, Duration::from_secs(10), |v| v["online"]
            == true)
        .is_some()
    );

    let filler = partition.fill();
    // The last page of the store's log still has room for a few small
    // records, as on any full file system: calls go on until one event does
    // not fit.
    let mut problem = None;
    for i in 0..60 {
        assert_eq!(board.cmd("press call"), "ok");
        central.publish(
            &topic(DEVICE, Leaf::Cmd),
            &command(&format!("end-{i}"), Command::SessionEnd, None),
            false,
        );
        problem = wait_json(&sub, &status, 0, Duration::from_millis(500), |v| {
            v["problem"].is_string()
        });
        if problem.is_some() {
            break;
        }
    }
    let problem =
        problem.unwrap_or_else(|| panic!("the status never told; log:\n{}", daemon.log_text()));
    let text = problem["problem"].as_str().unwrap_or_default();
    assert!(
        text.contains("kept in memory only") && text.contains("refuses writes"),
        "{problem}"
    );
    // While full, nothing more goes out: later events wait behind the first.
    std::thread::sleep(Duration::from_millis(500));
    let before = sub.messages().len();
    assert_eq!(board.cmd("press call"), "ok");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        sub.messages()
            .iter()
            .skip(before)
            .all(|(t, _)| *t != events),
        "an event went out that is not on disk"
    );

    std::fs::remove_file(&filler).unwrap();
    let first = wait_json(&sub, &events, before, Duration::from_secs(15), |v| {
        v["type"] == "call.request"
    });
    assert!(
        first.is_some(),
        "the waiting events never arrived; log:\n{}",
        daemon.log_text()
    );
    // They are stored and sent together; give the last a moment to arrive.
    std::thread::sleep(Duration::from_secs(1));
    // Every event sent has a seq one above the one before: none was lost.
    let seqs: Vec<u64> = sub
        .messages()
        .into_iter()
        .filter(|(t, _)| *t == events)
        .filter_map(|(_, p)| serde_json::from_str::<serde_json::Value>(&p).ok())
        .filter_map(|v| v["seq"].as_u64())
        .collect();
    let mut unique = seqs.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique,
        (1..=unique.len() as u64).collect::<Vec<_>>(),
        "a gap in {seqs:?}"
    );
    let newest = wait_json(&sub, &events, before, Duration::from_secs(10), |v| {
        v["seq"].as_u64() == unique.last().copied()
    })
    .expect("the newest event");
    assert_eq!(
        newest["type"], "call.request",
        "the press made while full came last: {newest}"
    );
    let cleared = wait_json(&sub, &status, before, Duration::from_secs(10), |v| {
        v["online"] == true && v.get("problem").is_none()
    });
    assert!(
        cleared.is_some(),
        "the problem is not cleared from the status"
    );
    assert!(!daemon.log_text().contains("panicked"));
    drop(daemon);
}
