//! Recovery where the hub's receiver helps: what the box does with the
//! hub's RTCP feedback on its video.
//!
//! - Retransmission (`hub.feedback = "avpf"`, RFC 4588): rtpbin asks for an
//!   auxiliary sender for the video session (`request-aux-sender`), and gets
//!   a bin around `rtprtxsend` (named [`RTX_ELEMENT`]) with the pads rtpbin
//!   expects (`sink_0`, `src_0`). It sits between the payloader and the RTP
//!   session, keeps the last [`RTX_HISTORY_MS`] of packets, and resends the
//!   ones a generic NACK names (rtpsession turns each NACK into an upstream
//!   `GstRTPRetransmissionRequest`) as their own SSRC and payload type
//!   ([`VIDEO_RTX_PAYLOAD_TYPE`]). A NACK for a packet never sent or long
//!   gone finds nothing and sends nothing. The retransmissions go through
//!   the session's `srtpenc` like the video (it protects every SSRC it is
//!   given with the one key). A probe on `rtprtxsend`'s source pad admits
//!   the requests at up to a quarter of the video target (the core's
//!   [`RetransmissionLimit`]) and refuses the rest, so that on a congested
//!   link the retransmissions of what the full queue dropped do not fill
//!   it further.
//! - Keyframe requests (always): rtpsession turns the hub's PLI and FIR into
//!   an upstream `GstForceKeyUnit` event towards the encoder. A probe on the
//!   payloader's source pad lets at most one through per
//!   [`KEYFRAME_REQUEST_INTERVAL`] and drops the others, so a flood of PLIs
//!   (a broken or hostile receiver) cannot make a keyframe storm; the box's
//!   own requests (`MediaRunner::force_keyframe`) enter below it and are
//!   not limited. On the hardware encoder, which ignores the event, a
//!   request let through also fires its `force_key_frame` control.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bridgepoint_core::retransmission::RetransmissionLimit;
use bridgepoint_core::sdp::{VIDEO_PAYLOAD_TYPE, VIDEO_RTX_PAYLOAD_TYPE};
use gstreamer as gst;
use gstreamer::prelude::*;

use super::pipeline::{make, names};
use super::plan::HARDWARE_ENCODER;
use super::PipelineError;

/// The retransmission element's name (bus errors name it).
pub const RTX_ELEMENT: &str = "video-rtx";
/// How long sent video packets are kept for retransmission, in ms.
pub const RTX_HISTORY_MS: u32 = 1000;
/// How many at most.
pub const RTX_HISTORY_PACKETS: u32 = 1000;
/// The hub's keyframe requests pass to the encoder at most once in
/// this interval.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_secs(1);
/// How often the limiter's counts are logged at most.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The hub's keyframe requests a pipeline has seen.
#[derive(Debug, Default)]
pub struct KeyframeRequests {
    passed: AtomicU64,
    dropped: AtomicU64,
}

impl KeyframeRequests {
    /// Requests passed on to the encoder.
    pub fn passed(&self) -> u64 {
        self.passed.load(Ordering::Relaxed)
    }

    /// Requests dropped by the limit.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The limit's decision: at most one request per `interval`.
#[derive(Debug, Clone)]
pub struct KeyframeLimit {
    interval: Duration,
    last_passed: Option<Instant>,
}

impl KeyframeLimit {
    /// A limit of one request per `interval`.
    pub fn new(interval: Duration) -> Self {
        KeyframeLimit {
            interval,
            last_passed: None,
        }
    }

    /// Whether a request arriving at `now` passes.
    pub fn admit(&mut self, now: Instant) -> bool {
        let pass = self
            .last_passed
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if pass {
            self.last_passed = Some(now);
        }
        pass
    }
}

/// rtprtxsend's `payload-type-map`: the video's payload type to its
/// retransmissions'.
fn payload_type_map() -> gst::Structure {
    gst::Structure::builder("application/x-rtp-pt-map")
        .field(
            VIDEO_PAYLOAD_TYPE.to_string(),
            u32::from(VIDEO_RTX_PAYLOAD_TYPE),
        )
        .build()
}

/// Builds the retransmission sender for the video session (session 0) and
/// hands it to `rtpbin` when it asks (`request-aux-sender`). Must be called
/// before the session's pads are requested. Fails, naming the element,
/// when `rtprtxsend` is missing.
pub fn attach_retransmission(rtpbin: &gst::Element) -> Result<(), PipelineError> {
    let rtx = make("rtprtxsend", RTX_ELEMENT, "RTP retransmission (RFC 4588)")?;
    rtx.set_property("payload-type-map", payload_type_map());
    rtx.set_property("max-size-time", RTX_HISTORY_MS);
    rtx.set_property("max-size-packets", RTX_HISTORY_PACKETS);
    let bin = gst::Bin::with_name(&format!("{RTX_ELEMENT}-bin"));
    let ghost_err = |message: String| PipelineError::Element {
        element: RTX_ELEMENT.to_owned(),
        message,
        debug: None,
    };
    // The video's pacer after it (super::pacing): the hub's retransmissions
    // leave within the same paced rate as the video, and the RTP session
    // after the aux sender stamps every packet's transport-wide send time
    // as it really leaves.
    let pacer = super::pacing::make_queue()?;
    bin.add_many([&rtx, &pacer])
        .map_err(|e| ghost_err(format!("cannot be put in its bin: {e}")))?;
    rtx.link(&pacer)
        .map_err(|e| ghost_err(format!("cannot be linked to the pacer: {e}")))?;
    // rtpbin looks the aux sender's pads up by name: sink_<session>, src_<session>.
    for (element, target, ghost) in [(&rtx, "sink", "sink_0"), (&pacer, "src", "src_0")] {
        let pad = element
            .static_pad(target)
            .ok_or_else(|| ghost_err(format!("has no pad {target}")))?;
        let ghost_pad = gst::GhostPad::builder_with_target(&pad)
            .map_err(|e| ghost_err(format!("pad {target}: {e}")))?
            .name(ghost)
            .build();
        bin.add_pad(&ghost_pad)
            .map_err(|e| ghost_err(format!("pad {ghost}: {e}")))?;
    }
    // rtpbin asks once per session; only the video's gets the sender. The
    // answer is always a value of the signal's type (an element or NULL):
    // no value at all would abort the process.
    let offered = Mutex::new(Some(bin.upcast::<gst::Element>()));
    rtpbin.connect("request-aux-sender", false, move |values| {
        let session = values.get(1).and_then(|v| v.get::<u32>().ok());
        let bin = match session {
            Some(0) => offered.lock().ok().and_then(|mut o| o.take()),
            _ => None,
        };
        if bin.is_some() {
            tracing::info!(
                rtx_payload_type = VIDEO_RTX_PAYLOAD_TYPE,
                history_ms = RTX_HISTORY_MS,
                "video retransmission on the hub's NACKs (RFC 4588, hub.feedback = avpf)"
            );
        }
        Some(bin.to_value())
    });
    Ok(())
}

/// Puts the keyframe-request limit on the video payloader's source pad
/// (see the module docs), counting into `requests` (the runner keeps it).
pub fn limit_keyframe_requests(
    pipeline: &gst::Pipeline,
    pay: &gst::Element,
    requests: Arc<KeyframeRequests>,
) {
    let Some(pad) = pay.static_pad("src") else {
        tracing::warn!(
            element = %pay.name(),
            "no source pad: the hub's keyframe requests are not limited"
        );
        return;
    };
    let hardware = pipeline
        .by_name(names::VIDEO_ENCODER)
        .filter(|e| e.factory().is_some_and(|f| f.name() == HARDWARE_ENCODER))
        .map(|e| e.downgrade());
    let limit = Mutex::new((
        KeyframeLimit::new(KEYFRAME_REQUEST_INTERVAL),
        None::<Instant>,
    ));
    pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
        if !super::probe::is_event_named(info, "GstForceKeyUnit") {
            return gst::PadProbeReturn::Ok;
        }
        let now = Instant::now();
        let Ok(mut guard) = limit.lock() else {
            return gst::PadProbeReturn::Ok;
        };
        let (limit, last_log) = &mut *guard;
        if !limit.admit(now) {
            requests.dropped.fetch_add(1, Ordering::Relaxed);
            return super::probe::discard(info);
        }
        let passed = requests.passed.fetch_add(1, Ordering::Relaxed) + 1;
        if last_log.is_none_or(|t| now.saturating_duration_since(t) >= LOG_INTERVAL) {
            *last_log = Some(now);
            tracing::info!(
                passed,
                dropped = requests.dropped(),
                "keyframe requests from the hub (PLI/FIR), at most one a second"
            );
        }
        if let Some(encoder) = hardware.as_ref().and_then(|w| w.upgrade()) {
            let current = encoder.property::<Option<gst::Structure>>("extra-controls");
            encoder.set_property(
                "extra-controls",
                super::runner::with_force_key_frame(current),
            );
        }
        gst::PadProbeReturn::Ok
    });
}

/// Puts the retransmission limit on `rtprtxsend`'s source pad, where
/// rtpsession's upstream `GstRTPRetransmissionRequest` events (one per
/// NACKed packet) arrive: a request over the limit is taken and answered
/// handled. No retransmission element (`hub.feedback = "none"`): nothing.
pub fn limit_retransmissions(
    pipeline: &gst::Pipeline,
    limit: Arc<Mutex<RetransmissionLimit>>,
    sent: Arc<super::pacing::SendTimes>,
) {
    let Some(pad) = pipeline
        .by_name(RTX_ELEMENT)
        .and_then(|rtx| rtx.static_pad("src"))
    else {
        return;
    };
    let last_log = Mutex::new(None::<Instant>);
    let last_premature_log = Mutex::new(None::<Instant>);
    pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
        if !super::probe::is_event_named(info, "GstRTPRetransmissionRequest") {
            return gst::PadProbeReturn::Ok;
        }
        let now = Instant::now();
        let sent_at = match &info.data {
            Some(gst::PadProbeData::Event(event)) => event
                .structure()
                .and_then(|s| s.get::<u32>("seqnum").ok())
                .and_then(|seq| u16::try_from(seq).ok())
                .and_then(|seq| sent.sent_at(seq)),
            _ => None,
        };
        let Ok(mut limit) = limit.lock() else {
            return gst::PadProbeReturn::Ok;
        };
        if limit.premature(now, sent_at) {
            let premature = limit.premature_count();
            drop(limit);
            if let Ok(mut last) = last_premature_log.lock() {
                if last.is_none_or(|t| now.saturating_duration_since(t) >= LOG_INTERVAL) {
                    *last = Some(now);
                    tracing::info!(
                        premature,
                        "retransmission requests from the hub for packets sent less than a round trip ago refused (on their way)"
                    );
                }
            }
            return super::probe::discard(info);
        }
        let admitted = limit.admit(now);
        let (answered, refused) = limit.counts();
        let per_second = limit.packets_per_second();
        drop(limit);
        if !admitted {
            if let Ok(mut last) = last_log.lock() {
                if last.is_none_or(|t| now.saturating_duration_since(t) >= LOG_INTERVAL) {
                    *last = Some(now);
                    tracing::info!(
                        answered,
                        refused,
                        per_second = per_second.round(),
                        "retransmission requests from the hub over a quarter of the video target refused"
                    );
                }
            }
            return super::probe::discard(info);
        }
        gst::PadProbeReturn::Ok
    });
}

/// Video packets retransmitted since the pipeline started (`rtprtxsend`'s
/// `num-rtx-packets`); 0 without retransmission.
pub fn retransmissions(pipeline: &gst::Pipeline) -> u64 {
    pipeline
        .by_name(RTX_ELEMENT)
        .map_or(0, |rtx| u64::from(rtx.property::<u32>("num-rtx-packets")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_request_a_second_passes_and_the_rest_of_a_flood_is_dropped() {
        let mut limit = KeyframeLimit::new(KEYFRAME_REQUEST_INTERVAL);
        let start = Instant::now();
        // 50 PLIs a second for 5 s.
        let passed: Vec<Duration> = (0..250u64)
            .map(|i| Duration::from_millis(i * 20))
            .filter(|&at| limit.admit(start + at))
            .collect();
        assert_eq!(passed, (0..5).map(Duration::from_secs).collect::<Vec<_>>());
    }

    #[test]
    fn a_lone_request_after_a_quiet_second_passes_at_once() {
        let mut limit = KeyframeLimit::new(KEYFRAME_REQUEST_INTERVAL);
        let t = Instant::now();
        assert!(limit.admit(t));
        assert!(!limit.admit(t + Duration::from_millis(999)));
        assert!(limit.admit(t + Duration::from_millis(2500)));
        assert!(!limit.admit(t + Duration::from_millis(2600)));
        // A clock that seems to go back never opens the limit.
        assert!(!limit.admit(t));
    }

    #[test]
    fn the_retransmission_bin_has_the_pads_rtpbin_looks_for() {
        gst::init().unwrap();
        let Ok(rtpbin) = gst::ElementFactory::make("rtpbin").build() else {
            return; // GStreamer's good plugins are not installed here
        };
        if gst::ElementFactory::find("rtprtxsend").is_none() {
            return;
        }
        attach_retransmission(&rtpbin).unwrap();
        let aux = rtpbin
            .emit_by_name::<Option<gst::Element>>("request-aux-sender", &[&0u32])
            .unwrap();
        assert!(aux.static_pad("sink_0").is_some() && aux.static_pad("src_0").is_some());
        let rtx = aux
            .downcast_ref::<gst::Bin>()
            .and_then(|b| b.by_name(RTX_ELEMENT))
            .unwrap();
        let map = rtx.property::<gst::Structure>("payload-type-map");
        assert_eq!(map.get::<u32>("96").unwrap(), 97);
        assert_eq!(rtx.property::<u32>("max-size-time"), RTX_HISTORY_MS);
        // Asked again, or for the audio session: nothing.
        let again = rtpbin.emit_by_name::<Option<gst::Element>>("request-aux-sender", &[&0u32]);
        assert!(again.is_none());
        let audio = rtpbin.emit_by_name::<Option<gst::Element>>("request-aux-sender", &[&1u32]);
        assert!(audio.is_none());
    }
}
