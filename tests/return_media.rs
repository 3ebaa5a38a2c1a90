//! The hub's media coming back to the room: a stock `gst-launch-1.0` sends a
//! test picture and tone over SRTP with the receive key to the box's own
//! ports while the box streams, and ffmpeg records the box's stream from its
//! SDP as the hub does. The box decrypts, decodes and plays into fake sinks
//! (no screen or loudspeaker runs here), and the simulated board's `state`
//! counts what it played and says what the room's screen shows.

use std::net::UdpSocket;
use std::time::Duration;

use base64::Engine as _;
use bridgepoint_system_tests::daemon::{run_cli, Daemon};
use bridgepoint_system_tests::ffmpeg::{probe, record};
use bridgepoint_system_tests::fixtures::{config, key_bytes, KEY};
use bridgepoint_system_tests::hub_sender::HubSender;
use bridgepoint_system_tests::sim::SimBoard;
use bridgepoint_testkit::{wait_for, TempDir};

/// The key of what the hub sends (30 bytes), not the box's.
const RECEIVE_KEY: [u8; 30] = [
    101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119,
    120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130,
];

/// A box streaming test sources to free hub ports in `mode`, with the
/// receive key and its own ports as given.
fn box_config(dir: &TempDir, mode: &str, receive: bool, local_ports: Option<(u16, u16)>) -> String {
    let (video, audio) = bridgepoint_system_tests::free_ports();
    let mut text = config(&dir.path().join("data"), video, audio, mode, (320, 240));
    if receive {
        let key = base64::engine::general_purpose::STANDARD.encode(RECEIVE_KEY);
        text = text.replace(
            &format!("key = \"{KEY}\""),
            &format!("key = \"{KEY}\"\nreceive_key = \"{key}\""),
        );
    }
    if let Some((v, a)) = local_ports {
        text = text.replace(
            &format!("audio_port = {audio}\n"),
            &format!("audio_port = {audio}\nlocal_video_port = {v}\nlocal_audio_port = {a}\n"),
        );
    }
    text
}

/// Starts a box on `config` and waits until it streams.
fn streaming_box(dir: &TempDir, config: &str) -> (Daemon, SimBoard) {
    let daemon = Daemon::start(dir.path(), config);
    let mut board = SimBoard::connect(&daemon.socket());
    board.assert_stream("streaming", Duration::from_secs(10), &daemon);
    (daemon, board)
}

/// What `state` says of the return path.
fn played(board: &mut SimBoard) -> (u64, u64, serde_json::Value) {
    let state = board.state();
    let r = &state["return"];
    (
        r["video_frames"].as_u64().expect("return.video_frames"),
        r["audio_ms"].as_u64().expect("return.audio_ms"),
        r["ports"].clone(),
    )
}

fn ports_of(board: &mut SimBoard) -> (u16, u16) {
    let (_, _, ports) = played(board);
    let port = |k: &str| ports[k].as_u64().and_then(|p| u16::try_from(p).ok());
    port("video")
        .zip(port("audio"))
        .unwrap_or_else(|| panic!("state.return.ports: {ports}"))
}

/// Waits until the box has played at least `frames` frames and `audio_ms`
/// of audio; panics with the daemon's log otherwise.
fn wait_played(board: &mut SimBoard, daemon: &Daemon, frames: u64, audio_ms: u64) -> (u64, u64) {
    wait_for(Duration::from_secs(20), || {
        let (v, a, _) = played(board);
        (v >= frames && a >= audio_ms).then_some((v, a))
    })
    .unwrap_or_else(|| {
        panic!(
            "the box did not play {frames} frames and {audio_ms} ms: state {}; log:\n{}",
            board.cmd("state"),
            daemon.log_text()
        )
    })
}

/// Waits until `state` says the return stream is `status`; returns that
/// state (panics with it and the log otherwise).
fn wait_status(board: &mut SimBoard, daemon: &Daemon, status: &str) -> serde_json::Value {
    wait_for(Duration::from_secs(10), || {
        let state = board.state();
        (state["return"]["status"] == status).then_some(state)
    })
    .unwrap_or_else(|| {
        panic!(
            "the return stream never became {status:?}: state {}; log:\n{}",
            board.cmd("state"),
            daemon.log_text()
        )
    })
}

#[test]
fn the_box_plays_what_the_hub_sends_back_while_the_hub_records_the_box() {
    let dir = TempDir::new("return");
    let local = bridgepoint_system_tests::free_ports();
    let daemon = Daemon::start(dir.path(), &box_config(&dir, "on_call", true, Some(local)));
    let sdp =
        String::from_utf8(run_cli(&["sdp", "--config", daemon.config.to_str().unwrap()]).stdout)
            .unwrap();
    // Both directions described; the box's own key last, for ffmpeg.
    let receive_b64 = base64::engine::general_purpose::STANDARD.encode(RECEIVE_KEY);
    assert!(
        sdp.contains(&format!(
            "a=sendrecv\na=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{receive_b64}\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\n"
        )),
        "{sdp}"
    );
    // The hub's recorder listens before the session starts, as it should.
    let recorder = record(dir.path(), "hub", &sdp, 6);
    let mut board = SimBoard::connect(&daemon.socket());
    assert_eq!(board.cmd("press call"), "ok");
    board.assert_stream("streaming", Duration::from_secs(10), &daemon);
    assert_eq!(ports_of(&mut board), local, "the configured local ports");
    assert_eq!(
        played(&mut board).0,
        0,
        "nothing played before the hub sends"
    );

    // The screen says the room waits for central (in Vietnamese, the default).
    let state = wait_status(&mut board, &daemon, "waiting");
    assert_eq!(state["screen"]["indication"], "on_air", "{state}");
    assert_eq!(
        state["screen"]["detail"], "Đang chờ hình ảnh và âm thanh từ Trung ương",
        "{state}"
    );
    assert_eq!(state["screen"]["central_video"], false, "{state}");
    assert_eq!(state["screen"]["self_view"], true, "{state}");

    let hub = HubSender::start(local.0, local.1, &RECEIVE_KEY);
    // 15 fps and 20 ms Opus packets: 3 s of both.
    let (frames, audio_ms) = wait_played(&mut board, &daemon, 45, 3000);
    let state = wait_status(&mut board, &daemon, "playing");
    assert_eq!(
        state["screen"]["central_video"], true,
        "central covers the card: {state}"
    );
    let fps = state["return"]["video_fps"].as_u64().unwrap_or(0);
    assert!(
        (8..=20).contains(&fps),
        "decoded fps of a 15 fps stream: {state}"
    );
    assert_eq!(state["return"]["rejected_packets"], 0, "{state}");
    // The hub's sender reports (every few seconds) tie sound and picture
    // to one clock: the box then reports how far apart it plays them.
    let state = wait_for(Duration::from_secs(15), || {
        let state = board.state();
        state["return"]["lip_sync_ms"].is_i64().then_some(state)
    })
    .unwrap_or_else(|| panic!("no lip-sync figure: {}", board.cmd("state")));
    let lip_sync = state["return"]["lip_sync_ms"].as_i64().unwrap();
    assert!(
        lip_sync.abs() <= 45,
        "picture and sound {lip_sync} ms apart: {state}"
    );
    let log = daemon.log_text();
    assert!(
        log.contains("the hub's return stream arrived: playing it kind=\"video\"")
            && log.contains("decoder=\"avdec_h264\""),
        "{log}"
    );
    drop(hub);

    // The hub's recording of the box is unaffected.
    let ffmpeg_log = recorder.wait();
    let p = probe(&dir.path().join("hub.mkv"))
        .unwrap_or_else(|| panic!("no recording; ffmpeg said:\n{ffmpeg_log}"));
    assert_eq!(p.video_codec.as_deref(), Some("h264"), "{p:?}");
    assert_eq!((p.width, p.height), (320, 240), "{p:?}");
    assert_eq!(p.audio_codec.as_deref(), Some("opus"), "{p:?}");
    assert!(p.duration >= 5.0, "recorded only {} s", p.duration);
    assert!(
        p.video_frames as f64 >= 0.9 * p.duration * 30.0,
        "{p:?} (played {frames} frames, {audio_ms} ms meanwhile)"
    );
    assert!(daemon.stop(), "the daemon did not stop cleanly");
}

#[test]
fn a_wrong_key_and_garbage_are_dropped_and_playback_resumes_with_the_right_key() {
    let dir = TempDir::new("return-bad");
    let (daemon, mut board) = streaming_box(&dir, &box_config(&dir, "always", true, None));
    // Unset local ports: picked by the system, shown in `state`.
    let (video, audio) = ports_of(&mut board);
    assert!(video != audio && video > 0 && audio > 0, "{video} {audio}");

    // Garbage datagrams and a hub sending under the box's own key.
    let garbage = UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..200u32 {
        let junk = vec![(i % 251) as u8; 20 + (i as usize % 400)];
        garbage.send_to(&junk, ("127.0.0.1", video)).unwrap();
        garbage.send_to(&junk, ("127.0.0.1", audio)).unwrap();
    }
    let own_key = key_bytes();
    let wrong = HubSender::start(video, audio, &own_key);
    // Counted, reported, and the screen says what happened.
    let state = wait_status(&mut board, &daemon, "undecryptable");
    assert!(
        state["return"]["rejected_packets"].as_u64().unwrap_or(0) > 0,
        "{state}"
    );
    assert_eq!(
        state["screen"]["detail"], "Không giải mã được tín hiệu từ Trung ương (sai khóa nhận?)",
        "{state}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        played(&mut board).0 + played(&mut board).1,
        0,
        "nothing under a wrong key is played: {}",
        board.cmd("state")
    );
    wrong.stop();
    assert_eq!(
        board.state()["stream"],
        "streaming",
        "the box keeps sending"
    );

    // The hub sends again, now with the right key: played, on the same
    // ports (the pipeline never stopped).
    let right = HubSender::start(video, audio, &RECEIVE_KEY);
    wait_played(&mut board, &daemon, 30, 2000);
    wait_status(&mut board, &daemon, "playing");
    right.stop();
    // The stream stopped mid-session: the screen says so, the box keeps sending.
    let state = wait_status(&mut board, &daemon, "interrupted");
    assert_eq!(state["screen"]["central_video"], false, "{state}");
    assert_eq!(
        state["screen"]["detail"], "Tín hiệu từ Trung ương bị gián đoạn; đang chờ",
        "{state}"
    );
    assert_eq!(state["stream"], "streaming", "{state}");
    // A stream that stops and comes back (a new sender, a new SSRC) plays
    // again: the counts keep rising.
    let (before, _, _) = played(&mut board);
    let again = HubSender::start(video, audio, &RECEIVE_KEY);
    wait_played(&mut board, &daemon, before + 30, 0);
    wait_status(&mut board, &daemon, "playing");
    drop(again);
    assert_eq!(ports_of(&mut board), (video, audio));
    assert!(daemon.stop(), "the daemon did not stop cleanly");
}

#[test]
fn without_a_receive_key_nothing_is_played_and_the_box_keeps_sending() {
    let dir = TempDir::new("return-none");
    let (daemon, mut board) = streaming_box(&dir, &box_config(&dir, "always", false, None));
    let (video, audio) = ports_of(&mut board);
    let hub = HubSender::start(video, audio, &RECEIVE_KEY);
    std::thread::sleep(Duration::from_secs(3));
    drop(hub);
    let (frames, audio_ms, _) = played(&mut board);
    assert_eq!((frames, audio_ms), (0, 0), "{}", board.cmd("state"));
    let state = board.state();
    assert_eq!(state["stream"], "streaming");
    assert_eq!(state["return"]["status"], "not_receiving", "{state}");
    assert_eq!(
        state["screen"]["detail"], "Trung ương đang ghi hình phòng tiếp; không có hình ảnh gửi về",
        "{state}"
    );
    assert!(daemon.stop(), "the daemon did not stop cleanly");
}

#[test]
fn a_local_port_in_use_is_an_error_naming_the_port_and_the_box_stays_up() {
    let dir = TempDir::new("return-busy");
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    // An even port of our own for video; audio on the taken one.
    let (video, _) = bridgepoint_system_tests::free_ports();
    let daemon = Daemon::start(
        dir.path(),
        &box_config(&dir, "always", true, Some((video, port))),
    );
    let mut board = SimBoard::connect(&daemon.socket());
    let log = wait_for(Duration::from_secs(10), || {
        let log = daemon.log_text();
        log.contains("audio-rtp-source: cannot open its socket on port")
            .then_some(log)
    })
    .unwrap_or_else(|| panic!("no error naming the port; log:\n{}", daemon.log_text()));
    assert!(log.contains(&format!("port {port}")), "{log}");
    // The daemon keeps running and answering.
    assert!(board.state()["stream"].is_string());
    drop(taken);
    assert!(daemon.stop(), "the daemon did not stop cleanly");
}

/// Forwards UDP datagrams from its own port to `to`, dropping every
/// `drop_every`th; stops when dropped. The lossy link of the return path.
struct LossyRelay {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl LossyRelay {
    fn start(to: u16, drop_every: u64) -> LossyRelay {
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let dropped = std::sync::Arc::new(AtomicU64::new(0));
        let (s, d) = (stop.clone(), dropped.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let mut n = 0u64;
            while !s.load(Ordering::Relaxed) {
                let Ok((len, _)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                n += 1;
                if n.is_multiple_of(drop_every) {
                    d.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let _ = socket.send_to(&buf[..len], ("127.0.0.1", to));
            }
        });
        LossyRelay {
            port,
            stop,
            dropped,
        }
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for LossyRelay {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn a_lost_video_packet_makes_the_box_ask_the_hub_for_a_keyframe_with_rtcp_pli() {
    let dir = TempDir::new("return-pli");
    let local = bridgepoint_system_tests::free_ports();
    let text = box_config(&dir, "always", true, Some(local));
    // The hub's video RTCP port, where the box's reports go.
    let hub_video: u16 = text
        .lines()
        .find_map(|l| l.strip_prefix("video_port = "))
        .and_then(|p| p.trim().parse().ok())
        .expect("video_port in the config");
    let box_key = key_bytes();
    let feedback =
        bridgepoint_system_tests::rtcp_feedback::RtcpFeedback::start(hub_video + 1, &box_key);
    let (daemon, mut board) = streaming_box(&dir, &text);
    // The hub's video through a link that loses one packet in 40; its
    // sound straight to the box.
    let relay = LossyRelay::start(local.0, 40);
    let hub = HubSender::start(relay.port, local.1, &RECEIVE_KEY);
    wait_played(&mut board, &daemon, 30, 2000);
    let requests = wait_for(Duration::from_secs(15), || {
        let n = feedback.keyframe_requests();
        (n > 0).then_some(n)
    })
    .unwrap_or_else(|| {
        panic!(
            "no PLI from the box in {} RTCP packets while {} video packets were lost: state {}; log:\n{}",
            feedback.reports(),
            relay.dropped(),
            board.cmd("state"),
            daemon.log_text()
        )
    });
    assert!(relay.dropped() > 0);
    // The picture keeps coming (a keyframe a second from this hub).
    let (before, _, _) = played(&mut board);
    wait_played(&mut board, &daemon, before + 15, 0);
    let state = board.state();
    assert!(
        state["return"]["lost_packets"].as_u64().unwrap_or(0) > 0,
        "{state}"
    );
    eprintln!(
        "{requests} keyframe requests, {} packets dropped",
        relay.dropped()
    );
    drop(hub);
    assert!(daemon.stop(), "the daemon did not stop cleanly");
}
