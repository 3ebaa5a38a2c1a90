//! `bridgepointd card`: draws the room's screen card for a state into a PNG,
//! with the box's own renderer and the core's own words.

use std::path::PathBuf;
use std::process::ExitCode;

use bridgepoint_core::circuit_breaker::Trip;
use bridgepoint_core::config::Language;
use bridgepoint_core::indication::Indication;
use bridgepoint_core::return_watch::ReturnStatus;
use bridgepoint_core::screen::{screen_for, ScreenInputs};
use bridgepoint_firmware::media;

/// The states a card can be drawn for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CardState {
    /// Outside a session, nothing going on.
    Ready,
    /// A call was requested, central has not answered.
    Calling,
    /// The session's stream is starting.
    Connecting,
    /// Central IT asked the box to show itself.
    Identify,
    /// The stream failed (with --reason).
    NoConnection,
    /// In a session, nothing came back from central yet.
    InSessionWaiting,
    /// In a session, central's sound plays but no picture yet.
    InSessionSoundOnly,
    /// In a session with a hub that only records (no receive key).
    InSessionNotReceiving,
    /// In a session, central's stream cannot be decrypted.
    InSessionUndecryptable,
    /// In a session, central's stream stopped.
    InSessionInterrupted,
    /// In a session, the circuit breaker stopped the box's video (the
    /// network loses too much); the sound goes on.
    VideoPaused,
}

/// The card's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CardLanguage {
    /// Vietnamese.
    Vi,
    /// English.
    En,
}

/// What to draw (`bridgepointd card`'s arguments).
#[derive(Debug, clap::Args)]
pub struct CardArgs {
    /// The state the card shows.
    #[arg(long, value_enum)]
    state: CardState,
    /// The language of the card.
    #[arg(long, value_enum, default_value = "vi")]
    language: CardLanguage,
    /// The bridge point's name on the card ([display] name).
    #[arg(long, default_value = "Thanh tra tỉnh")]
    name: String,
    /// The reason shown with --state no-connection.
    #[arg(long, default_value = "video-rtp-sink: the hub does not answer")]
    reason: String,
    /// Width in pixels.
    #[arg(long, default_value_t = 1280, value_parser = clap::value_parser!(i32).range(160..=3840))]
    width: i32,
    /// Height in pixels.
    #[arg(long, default_value_t = 720, value_parser = clap::value_parser!(i32).range(90..=2160))]
    height: i32,
    /// The PNG file to write.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// The indication and return status a state stands for.
fn inputs_of(state: CardState, reason: &str) -> (Indication, Option<ReturnStatus>) {
    match state {
        CardState::Ready => (Indication::Ready, None),
        CardState::Calling => (Indication::Calling, None),
        CardState::Connecting => (Indication::Connecting, None),
        CardState::Identify => (Indication::Identify, None),
        CardState::NoConnection => (
            Indication::NoConnection {
                reason: reason.to_owned(),
            },
            None,
        ),
        CardState::InSessionWaiting => (Indication::OnAir, Some(ReturnStatus::Waiting)),
        CardState::InSessionSoundOnly => (
            Indication::OnAir,
            Some(ReturnStatus::Playing {
                video: false,
                audio: true,
            }),
        ),
        CardState::InSessionNotReceiving => (Indication::OnAir, Some(ReturnStatus::NotReceiving)),
        CardState::InSessionUndecryptable => (Indication::OnAir, Some(ReturnStatus::Undecryptable)),
        CardState::InSessionInterrupted => (Indication::OnAir, Some(ReturnStatus::Interrupted)),
        CardState::VideoPaused => (
            Indication::SoundOnly {
                trip: Trip::Congestion,
            },
            Some(ReturnStatus::Playing {
                video: true,
                audio: true,
            }),
        ),
    }
}

/// Draws the card; prints what it wrote, or the error.
pub fn draw(request: CardArgs) -> ExitCode {
    let (indication, return_status) = inputs_of(request.state, &request.reason);
    let view = screen_for(ScreenInputs {
        indication: &indication,
        return_status,
        name: &request.name,
        language: match request.language {
            CardLanguage::Vi => Language::Vi,
            CardLanguage::En => Language::En,
        },
        self_view: false,
    });
    let drawn = media::init().and_then(|()| {
        media::screen::render_card_png(&view.card, request.width, request.height, &request.out)
    });
    match drawn {
        Ok(()) => {
            println!(
                "{}: {} | {} ({}x{})",
                request.out.display(),
                view.card.headline,
                view.card.detail,
                request.width,
                request.height
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: cannot draw the card into {}: {e}",
                request.out.display()
            );
            ExitCode::FAILURE
        }
    }
}
