//! Measures the time a frame spends between the encoder's output and the UDP
//! send (parser, payloader, RTP session, SRTP, socket), with pad probes.
//! Used by the benchmark, not by the running box.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

use super::pipeline::names;

#[derive(Default)]
struct Inner {
    encoded_at: HashMap<u64, Instant>,
    samples: Vec<Duration>,
}

/// Collects encoder-to-send delays of the video frames.
#[derive(Clone, Default)]
pub struct LatencyProbe {
    inner: Arc<Mutex<Inner>>,
}

fn first_pts(info: &gst::PadProbeInfo<'_>) -> Option<u64> {
    match &info.data {
        Some(gst::PadProbeData::Buffer(b)) => b.pts().map(|t| t.nseconds()),
        Some(gst::PadProbeData::BufferList(l)) => {
            l.get(0).and_then(|b| b.pts()).map(|t| t.nseconds())
        }
        _ => None,
    }
}

impl LatencyProbe {
    /// Attaches probes to the encoder's src pad and the video UDP sink's sink pad.
    /// Returns `None` if the pipeline has no encoder (H.264 camera).
    pub fn attach(pipeline: &gst::Pipeline) -> Option<LatencyProbe> {
        let probe = LatencyProbe::default();
        let enc_pad = pipeline.by_name(names::VIDEO_ENCODER)?.static_pad("src")?;
        let send_pad = pipeline
            .by_name(names::VIDEO_RTP_SINK)?
            .static_pad("sink")?;
        let inner = probe.inner.clone();
        enc_pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(pts) = first_pts(info) {
                if let Ok(mut g) = inner.lock() {
                    g.encoded_at.insert(pts, Instant::now());
                }
            }
            gst::PadProbeReturn::Ok
        });
        let inner = probe.inner.clone();
        send_pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |_, info| {
                let now = Instant::now();
                if let Some(pts) = first_pts(info) {
                    if let Ok(mut g) = inner.lock() {
                        // The first packet of a frame marks its send; later packets of it are ignored.
                        if let Some(at) = g.encoded_at.remove(&pts) {
                            g.samples.push(now - at);
                        }
                    }
                }
                gst::PadProbeReturn::Ok
            },
        );
        Some(probe)
    }

    /// The delays measured so far, sorted.
    pub fn sorted_samples(&self) -> Vec<Duration> {
        let mut v = self
            .inner
            .lock()
            .map(|g| g.samples.clone())
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// The `p`-th percentile (0–100) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_series() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(51));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
