//! The room's screen: one long-lived pipeline that owns the display.
//!
//! ```text
//! card-background (solid colour, live) → card-name → card-headline → card-detail
//!   → card-clock ─────────────────────────────────────────┐ sink_0 (always)
//! central-source (intervideosrc "bridgepoint-central") ──→ │ sink_1 (alpha 1 while central's picture plays)
//! self-view-source (intervideosrc "bridgepoint-self-view") → │ sink_2 (small, bottom right, in a session)
//!                                              screen-mixer (compositor) → screen-sink
//! ```
//!
//! The session pipeline hands central's decoded picture and the room's own
//! camera over in-process channels (`intervideosink`), so the display has
//! one owner whether or not a session runs, and a session that restarts
//! never blanks the screen. What to show is the core's
//! ([`bridgepoint_core::screen::screen_for`]); [`Screen::show`] only sets
//! texts, colours and the mixer's alphas. [`render_card_png`] draws one card
//! to a PNG with the same elements, for `bridgepointd card` and the docs.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bridgepoint_core::playback::DisplayChoice;
use bridgepoint_core::screen::{Card, ScreenView};
use gstreamer as gst;
use gstreamer::prelude::*;

use super::pipeline::{box_clock, make, set_nick};
use super::runner::bus_error;
use super::PipelineError;

/// The channel central's decoded picture reaches the screen on.
pub const CENTRAL_CHANNEL: &str = "bridgepoint-central";
/// The channel the room's own camera reaches the screen on.
pub const SELF_VIEW_CHANNEL: &str = "bridgepoint-self-view";
/// The screen's size (kmssink scales to the display's mode).
pub const SCREEN_WIDTH: i32 = 1280;
/// The screen's height.
pub const SCREEN_HEIGHT: i32 = 720;
/// Frames per second of a real screen.
pub const SCREEN_FPS: i32 = 25;
/// Frames per second with no screen (a fake sink): the same pipeline runs,
/// so that what a box without a screen reports is what one with a screen
/// shows, at a fifth of the work.
pub const NO_SCREEN_FPS: i32 = 5;
/// The self-view's size: a quarter of the screen's width.
pub const SELF_VIEW_WIDTH: i32 = 320;
/// The self-view's height.
pub const SELF_VIEW_HEIGHT: i32 = 180;
/// The font of the card (DejaVu Sans has every Vietnamese letter).
pub const CARD_FONT: &str = "DejaVu Sans";

/// The card's text elements and its colour, set on every change.
struct CardElements {
    background: gst::Element,
    /// The background colour wanted (0xAARRGGBB); the background's own
    /// streaming thread applies it (see [`follow_colour`]).
    colour: Arc<AtomicU32>,
    name: gst::Element,
    headline: gst::Element,
    detail: gst::Element,
}

/// Builds the card's elements into `bin` and links them; returns them
/// and the last one (the clock).
fn build_card(
    bin: &gst::Pipeline,
    width: i32,
    height: i32,
    fps: i32,
) -> Result<(CardElements, gst::Element), PipelineError> {
    let role = "the screen's card";
    let background = make("videotestsrc", "card-background", role)?;
    background.set_property("is-live", true);
    set_nick(&background, "pattern", "solid-color")?;
    let caps = make("capsfilter", "card-caps", role)?;
    caps.set_property(
        "caps",
        gst::Caps::builder("video/x-raw")
            .field("format", "BGRx")
            .field("width", width)
            .field("height", height)
            .field("framerate", gst::Fraction::new(fps, 1))
            .build(),
    );
    let text =
        |name: &str, size: u32, valign: &str, ypad: i32| -> Result<gst::Element, PipelineError> {
            let overlay = make("textoverlay", name, role)?;
            overlay.set_property("font-desc", format!("{CARD_FONT} {size}"));
            set_nick(&overlay, "valignment", valign)?;
            set_nick(&overlay, "halignment", "center")?;
            set_nick(&overlay, "wrap-mode", "wordchar")?;
            overlay.set_property("ypad", ypad);
            overlay.set_property("shaded-background", false);
            overlay.set_property("draw-shadow", false);
            overlay.set_property("silent", false);
            // Sizes are for the card's own height (scale below), not the
            // overlay's guess from the frame size.
            overlay.set_property("auto-resize", false);
            Ok(overlay)
        };
    let scale = |points: i32| (points * height / SCREEN_HEIGHT).max(6) as u32;
    // Name at the top, the state above the middle, what it means from 58 %
    // down (wrapped), the time at the bottom: long details never run into
    // the state.
    let name = text("card-name", scale(28), "top", height / 10)?;
    let headline = text("card-headline", scale(48), "top", height * 30 / 100)?;
    let detail = text("card-detail", scale(28), "top", height * 56 / 100)?;
    let clock = make("clockoverlay", "card-clock", role)?;
    clock.set_property("font-desc", format!("{CARD_FONT} {}", scale(24)));
    clock.set_property("auto-resize", false);
    clock.set_property("time-format", "%H:%M   %d/%m/%Y");
    set_nick(&clock, "valignment", "bottom")?;
    set_nick(&clock, "halignment", "center")?;
    clock.set_property("ypad", height / 14);
    clock.set_property("shaded-background", false);
    let chain = [&background, &caps, &name, &headline, &detail, &clock];
    bin.add_many(chain)
        .map_err(|e| PipelineError::StateChange(format!("cannot add the card: {e}")))?;
    gst::Element::link_many(chain)
        .map_err(|e| PipelineError::StateChange(format!("cannot link the card: {e}")))?;
    let colour = Arc::new(AtomicU32::new(0));
    follow_colour(&background, colour.clone());
    Ok((
        CardElements {
            background,
            colour,
            name,
            headline,
            detail,
        },
        clock,
    ))
}

impl CardElements {
    fn set(&self, card: &Card) {
        self.colour.store(card.tone.argb(), Ordering::Relaxed);
        self.name.set_property("text", &card.name);
        self.headline.set_property("text", &card.headline);
        self.detail.set_property("text", &card.detail);
    }
}

/// Applies the wanted colour to the background from its own streaming
/// thread, between two frames. videotestsrc keeps a cached frame of its
/// solid colour and drops it when the colour changes: changed from another
/// thread while the streaming thread copies from it, that thread reads a
/// freed frame (a GStreamer-Video CRITICAL and "Internal data stream
/// error", seen once in 14 starts). Its source pad's stream lock would keep
/// them apart but is held through the wait for the next frame's time, which
/// can block the caller for as long as the pipeline is not playing.
fn follow_colour(background: &gst::Element, wanted: Arc<AtomicU32>) {
    let Some(pad) = background.static_pad("src") else {
        return;
    };
    let source = background.downgrade();
    let applied = AtomicU32::new(0);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        let colour = wanted.load(Ordering::Relaxed);
        if colour != applied.swap(colour, Ordering::Relaxed) {
            if let Some(source) = source.upgrade() {
                source.set_property("foreground-color", colour);
            }
        }
        gst::PadProbeReturn::Ok
    });
}

/// The room's screen.
pub struct Screen {
    pipeline: gst::Pipeline,
    /// Whether it shows on a real display.
    real: bool,
    card: CardElements,
    central: gst::Pad,
    self_view: gst::Pad,
    shown: Option<ScreenView>,
}

impl Screen {
    /// Builds the screen on `display` and starts it.
    pub fn start(display: &DisplayChoice) -> Result<Screen, PipelineError> {
        let pipeline = gst::Pipeline::with_name("screen");
        pipeline.use_clock(Some(&box_clock()));
        let fps = match display {
            DisplayChoice::Kms { .. } => SCREEN_FPS,
            DisplayChoice::Fake { .. } => NO_SCREEN_FPS,
        };
        let (card, card_end) = build_card(&pipeline, SCREEN_WIDTH, SCREEN_HEIGHT, fps)?;
        let role = "the room's screen";
        let mixer = make("compositor", "screen-mixer", role)?;
        set_nick(&mixer, "background", "black")?;
        let out_caps = make("capsfilter", "screen-caps", role)?;
        out_caps.set_property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("width", SCREEN_WIDTH)
                .field("height", SCREEN_HEIGHT)
                .field("framerate", gst::Fraction::new(fps, 1))
                .build(),
        );
        let convert = make("videoconvert", "screen-convert", role)?;
        let sink = match display {
            DisplayChoice::Kms { .. } => make("kmssink", "screen-sink", role)?,
            DisplayChoice::Fake { .. } => make("fakesink", "screen-sink", role)?,
        };
        sink.set_property("sync", true);
        pipeline
            .add_many([&mixer, &out_caps, &convert, &sink])
            .map_err(|e| PipelineError::StateChange(format!("cannot add the screen: {e}")))?;
        gst::Element::link_many([&mixer, &out_caps, &convert, &sink])
            .map_err(|e| PipelineError::StateChange(format!("cannot link the screen: {e}")))?;
        let card_queue = mixer_queue("card")?;
        pipeline
            .add(&card_queue)
            .map_err(|e| PipelineError::StateChange(format!("cannot add the card's queue: {e}")))?;
        card_end.link(&card_queue).map_err(|e| {
            PipelineError::StateChange(format!("cannot link the card's queue: {e}"))
        })?;
        link_to_mixer(&card_queue, &mixer, 0)?;
        let central = channel_source(&pipeline, &mixer, "central", CENTRAL_CHANNEL, 1)?;
        let self_view = channel_source(&pipeline, &mixer, "self-view", SELF_VIEW_CHANNEL, 2)?;
        central.set_property("width", SCREEN_WIDTH);
        central.set_property("height", SCREEN_HEIGHT);
        self_view.set_property("width", SELF_VIEW_WIDTH);
        self_view.set_property("height", SELF_VIEW_HEIGHT);
        self_view.set_property("xpos", SCREEN_WIDTH - SELF_VIEW_WIDTH - 24);
        self_view.set_property("ypos", SCREEN_HEIGHT - SELF_VIEW_HEIGHT - 24);
        for pad in [&central, &self_view] {
            pad.set_property("alpha", 0.0f64);
        }
        pipeline.set_state(gst::State::Playing).map_err(|_| {
            PipelineError::StateChange(format!(
                "the screen ({}) cannot start",
                sink.factory()
                    .map_or_else(|| "sink".into(), |f| f.name().to_string())
            ))
        })?;
        Ok(Screen {
            pipeline,
            real: matches!(display, DisplayChoice::Kms { .. }),
            card,
            central,
            self_view,
            shown: None,
        })
    }

    /// Shows `view` (nothing happens when it is already shown). Returns the
    /// screen's error, if it reported one since the last call.
    pub fn show(&mut self, view: &ScreenView) -> Option<PipelineError> {
        if self.shown.as_ref() != Some(view) {
            self.card.set(&view.card);
            self.central
                .set_property("alpha", if view.central_video { 1.0f64 } else { 0.0 });
            self.self_view
                .set_property("alpha", if view.self_view { 1.0f64 } else { 0.0 });
            self.shown = Some(view.clone());
        }
        let message = self
            .pipeline
            .bus()?
            .pop_filtered(&[gst::MessageType::Error])?;
        bus_error(&message)
    }

    /// How much later than a session's display sink hands a picture over
    /// a real screen shows it: the screen pipeline's latency (two of its
    /// frames and its sink's 20 ms deadline, about 100 ms). `ZERO` with no
    /// real display (nothing is seen) or before the latency is known.
    pub fn picture_delay(&self) -> std::time::Duration {
        if !self.real {
            return std::time::Duration::ZERO;
        }
        let mut query = gst::query::Latency::new();
        if !self.pipeline.query(&mut query) {
            return std::time::Duration::ZERO;
        }
        let (live, min, _) = query.result();
        if live {
            std::time::Duration::from_nanos(min.nseconds())
        } else {
            std::time::Duration::ZERO
        }
    }

    /// What the screen shows now.
    pub fn shown(&self) -> Option<&ScreenView> {
        self.shown.as_ref()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

fn link_to_mixer(
    from: &gst::Element,
    mixer: &gst::Element,
    index: u32,
) -> Result<gst::Pad, PipelineError> {
    let pad = mixer
        .request_pad_simple(&format!("sink_{index}"))
        .ok_or_else(|| PipelineError::StateChange("the screen's mixer gives no input".into()))?;
    pad.set_property("zorder", index);
    from.static_pad("src")
        .ok_or_else(|| PipelineError::StateChange(format!("{} has no output", from.name())))?
        .link(&pad)
        .map_err(|e| {
            PipelineError::StateChange(format!("cannot link {} to the screen: {e:?}", from.name()))
        })?;
    Ok(pad)
}

/// An in-process channel's picture, converted, into the mixer's `index`.
fn channel_source(
    pipeline: &gst::Pipeline,
    mixer: &gst::Element,
    what: &str,
    channel: &str,
    index: u32,
) -> Result<gst::Pad, PipelineError> {
    let role = "the room's screen";
    let source = make("intervideosrc", &format!("{what}-source"), role)?;
    source.set_property("channel", channel);
    let convert = make("videoconvert", &format!("{what}-convert"), role)?;
    let queue = mixer_queue(what)?;
    let chain = [&source, &convert, &queue];
    pipeline
        .add_many(chain)
        .map_err(|e| PipelineError::StateChange(format!("cannot add {what}: {e}")))?;
    gst::Element::link_many(chain)
        .map_err(|e| PipelineError::StateChange(format!("cannot link {what}: {e}")))?;
    link_to_mixer(&queue, mixer, index)
}

/// A queue before the mixer. Each live source reports one frame of
/// latency as its minimum and its maximum; without a queue's room between
/// them the mixer sees a minimum above the maximum, cannot configure its
/// latency and mixes as fast as it can (a whole core, measured).
fn mixer_queue(what: &str) -> Result<gst::Element, PipelineError> {
    let queue = make("queue", &format!("{what}-queue"), "the room's screen")?;
    queue.set_property("max-size-buffers", 3u32);
    queue.set_property("max-size-bytes", 0u32);
    queue.set_property("max-size-time", 0u64);
    set_nick(&queue, "leaky", "downstream")?;
    Ok(queue)
}

/// Draws `card` at `width`×`height` into a PNG file, with the elements the
/// screen uses (the clock shows the time of drawing).
pub fn render_card_png(
    card: &Card,
    width: i32,
    height: i32,
    out: &Path,
) -> Result<(), PipelineError> {
    let pipeline = gst::Pipeline::with_name("card-render");
    let (elements, card_end) = build_card(&pipeline, width, height, 1)?;
    elements.background.set_property("is-live", false);
    elements.background.set_property("num-buffers", 1i32);
    // Not running yet: the colour can be set directly (the one frame is
    // made after this).
    elements
        .background
        .set_property("foreground-color", card.tone.argb());
    elements.set(card);
    let role = "the card's picture";
    let convert = make("videoconvert", "card-convert", role)?;
    let encode = make("pngenc", "card-png", role)?;
    let sink = make("filesink", "card-file", role)?;
    sink.set_property("location", out.display().to_string());
    pipeline
        .add_many([&convert, &encode, &sink])
        .map_err(|e| PipelineError::StateChange(format!("cannot add the card's encoder: {e}")))?;
    gst::Element::link_many([&card_end, &convert, &encode, &sink])
        .map_err(|e| PipelineError::StateChange(format!("cannot link the card's encoder: {e}")))?;
    let result = run_to_end(&pipeline);
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn run_to_end(pipeline: &gst::Pipeline) -> Result<(), PipelineError> {
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| PipelineError::StateChange("the card cannot be drawn".into()))?;
    let bus = pipeline
        .bus()
        .ok_or_else(|| PipelineError::StateChange("the card's pipeline has no bus".into()))?;
    let done = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(10),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    match done {
        Some(m) if m.type_() == gst::MessageType::Eos => Ok(()),
        Some(m) => Err(bus_error(&m)
            .unwrap_or_else(|| PipelineError::StateChange("the card's pipeline failed".into()))),
        None => Err(PipelineError::StateChange(
            "the card was not drawn within 10 s".into(),
        )),
    }
}
