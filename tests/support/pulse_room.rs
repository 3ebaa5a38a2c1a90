//! A reception room for the echo test, on the host: a PulseAudio server of
//! its own (user space, no kernel module) with two null sinks, `speaker`
//! (what the box plays) and `mic` (what the box hears), and PulseAudio's
//! loopback module carrying the speaker's sound into the microphone after
//! the room's acoustic delay, attenuated. The room's own speech is played
//! into `mic` too (`paplay`), so the microphone hears both.
//!
//! The box reaches it through ALSA's PulseAudio plugin: the room writes an
//! `.asoundrc` defining the PCMs `room_speaker` and `room_mic`, and the
//! daemon runs with `HOME` set to the room's directory, so its config says
//! `[speaker] sink = "alsa:room_speaker"` and `[audio] source =
//! "alsa:room_mic"` as it would name any ALSA device.
//!
//! Why not snd-aloop: the kernel modules can only be loaded in the qemu
//! guest of `scripts/device-test`, whose emulated CPU does not keep real
//! time for the box and a room together (docs/benchmarks.md). PulseAudio
//! keeps time on the host.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bridgepoint_testkit::wait_for;

/// A running room; its server stops when dropped.
pub struct PulseRoom {
    server: Child,
    dir: PathBuf,
    socket: PathBuf,
}

impl PulseRoom {
    /// Starts the room's server in `dir` (its `HOME` and runtime
    /// directory): the speaker comes back into the microphone `delay_ms`
    /// later, `gain_db` quieter.
    pub fn start(dir: &Path, delay_ms: u32, gain_db: f64) -> PulseRoom {
        std::fs::create_dir_all(dir).expect("room dir");
        let socket = dir.join("native");
        let server = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--disable-shm=yes",
            ])
            .arg(format!(
                "--load=module-native-protocol-unix socket={} auth-anonymous=1",
                socket.display()
            ))
            .arg("--load=module-null-sink sink_name=speaker rate=48000 channels=1")
            .arg("--load=module-null-sink sink_name=mic rate=48000 channels=1")
            .env("HOME", dir)
            .env("XDG_RUNTIME_DIR", dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("pulseaudio.log")).expect("pulseaudio log"),
            ))
            .spawn()
            .expect("start pulseaudio (Debian: pulseaudio)");
        let room = PulseRoom {
            server,
            dir: dir.to_path_buf(),
            socket,
        };
        let up = wait_for(Duration::from_secs(10), || {
            room.pactl(&["info"]).then_some(())
        });
        assert!(up.is_some(), "pulseaudio did not come up: {}", room.log());
        assert!(
            room.pactl(&[
                "load-module",
                "module-loopback",
                "source=speaker.monitor",
                "sink=mic",
                &format!("latency_msec={delay_ms}"),
                "source_dont_move=true",
                "sink_dont_move=true",
            ]),
            "loopback: {}",
            room.log()
        );
        // PulseAudio's volume scale is cubic: percent = linear^(1/3).
        let percent = (10f64.powf(gain_db / 20.0)).cbrt() * 100.0;
        assert!(
            room.pactl(&[
                "set-sink-input-volume",
                "0",
                &format!("{}%", percent.round())
            ]),
            "volume: {}",
            room.log()
        );
        let asoundrc = format!(
            "pcm.room_speaker {{ type pulse; device \"speaker\"; server \"unix:{s}\" }}\n\
             pcm.room_mic {{ type pulse; device \"mic.monitor\"; server \"unix:{s}\" }}\n",
            s = room.socket.display()
        );
        std::fs::write(dir.join(".asoundrc"), asoundrc).expect("write .asoundrc");
        room
    }

    /// The directory to run the daemon with as `HOME`.
    pub fn home(&self) -> &Path {
        &self.dir
    }

    /// Plays `wav` into the room (the microphone hears it); returns at once.
    pub fn say(&self, wav: &Path) -> Child {
        Command::new("paplay")
            .args(["-d", "mic"])
            .arg(wav)
            .env("PULSE_SERVER", format!("unix:{}", self.socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("paplay (Debian: pulseaudio-utils)")
    }

    fn pactl(&self, args: &[&str]) -> bool {
        Command::new("pactl")
            .args(args)
            .env("PULSE_SERVER", format!("unix:{}", self.socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pulseaudio.log")).unwrap_or_default()
    }
}

impl Drop for PulseRoom {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}
