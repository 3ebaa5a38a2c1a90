//! The box core: button, call machine, stream supervisor and LEDs composed.
//!
//! Shaped like str0m's `Rtc`: feed it [`Input`]s with the current time, let
//! time pass with [`BoxCore::handle_timeout`], drain [`Output`]s with
//! [`BoxCore::poll_output`], and sleep until [`BoxCore::poll_timeout`]. The
//! daemon's main loop is the only caller in production; tests call it with
//! made-up times.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::button::{Button, ButtonTiming, Press};
use crate::call::{CallEvent, CallInput, CallMachine, CallState};
use crate::config::SessionMode;
use crate::delay_control::PacketResult;
use crate::indication::{indication_for, Indication, IndicationInputs};
use crate::led::LedStates;
use crate::send_control::{SendAction, SendControl, SendObservation, SendStatus};
use crate::supervisor::{RestartPolicy, StreamAction, StreamState, StreamSupervisor};

/// How the core is set up.
#[derive(Debug, Clone, Copy)]
pub struct CoreSettings {
    /// When the box streams.
    pub mode: SessionMode,
    /// How long a call waits for the hub.
    pub call_timeout: Duration,
    /// Whether a hub must accept calls (a signalling path exists).
    pub hub_signalling: bool,
    /// Whether the call button was down when the box started.
    pub button_down_at_start: bool,
    /// Button timing.
    pub button: ButtonTiming,
    /// Pipeline restart policy.
    pub restart: RestartPolicy,
}

impl CoreSettings {
    /// Settings with the default timings.
    pub fn new(mode: SessionMode, call_timeout: Duration) -> Self {
        CoreSettings {
            mode,
            call_timeout,
            hub_signalling: false,
            button_down_at_start: false,
            button: ButtonTiming::default(),
            restart: RestartPolicy::default(),
        }
    }
}

/// Something the outside world tells the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The call button's raw level changed.
    ButtonLevel {
        /// Whether it is down.
        pressed: bool,
    },
    /// The pipeline's first packet left the box.
    StreamStarted,
    /// The pipeline failed.
    StreamFailed {
        /// What failed, naming the element.
        reason: String,
    },
    /// The RTP packets the pipeline handed to its senders so far, reported
    /// every second: the stream supervisor's stall watchdog restarts a
    /// stream whose counts stop (its encoder or microphone stalled).
    PacketsSent {
        /// Video packets.
        video: u64,
        /// Audio packets.
        audio: u64,
    },
    /// The hub started a session (or accepted a call).
    HubStart,
    /// The hub ended the session (or refused the call).
    HubEnd,
    /// Blink every LED for this long so an installer can find the box.
    Identify(Duration),
    /// The media settings changed in a way that needs a new pipeline.
    RebuildStream,
    /// The network refuses the packets a sender hands its socket (no route
    /// to the hub): the pipeline runs on, the room is told.
    SendRefused {
        /// The sender and the system's words.
        reason: String,
    },
    /// This second's reading of the hub's receiver reports and the box's
    /// own sockets, while a pipeline runs ([`SendControl`] decides).
    SendTick(SendObservation),
    /// The hub's transport-wide feedback on the video (per packet, when
    /// it arrived), while a pipeline runs.
    TransportFeedback(Vec<PacketResult>),
}

/// Something the core asks of the outside world, or reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Build/start or tear down the pipeline.
    Stream(StreamAction),
    /// The LEDs must now show this.
    Leds(LedStates),
    /// The call changed.
    Call(CallEvent),
    /// The stream state changed (for logs and status reports).
    StreamState(StreamState),
    /// A button press was decided.
    Press(Press),
    /// Staff held the button from power-up: wipe provisioned config.
    FactoryReset,
    /// What the running pipeline must do about the path to the hub.
    Send(SendAction),
}

/// The composed box core.
#[derive(Debug)]
pub struct BoxCore {
    mode: SessionMode,
    button: Button,
    call: CallMachine,
    stream: StreamSupervisor,
    identify_until: Option<Instant>,
    leds: LedStates,
    /// What the LEDs and the screen show.
    indication: Indication,
    last_stream_state: StreamState,
    outputs: VecDeque<Output>,
    /// The video bitrate's floor and ceiling (`None`: no media settings).
    video_limits: Option<(u32, u32)>,
    /// The running pipeline's sending decisions; made when the core asks
    /// for a pipeline, dropped when it tears it down.
    send: Option<SendControl>,
    /// The network's last refusal of the box's packets, and when.
    refused: Option<(String, Instant)>,
}

/// How long after the network's last refusal the room is still told: the
/// refusals come at most once a second while they last.
pub const REFUSAL_SHOWN_FOR: Duration = Duration::from_secs(3);

impl BoxCore {
    /// A core started at `now`. In `always` mode it asks for the stream at once.
    pub fn new(settings: CoreSettings, now: Instant) -> Self {
        let call = CallMachine::new(settings.hub_signalling, settings.call_timeout);
        let stream = StreamSupervisor::new(settings.restart);
        let indication = indication_for(IndicationInputs {
            call: &call.state(),
            stream: &stream.state(),
            identify: false,
            video_stopped: None,
            send_refused: None,
        });
        let leds = indication.leds();
        let mut core = BoxCore {
            mode: settings.mode,
            button: Button::new(settings.button, settings.button_down_at_start, now),
            call,
            stream,
            identify_until: None,
            last_stream_state: StreamState::Stopped,
            outputs: VecDeque::from([Output::Leds(leds.clone())]),
            leds,
            indication,
            video_limits: None,
            send: None,
            refused: None,
        };
        core.settle(now);
        core
    }

    /// The call state.
    pub fn call_state(&self) -> CallState {
        self.call.state()
    }

    /// The stream state.
    pub fn stream_state(&self) -> StreamState {
        self.stream.state()
    }

    /// How many times the stream stalled and was restarted since the core
    /// was made (the daemon's start).
    pub fn stalls(&self) -> u64 {
        self.stream.stalls()
    }

    /// The LEDs as they should show now.
    pub fn leds(&self) -> &LedStates {
        &self.leds
    }

    /// What the LEDs and the screen tell the room now.
    pub fn indication(&self) -> &Indication {
        &self.indication
    }

    /// The video bitrate's floor and ceiling (from the media settings; a
    /// pushed config changes them): the running session's rate control
    /// stays within them.
    pub fn set_video_limits(&mut self, limits: Option<(u32, u32)>) {
        self.video_limits = limits;
        if let (Some(send), Some((floor, ceiling))) = (self.send.as_mut(), limits) {
            send.set_limits(floor, ceiling);
        }
    }

    /// The running session's sending, as of `now` (`None` while no
    /// pipeline runs).
    pub fn send_status(&self, now: Instant) -> Option<SendStatus> {
        self.send.as_ref().map(|s| s.status(now))
    }

    /// Whether a hub must accept calls.
    pub fn set_hub_signalling(&mut self, on: bool) {
        self.call.set_hub_signalling(on);
    }

    /// Applies new session settings (a pushed config); the stream follows
    /// the new mode at once.
    pub fn set_session(&mut self, mode: SessionMode, call_timeout: Duration, now: Instant) {
        self.mode = mode;
        self.call.set_call_timeout(call_timeout);
        self.settle(now);
    }

    /// Feeds one input.
    pub fn handle_input(&mut self, input: Input, now: Instant) {
        match input {
            Input::ButtonLevel { pressed } => {
                if let Some(press) = self.button.on_level(pressed, now) {
                    self.on_press(press, now);
                }
            }
            Input::StreamStarted => self.stream.on_streaming(now),
            Input::PacketsSent { video, audio } => {
                // Video the circuit breaker holds off is not a stall.
                let stopped = self.send.as_ref().and_then(SendControl::video_stopped);
                let video = if stopped.is_some() { None } else { Some(video) };
                self.stream.on_packets(video, audio, now);
            }
            Input::SendRefused { reason } => self.refused = Some((reason, now)),
            Input::SendTick(observation) => {
                if let Some(send) = self.send.as_mut() {
                    send.observe(observation, now);
                    while let Some(action) = send.poll_action() {
                        self.outputs.push_back(Output::Send(action));
                    }
                }
            }
            Input::TransportFeedback(packets) => {
                if let Some(send) = self.send.as_mut() {
                    send.on_transport_feedback(&packets, now);
                    while let Some(action) = send.poll_action() {
                        self.outputs.push_back(Output::Send(action));
                    }
                }
            }
            Input::StreamFailed { reason } => {
                if let Some(action) = self.stream.on_failed(reason, now) {
                    self.outputs.push_back(Output::Stream(action));
                }
            }
            Input::HubStart => self.call_input(CallInput::HubStart, now),
            Input::HubEnd => self.call_input(CallInput::HubEnd, now),
            Input::Identify(duration) => self.identify_until = Some(now + duration),
            Input::RebuildStream => {
                for action in self.stream.restart(now) {
                    self.outputs.push_back(Output::Stream(action));
                }
            }
        }
        self.settle(now);
    }

    /// Lets time pass up to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(press) = self.button.handle_timeout(now) {
            self.on_press(press, now);
        }
        if let Some(event) = self.call.handle_timeout(now) {
            self.outputs.push_back(Output::Call(event));
        }
        if let Some(action) = self.stream.handle_timeout(now) {
            self.outputs.push_back(Output::Stream(action));
        }
        if self.identify_until.is_some_and(|until| now >= until) {
            self.identify_until = None;
        }
        if self
            .refused
            .as_ref()
            .is_some_and(|(_, at)| now >= *at + REFUSAL_SHOWN_FOR)
        {
            self.refused = None;
        }
        self.settle(now);
    }

    /// The next thing the outside world must do or know. A pipeline asked
    /// for starts a new session's sending decisions; one torn down ends
    /// them.
    pub fn poll_output(&mut self) -> Option<Output> {
        let output = self.outputs.pop_front()?;
        match output {
            Output::Stream(StreamAction::Start) => {
                self.send = self
                    .video_limits
                    .map(|(floor, ceiling)| SendControl::new(floor, ceiling));
            }
            Output::Stream(StreamAction::Stop) => {
                self.send = None;
                self.refused = None;
            }
            _ => {}
        }
        Some(output)
    }

    /// When [`BoxCore::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.button.poll_timeout(),
            self.call.poll_timeout(),
            self.stream.poll_timeout(),
            self.identify_until,
            self.refused.as_ref().map(|(_, at)| *at + REFUSAL_SHOWN_FOR),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn on_press(&mut self, press: Press, now: Instant) {
        self.outputs.push_back(Output::Press(press));
        match press {
            Press::Short => self.call_input(CallInput::ShortPress, now),
            Press::Long => self.call_input(CallInput::LongPress, now),
            Press::FactoryReset => self.outputs.push_back(Output::FactoryReset),
        }
    }

    fn call_input(&mut self, input: CallInput, now: Instant) {
        if let Some(event) = self.call.handle(input, now) {
            self.outputs.push_back(Output::Call(event));
        }
    }

    /// Brings the stream's wanted state and the LEDs in line with the call.
    fn settle(&mut self, now: Instant) {
        let wanted = self.mode == SessionMode::Always
            || matches!(self.call.state(), CallState::InSession { .. });
        if let Some(action) = self.stream.set_wanted(wanted, now) {
            self.outputs.push_back(Output::Stream(action));
        }
        let stream_state = self.stream.state();
        if stream_state != self.last_stream_state {
            self.last_stream_state = stream_state.clone();
            self.outputs
                .push_back(Output::StreamState(stream_state.clone()));
        }
        self.indication = indication_for(IndicationInputs {
            call: &self.call.state(),
            stream: &stream_state,
            identify: self.identify_until.is_some(),
            video_stopped: self.send.as_ref().and_then(SendControl::video_stopped),
            send_refused: self.refused.as_ref().map(|(reason, _)| reason.as_str()),
        });
        let leds = self.indication.leds();
        if leds != self.leds {
            self.leds = leds.clone();
            self.outputs.push_back(Output::Leds(leds));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::led::LedPattern;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn drain(core: &mut BoxCore) -> Vec<Output> {
        std::iter::from_fn(|| core.poll_output()).collect()
    }

    fn press(core: &mut BoxCore, at: Instant, hold: Duration) -> Vec<Output> {
        core.handle_input(Input::ButtonLevel { pressed: true }, at);
        core.handle_timeout(at + hold);
        core.handle_input(Input::ButtonLevel { pressed: false }, at + hold);
        drain(core)
    }

    #[test]
    fn a_network_that_refuses_the_packets_shows_no_connection_without_a_restart() {
        let t0 = Instant::now();
        let mut core = BoxCore::new(
            CoreSettings::new(SessionMode::Always, Duration::from_secs(60)),
            t0,
        );
        drain(&mut core);
        core.handle_input(Input::StreamStarted, t0);
        let reason = "video-rtp-sink: Network is unreachable";
        for i in 1..=10 {
            let now = t0 + Duration::from_secs(i);
            core.handle_input(
                Input::PacketsSent {
                    video: 30 * i,
                    audio: 50 * i,
                },
                now,
            );
            core.handle_input(
                Input::SendRefused {
                    reason: reason.into(),
                },
                now,
            );
            core.handle_timeout(now);
            let out = drain(&mut core);
            assert!(
                !out.iter().any(|o| matches!(o, Output::Stream(_))),
                "{out:?}"
            );
        }
        assert_eq!(
            core.indication(),
            &Indication::NoConnection {
                reason: reason.into()
            }
        );
        assert_eq!(core.leds().status, LedPattern::BlinkFast);
        assert_eq!(core.stream_state(), StreamState::Streaming);
        // The route is back: no refusal for 3 s, on air again.
        let last = t0 + Duration::from_secs(10);
        assert_eq!(core.poll_timeout(), Some(last + REFUSAL_SHOWN_FOR));
        core.handle_timeout(last + REFUSAL_SHOWN_FOR);
        assert_eq!(core.indication(), &Indication::OnAir);
    }

    #[test]
    fn a_congested_path_pauses_the_video_sound_only_on_the_leds_no_stall_then_resumes() {
        use crate::circuit_breaker::Trip;
        use crate::send_control::{ReportBlock, SendObservation};
        let t0 = Instant::now();
        let mut core = BoxCore::new(
            CoreSettings::new(SessionMode::Always, Duration::from_secs(60)),
            t0,
        );
        core.set_video_limits(Some((300, 1500)));
        // The first output asks for the pipeline: the session's sending
        // decisions start with it.
        assert!(drain(&mut core).contains(&Output::Stream(StreamAction::Start)));
        assert_eq!(core.send_status(t0).map(|s| s.target_kbps), Some(1500));
        core.handle_input(Input::StreamStarted, t0);
        let (mut video, mut audio, mut bytes) = (0u64, 0u64, 0u64);
        let mut seq = 100u32;
        let mut tick = |core: &mut BoxCore, at: u64, loss: f64, video_flows: bool| {
            let now = t0 + Duration::from_secs(at);
            if video_flows {
                video += 100;
                bytes += 100 * 1200;
            }
            audio += 50;
            seq += 50;
            let report = at.is_multiple_of(5).then_some(ReportBlock {
                highest_seq: seq,
                lsr: at as u32,
                dlsr: 1,
                fraction_lost: loss,
                rtt_ms: Some(100.0),
            });
            core.handle_input(Input::PacketsSent { video, audio }, now);
            core.handle_input(
                Input::SendTick(SendObservation {
                    video_report: report,
                    audio_report: report,
                    video_bytes_sent: bytes,
                    video_packets_sent: video,
                    video_packets_handed: video,
                    hub_rtcp_packets: 0,
                    retransmissions: 0,
                }),
                now,
            );
            core.handle_timeout(now);
            drain(core)
        };
        let mut stopped_at = None;
        for at in 1..=40 {
            let flows = stopped_at.is_none();
            let out = tick(&mut core, at, 0.4, flows);
            if out.contains(&Output::Send(SendAction::VideoStopped(Trip::Congestion))) {
                stopped_at = Some(at);
            }
            assert!(
                !out.contains(&Output::Stream(StreamAction::Stop)),
                "a paused video is not a stall (at {at} s)"
            );
        }
        assert!(stopped_at.is_some_and(|t| t <= 20), "{stopped_at:?}");
        assert_eq!(core.indication().name(), "sound_only");
        assert_eq!(core.leds().call, LedPattern::On);
        assert_eq!(core.leds().status, LedPattern::BlinkSlow);
        assert_eq!(core.stream_state(), StreamState::Streaming);
        // The path clears: video back, a keyframe, the LEDs on air again.
        let mut resumed = false;
        for at in 41..=60 {
            let out = tick(&mut core, at, 0.0, resumed);
            resumed |= out.contains(&Output::Send(SendAction::VideoResumed));
        }
        assert!(resumed);
        assert_eq!(core.indication().name(), "on_air");
        assert_eq!(core.leds().status, LedPattern::Heartbeat);
        assert_eq!(core.send_status(t0).map(|s| s.breaker_trips), Some(1));
        // A new pipeline starts its decisions afresh; none without one.
        core.handle_input(Input::RebuildStream, t0 + Duration::from_secs(61));
        let out = drain(&mut core);
        assert!(out.contains(&Output::Stream(StreamAction::Stop)));
        assert!(out.contains(&Output::Stream(StreamAction::Start)));
        assert_eq!(core.send_status(t0).map(|s| s.breaker_trips), Some(0));
        core.set_session(
            SessionMode::OnCall,
            Duration::from_secs(60),
            t0 + Duration::from_secs(62),
        );
        assert!(drain(&mut core).contains(&Output::Stream(StreamAction::Stop)));
        assert_eq!(core.send_status(t0), None);
    }

    #[test]
    fn on_call_press_streams_and_long_press_stops() {
        let t0 = Instant::now();
        let mut core = BoxCore::new(
            CoreSettings::new(SessionMode::OnCall, Duration::from_secs(60)),
            t0,
        );
        let first = drain(&mut core);
        assert!(
            !first.iter().any(|o| matches!(o, Output::Stream(_))),
            "on_call does not stream at start"
        );
        assert_eq!(core.leds().call, LedPattern::Off);

        let out = press(&mut core, t0 + ms(5000), ms(150));
        assert!(out.contains(&Output::Press(Press::Short)));
        assert!(out.contains(&Output::Call(CallEvent::SessionStarted)));
        assert!(out.contains(&Output::Stream(StreamAction::Start)));
        assert_eq!(
            core.leds().call,
            LedPattern::BlinkSlow,
            "starting, not yet on air"
        );

        core.handle_input(Input::StreamStarted, t0 + ms(5400));
        assert!(drain(&mut core).contains(&Output::StreamState(StreamState::Streaming)));
        assert_eq!(core.leds().call, LedPattern::On);

        let out = press(&mut core, t0 + ms(9000), ms(2500));
        assert!(out.contains(&Output::Press(Press::Long)));
        assert!(out.contains(&Output::Stream(StreamAction::Stop)));
        assert_eq!(core.leds().call, LedPattern::Off);
        assert_eq!(core.stream_state(), StreamState::Stopped);
    }

    #[test]
    fn always_mode_streams_from_start() {
        let t0 = Instant::now();
        let mut core = BoxCore::new(
            CoreSettings::new(SessionMode::Always, Duration::from_secs(60)),
            t0,
        );
        assert!(drain(&mut core).contains(&Output::Stream(StreamAction::Start)));
        // A long press does not stop an always-on box.
        let out = press(&mut core, t0 + ms(5000), ms(2500));
        assert!(!out.contains(&Output::Stream(StreamAction::Stop)));
    }

    #[test]
    fn pipeline_failure_is_retried_and_shown_on_the_leds() {
        let t0 = Instant::now();
        let mut core = BoxCore::new(
            CoreSettings::new(SessionMode::Always, Duration::from_secs(60)),
            t0,
        );
        drain(&mut core);
        core.handle_input(
            Input::StreamFailed {
                reason: "video-source: gone".into(),
            },
            t0 + ms(100),
        );
        let out = drain(&mut core);
        assert!(out.contains(&Output::Stream(StreamAction::Stop)));
        assert_eq!(core.stream_state().name(), "error");
        assert_eq!(core.leds().status, LedPattern::BlinkFast);
        let retry = core.poll_timeout().unwrap();
        assert_eq!(retry, t0 + ms(600));
        core.handle_timeout(retry);
        assert!(drain(&mut core).contains(&Output::Stream(StreamAction::Start)));
        assert_eq!(core.stream_state(), StreamState::Starting);
    }

    #[test]
    fn a_stream_whose_packets_stop_is_restarted_and_counted() {
        let t0 = Instant::now();
        let mut core = BoxCore::new(
            CoreSettings::new(SessionMode::Always, Duration::from_secs(60)),
            t0,
        );
        core.handle_input(Input::StreamStarted, t0 + ms(300));
        // As the daemon does: every second, time passes and the counts are
        // reported. Video stops moving after 2 s; audio goes on.
        for i in 1..=6u64 {
            let now = t0 + ms(1000 * i);
            core.handle_timeout(now);
            let video = 30 * i.min(2);
            core.handle_input(
                Input::PacketsSent {
                    video,
                    audio: 50 * i,
                },
                now,
            );
        }
        drain(&mut core);
        assert_eq!(core.stream_state(), StreamState::Streaming);
        assert_eq!(
            core.poll_timeout(),
            Some(t0 + ms(7000)),
            "5 s after video last moved"
        );
        core.handle_timeout(t0 + ms(6999));
        assert!(drain(&mut core).is_empty());
        core.handle_timeout(t0 + ms(7000));
        let out = drain(&mut core);
        assert!(out.contains(&Output::Stream(StreamAction::Stop)), "{out:?}");
        assert_eq!(core.stalls(), 1);
        assert_eq!(core.stream_state().name(), "error");
    }

    #[test]
    fn a_stall_goes_through_error_and_back_off_to_a_new_pipeline() {
        let t0 = Instant::now();
        let mut core = BoxCore::new(
            CoreSettings::new(SessionMode::Always, Duration::from_secs(60)),
            t0,
        );
        drain(&mut core);
        core.handle_input(Input::StreamStarted, t0);
        core.handle_input(Input::PacketsSent { video: 5, audio: 5 }, t0);
        drain(&mut core);
        core.handle_timeout(t0 + ms(4999));
        assert!(drain(&mut core).is_empty(), "nothing before 5 s");
        core.handle_timeout(t0 + ms(5000));
        let out = drain(&mut core);
        assert!(out.contains(&Output::Stream(StreamAction::Stop)), "{out:?}");
        assert!(
            out.iter().any(
                |o| matches!(o, Output::StreamState(StreamState::Error { reason, failures: 1, .. })
                if reason == "no video packet left the box for 5 s (the encoder stalled?)")
            ),
            "{out:?}"
        );
        assert_eq!(core.leds().status, LedPattern::BlinkFast);
        assert_eq!(core.stalls(), 1);
        let retry = core.poll_timeout().unwrap();
        assert_eq!(retry, t0 + ms(5500));
        core.handle_timeout(retry);
        assert!(drain(&mut core).contains(&Output::Stream(StreamAction::Start)));
        core.handle_input(Input::StreamStarted, retry + ms(400));
        assert_eq!(core.stream_state(), StreamState::Streaming);
        assert_eq!(core.stalls(), 1, "the count is kept across restarts");
    }

    #[test]
    fn with_signalling_the_call_waits_for_the_hub_then_times_out() {
        let t0 = Instant::now();
        let mut settings = CoreSettings::new(SessionMode::OnCall, Duration::from_secs(60));
        settings.hub_signalling = true;
        let mut core = BoxCore::new(settings, t0);
        let out = press(&mut core, t0 + ms(5000), ms(100));
        assert!(out.contains(&Output::Call(CallEvent::Requested)));
        assert!(!out.contains(&Output::Stream(StreamAction::Start)));
        assert_eq!(core.leds().call, LedPattern::BlinkSlow);
        let deadline = core.poll_timeout().unwrap();
        assert_eq!(deadline, t0 + ms(5100) + Duration::from_secs(60));
        core.handle_timeout(deadline);
        assert!(drain(&mut core).contains(&Output::Call(CallEvent::TimedOut)));
        assert_eq!(core.leds().call, LedPattern::Off);
    }

    #[test]
    fn hub_start_streams_and_hub_end_stops() {
        let t0 = Instant::now();
        let mut settings = CoreSettings::new(SessionMode::OnCall, Duration::from_secs(60));
        settings.hub_signalling = true;
        let mut core = BoxCore::new(settings, t0);
        press(&mut core, t0 + ms(5000), ms(100));
        core.handle_input(Input::HubStart, t0 + ms(6000));
        assert!(drain(&mut core).contains(&Output::Stream(StreamAction::Start)));
        core.handle_input(Input::HubEnd, t0 + ms(9000));
        assert!(drain(&mut core).contains(&Output::Stream(StreamAction::Stop)));
    }

    #[test]
    fn switching_to_always_starts_the_stream_and_back_stops_it() {
        let t0 = Instant::now();
        let mut core = BoxCore::new(
            CoreSettings::new(SessionMode::OnCall, Duration::from_secs(60)),
            t0,
        );
        drain(&mut core);
        core.set_session(SessionMode::Always, Duration::from_secs(30), t0 + ms(10));
        assert!(drain(&mut core).contains(&Output::Stream(StreamAction::Start)));
        core.set_session(SessionMode::OnCall, Duration::from_secs(30), t0 + ms(20));
        assert!(drain(&mut core).contains(&Output::Stream(StreamAction::Stop)));
    }

    #[test]
    fn identify_blinks_for_its_duration_then_restores() {
        let t0 = Instant::now();
        let mut core = BoxCore::new(
            CoreSettings::new(SessionMode::OnCall, Duration::from_secs(60)),
            t0,
        );
        core.handle_input(Input::Identify(Duration::from_secs(10)), t0);
        assert_eq!(core.leds().call, LedPattern::Identify);
        core.handle_timeout(t0 + Duration::from_secs(10));
        assert_eq!(core.leds().call, LedPattern::Off);
        assert_eq!(core.leds().status, LedPattern::Heartbeat);
    }

    #[test]
    fn factory_reset_from_a_power_up_hold() {
        let t0 = Instant::now();
        let mut settings = CoreSettings::new(SessionMode::OnCall, Duration::from_secs(60));
        settings.button_down_at_start = true;
        let mut core = BoxCore::new(settings, t0);
        core.handle_timeout(core.poll_timeout().unwrap());
        assert!(drain(&mut core).contains(&Output::FactoryReset));
    }

    #[test]
    fn a_day_of_presses_runs_faster_than_real_time() {
        // 24 h of a press every 10 minutes, driven by the core's own timers.
        let t0 = Instant::now();
        let mut core = BoxCore::new(
            CoreSettings::new(SessionMode::OnCall, Duration::from_secs(60)),
            t0,
        );
        let mut sessions = 0;
        for i in 0..144u64 {
            let at = t0 + Duration::from_secs(600 * i + 5);
            let hold = if i % 2 == 0 { ms(200) } else { ms(3000) };
            for o in press(&mut core, at, hold) {
                if o == Output::Call(CallEvent::SessionStarted) {
                    sessions += 1;
                    core.handle_input(Input::StreamStarted, at + hold + ms(300));
                }
            }
        }
        assert_eq!(sessions, 72);
        assert_eq!(core.call_state(), CallState::Idle);
    }
}
