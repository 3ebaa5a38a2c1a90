//! The media benchmark:
//!
//! 1. Latency the box adds from the encoder's output to the UDP send (parser,
//!    payloader, RTP session, SRTP, socket), measured with pad probes on the
//!    daemon's own pipeline for 720p30 x264 zerolatency: p50 / p99 / max.
//! 2. `bridgepointd` against a bare `gst-launch-1.0` pipeline with the same
//!    elements and settings, run side by side for N seconds: CPU seconds and
//!    peak RSS of each, and their ratio.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context as _};
use bridgepoint_core::config::{parse_toml, Config};
use bridgepoint_firmware::media::latency::{percentile, LatencyProbe};
use bridgepoint_firmware::media::{self, pipeline, plan};
use gstreamer as gst;
use gstreamer::prelude::*;

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d";
const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd";

fn config_text(data_dir: &Path, video_port: u16, audio_port: u16) -> String {
    format!(
        r#"device_id = "bench-box"
data_dir = "{}"
board = "sim"
[hub]
host = "127.0.0.1"
video_port = {video_port}
audio_port = {audio_port}
[srtp]
key = "{KEY_B64}"
[video]
source = "test"
encoder = "x264"
width = 1280
height = 720
fps = 30
bitrate_kbps = 2000
keyframe_interval_s = 2
[audio]
source = "test"
bitrate_kbps = 32
[session]
mode = "always"
"#,
        data_dir.display()
    )
}

/// The same pipeline as `firmware/src/media/pipeline.rs` builds, as gst-launch syntax.
fn gst_launch_description(video_port: u16, audio_port: u16) -> String {
    let srtp = |name: &str| {
        format!(
            "srtpenc name={name} key={KEY_HEX} rtp-cipher=aes-128-icm rtp-auth=hmac-sha1-80 \
             rtcp-cipher=aes-128-icm rtcp-auth=hmac-sha1-80"
        )
    };
    let udp = |port: u16| format!("udpsink host=127.0.0.1 port={port} sync=false async=false");
    format!(
        "rtpbin name=r rtcp-sync-send-time=false ntp-time-source=clock-time {vs} {as_} \
         videotestsrc is-live=true pattern=smpte horizontal-speed=4 \
         ! video/x-raw,format=I420,width=1280,height=720,framerate=30/1 \
         ! queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 leaky=downstream \
         ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=60 bitrate=2000 \
         ! video/x-h264,stream-format=byte-stream,alignment=au,profile=constrained-baseline \
         ! h264parse config-interval=-1 ! rtph264pay pt=96 config-interval=0 aggregate-mode=zero-latency \
         ! r.send_rtp_sink_0 \
         r.send_rtp_src_0 ! vs.rtp_sink_0 vs.rtp_src_0 ! {v_rtp} \
         r.send_rtcp_src_0 ! vs.rtcp_sink_0 vs.rtcp_src_0 ! {v_rtcp} \
         audiotestsrc is-live=true volume=0.2 samplesperbuffer=960 ! audioconvert ! audioresample \
         ! audio/x-raw,format=S16LE,rate=48000,channels=1 \
         ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=1000000000 ! opusenc bitrate=32000 audio-type=voice ! rtpopuspay pt=111 \
         ! r.send_rtp_sink_1 \
         r.send_rtp_src_1 ! as.rtp_sink_0 as.rtp_src_0 ! {a_rtp} \
         r.send_rtcp_src_1 ! as.rtcp_sink_0 as.rtcp_src_0 ! {a_rtcp}",
        vs = srtp("vs"),
        as_ = srtp("as"),
        v_rtp = udp(video_port),
        v_rtcp = udp(video_port + 1),
        a_rtp = udp(audio_port),
        a_rtcp = udp(audio_port + 1),
    )
}

/// Binds four consecutive UDP ports and drains whatever arrives on them.
pub fn drain_ports() -> anyhow::Result<(u16, u16)> {
    for _ in 0..100 {
        let probe = UdpSocket::bind("127.0.0.1:0")?;
        let base = probe.local_addr()?.port() & !1;
        drop(probe);
        if !(1024..=65530).contains(&base) {
            continue;
        }
        let sockets: Result<Vec<UdpSocket>, _> = (0..4)
            .map(|i| UdpSocket::bind(("127.0.0.1", base + i)))
            .collect();
        if let Ok(sockets) = sockets {
            for socket in sockets {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 2048];
                    while socket.recv(&mut buf).is_ok() {}
                });
            }
            return Ok((base, base + 2));
        }
    }
    bail!("no four consecutive free UDP ports on 127.0.0.1")
}

fn latency(config: &Config, seconds: u64) -> anyhow::Result<()> {
    media::init()?;
    let media = config.settings.media().context("bench config has no hub")?;
    let plan = plan::plan(&media)?;
    let pipeline = pipeline::build(&media, &plan)?;
    let probe = LatencyProbe::attach(&pipeline).context("pipeline has no encoder to probe")?;
    pipeline
        .set_state(gst::State::Playing)
        .context("pipeline did not start")?;
    std::thread::sleep(Duration::from_secs(seconds));
    let _ = pipeline.set_state(gst::State::Null);
    let samples = probe.sorted_samples();
    if samples.is_empty() {
        bail!("no frame reached the UDP sender");
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "latency encoder→UDP send (720p30 x264 zerolatency, {} frames over {seconds} s): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        samples.len(),
        us(percentile(&samples, 50.0)),
        us(percentile(&samples, 99.0)),
        us(*samples.last().unwrap_or(&Duration::ZERO)),
    );
    Ok(())
}

struct Usage {
    cpu_seconds: f64,
    peak_rss_kib: u64,
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn cpu_seconds(pid: u32, ticks: f64) -> anyhow::Result<f64> {
    let stat =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).context("process ended early")?;
    // Fields after the ")" that closes the command name: utime is the 12th, stime the 13th.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let stime: f64 = fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    Ok((utime + stime) / ticks)
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn side_by_side(dir: &Path, seconds: u64) -> anyhow::Result<()> {
    let exe_dir: PathBuf = std::env::current_exe()?
        .parent()
        .context("exe dir")?
        .to_owned();
    let daemon_bin = exe_dir.join("bridgepointd");
    let (dv, da) = drain_ports()?;
    let (gv, ga) = drain_ports()?;
    let config_path = dir.join("bench.toml");
    std::fs::write(&config_path, config_text(&dir.join("data"), dv, da))?;
    let spawn = |cmd: &mut Command| -> anyhow::Result<Child> {
        Ok(cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?)
    };
    let mut daemon = spawn(
        Command::new(&daemon_bin)
            .arg("--config")
            .arg(&config_path)
            .env("RUST_LOG", "warn"),
    )
    .with_context(|| format!("cannot start {}", daemon_bin.display()))?;
    let description = gst_launch_description(gv, ga);
    let mut launch = spawn(
        Command::new("gst-launch-1.0")
            .arg("-q")
            .args(description.split_whitespace()),
    )
    .context("cannot start gst-launch-1.0")?;
    let ticks = clock_ticks();
    // Warm up (encoder start, page faults) before measuring.
    std::thread::sleep(Duration::from_secs(5));
    for (name, child) in [
        ("bridgepointd", &mut daemon),
        ("gst-launch-1.0", &mut launch),
    ] {
        if let Some(status) = child.try_wait()? {
            bail!("{name} exited during warm-up ({status})");
        }
    }
    let start = (
        cpu_seconds(daemon.id(), ticks)?,
        cpu_seconds(launch.id(), ticks)?,
    );
    std::thread::sleep(Duration::from_secs(seconds));
    let end = (
        cpu_seconds(daemon.id(), ticks)?,
        cpu_seconds(launch.id(), ticks)?,
    );
    let d = Usage {
        cpu_seconds: end.0 - start.0,
        peak_rss_kib: peak_rss_kib(daemon.id()),
    };
    let g = Usage {
        cpu_seconds: end.1 - start.1,
        peak_rss_kib: peak_rss_kib(launch.id()),
    };
    let _ = daemon.kill();
    let _ = launch.kill();
    let _ = daemon.wait();
    let _ = launch.wait();
    println!(
        "bridgepointd : {:.2} CPU s over {seconds} s ({:.1}% of a core), peak RSS {:.1} MiB",
        d.cpu_seconds,
        100.0 * d.cpu_seconds / seconds as f64,
        d.peak_rss_kib as f64 / 1024.0
    );
    println!(
        "gst-launch   : {:.2} CPU s over {seconds} s ({:.1}% of a core), peak RSS {:.1} MiB",
        g.cpu_seconds,
        100.0 * g.cpu_seconds / seconds as f64,
        g.peak_rss_kib as f64 / 1024.0
    );
    println!(
        "ratio bridgepointd / gst-launch: CPU {:.3}, RSS {:.3}",
        d.cpu_seconds / g.cpu_seconds.max(1e-9),
        d.peak_rss_kib as f64 / (g.peak_rss_kib as f64).max(1.0)
    );
    Ok(())
}

/// Runs the media benchmark.
pub fn run(seconds: u64) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("bp-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (v, a) = drain_ports()?;
    let config =
        parse_toml(&config_text(&dir.join("data"), v, a)).map_err(|e| anyhow::anyhow!("{e}"))?;
    latency(&config, seconds)?;
    side_by_side(&dir, seconds)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
