//! What the room's screen shows: the card the box draws, central's
//! picture, the room's own camera.
//!
//! The card is drawn from the same [`Indication`] as the LEDs, so the
//! screen and the LEDs never disagree. In a session, central's picture
//! covers the card while it plays; when it does not (not there yet,
//! undecryptable, interrupted, a hub that only records) the card says
//! which, in the room's language. The firmware's screen renders a
//! [`ScreenView`]; nothing here draws.

use crate::config::Language;
use crate::indication::Indication;
use crate::return_watch::ReturnStatus;

/// The card's background, by what the state asks of the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardTone {
    /// Nothing to do, or all is well (dark blue).
    Calm,
    /// Something is on its way (dark amber).
    Waiting,
    /// On air (dark green).
    OnAir,
    /// Something is wrong (dark red).
    Trouble,
}

impl CardTone {
    /// The background colour as 0xAARRGGBB.
    pub fn argb(self) -> u32 {
        match self {
            CardTone::Calm => 0xff0b_3d6b,
            CardTone::Waiting => 0xff6b_4a00,
            CardTone::OnAir => 0xff0b_5d2a,
            CardTone::Trouble => 0xff8b_1a1a,
        }
    }
}

/// The full-screen card: the bridge point's name, the state in large
/// letters, and what it means (the time is drawn live by the renderer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// The bridge point's name.
    pub name: String,
    /// The state, in large letters.
    pub headline: String,
    /// What it means or why.
    pub detail: String,
    /// The background.
    pub tone: CardTone,
}

/// Everything on the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenView {
    /// The card (under central's picture while that plays).
    pub card: Card,
    /// Whether central's picture covers the card.
    pub central_video: bool,
    /// Whether the room's own camera shows small in a corner.
    pub self_view: bool,
}

/// What the screen depends on.
#[derive(Debug, Clone, Copy)]
pub struct ScreenInputs<'a> {
    /// The box's indication (the LEDs show the same).
    pub indication: &'a Indication,
    /// What the hub's return stream does; `None` outside a session.
    pub return_status: Option<ReturnStatus>,
    /// The bridge point's name.
    pub name: &'a str,
    /// The card's language.
    pub language: Language,
    /// Whether `[display] self_view` is on.
    pub self_view: bool,
}

/// The screen for the box's state.
pub fn screen_for(inputs: ScreenInputs<'_>) -> ScreenView {
    let text = |vi: &str, en: &str| match inputs.language {
        Language::Vi => vi.to_owned(),
        Language::En => en.to_owned(),
    };
    // With the video paused the card covers central's picture (central's
    // sound still plays) and the self-view is off: the room reads why.
    let on_air = matches!(inputs.indication, Indication::OnAir);
    let (headline, detail, tone) = match inputs.indication {
        Indication::Identify => (
            text("Xác định thiết bị", "Identify"),
            text(
                "Trung ương đang tìm thiết bị này",
                "Central IT asked this box to show itself",
            ),
            CardTone::Waiting,
        ),
        Indication::Ready => (
            text("Sẵn sàng", "Ready"),
            text(
                "Nhấn nút gọi để kết nối với Trung ương",
                "Press the call button to call central",
            ),
            CardTone::Calm,
        ),
        Indication::Calling => (
            text("Đang gọi Trung ương…", "Calling central…"),
            text("Chờ Trung ương trả lời", "Waiting for central to answer"),
            CardTone::Waiting,
        ),
        Indication::Connecting => (
            text("Đang kết nối…", "Connecting…"),
            text(
                "Đang bắt đầu phiên tiếp công dân trực tuyến",
                "Starting the online reception session",
            ),
            CardTone::Waiting,
        ),
        Indication::OnAir => {
            let (detail, tone) = return_detail(inputs.return_status, &text);
            (
                text("Đang trong phiên tiếp công dân", "In session"),
                detail,
                tone,
            )
        }
        Indication::SoundOnly { trip } => (
            text("Tạm dừng gửi hình ảnh", "Video paused"),
            match inputs.language {
                Language::Vi => format!(
                    "Lý do: {}. Phiên vẫn tiếp tục bằng âm thanh; hình ảnh sẽ tự gửi lại khi đường truyền tốt lên",
                    trip.reason_vi()
                ),
                Language::En => format!(
                    "Reason: {}. The session goes on with sound; the video comes back by itself when the network recovers",
                    trip.reason()
                ),
            },
            // Degraded, not gone: amber, not the red of no connection.
            CardTone::Waiting,
        ),
        Indication::NoConnection { reason } => (
            text("Mất kết nối với Trung ương", "No connection to central"),
            format!("{}: {reason}", text("Lý do", "Reason")),
            CardTone::Trouble,
        ),
    };
    let central_video = on_air
        && matches!(
            inputs.return_status,
            Some(ReturnStatus::Playing { video: true, .. })
        );
    ScreenView {
        card: Card {
            name: inputs.name.to_owned(),
            headline,
            detail,
            tone,
        },
        central_video,
        self_view: on_air && inputs.self_view,
    }
}

/// The card's line in a session, when central's picture does not cover it.
fn return_detail(
    status: Option<ReturnStatus>,
    text: &dyn Fn(&str, &str) -> String,
) -> (String, CardTone) {
    match status {
        None | Some(ReturnStatus::Waiting) => (
            text(
                "Đang chờ hình ảnh và âm thanh từ Trung ương",
                "Waiting for central's picture and sound",
            ),
            CardTone::OnAir,
        ),
        Some(ReturnStatus::NotReceiving) => (
            text(
                "Trung ương đang ghi hình phòng tiếp; không có hình ảnh gửi về",
                "Central is recording this room; it sends no picture back",
            ),
            CardTone::OnAir,
        ),
        Some(ReturnStatus::Playing { video: true, .. }) => (
            text(
                "Đang nhận hình ảnh từ Trung ương",
                "Central's picture is showing",
            ),
            CardTone::OnAir,
        ),
        Some(ReturnStatus::Playing { video: false, .. }) => (
            text(
                "Đang nghe Trung ương; chưa có hình ảnh",
                "Central can be heard; no picture yet",
            ),
            CardTone::OnAir,
        ),
        Some(ReturnStatus::Undecryptable) => (
            text(
                "Không giải mã được tín hiệu từ Trung ương (sai khóa nhận?)",
                "Central's stream cannot be decrypted (wrong receive key?)",
            ),
            CardTone::Trouble,
        ),
        Some(ReturnStatus::Interrupted) => (
            text(
                "Tín hiệu từ Trung ương bị gián đoạn; đang chờ",
                "Central's stream stopped; waiting for it to come back",
            ),
            CardTone::Trouble,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(
        indication: &Indication,
        status: Option<ReturnStatus>,
        language: Language,
    ) -> ScreenView {
        screen_for(ScreenInputs {
            indication,
            return_status: status,
            name: "Thanh tra tỉnh Hà Giang",
            language,
            self_view: true,
        })
    }

    #[test]
    fn every_indication_has_its_own_card_in_both_languages() {
        let all = [
            Indication::Identify,
            Indication::Ready,
            Indication::Calling,
            Indication::Connecting,
            Indication::OnAir,
            Indication::SoundOnly {
                trip: crate::circuit_breaker::Trip::Congestion,
            },
            Indication::NoConnection {
                reason: "hub unreachable".into(),
            },
        ];
        for language in [Language::Vi, Language::En] {
            let headlines: std::collections::BTreeSet<String> = all
                .iter()
                .map(|i| view(i, None, language).card.headline)
                .collect();
            assert_eq!(headlines.len(), all.len(), "{language:?}: {headlines:?}");
        }
        let vi = view(&Indication::Ready, None, Language::Vi).card;
        let en = view(&Indication::Ready, None, Language::En).card;
        assert_eq!(vi.headline, "Sẵn sàng");
        assert_eq!(en.headline, "Ready");
        assert_eq!(vi.name, "Thanh tra tỉnh Hà Giang");
    }

    #[test]
    fn no_connection_gives_the_reason_on_a_red_card() {
        let card = view(
            &Indication::NoConnection {
                reason: "video-rtp-sink: hub.example does not resolve".into(),
            },
            None,
            Language::En,
        )
        .card;
        assert_eq!(card.headline, "No connection to central");
        assert_eq!(
            card.detail,
            "Reason: video-rtp-sink: hub.example does not resolve"
        );
        assert_eq!(card.tone, CardTone::Trouble);
    }

    #[test]
    fn in_session_central_covers_the_card_only_while_its_picture_plays() {
        let playing = view(
            &Indication::OnAir,
            Some(ReturnStatus::Playing {
                video: true,
                audio: true,
            }),
            Language::Vi,
        );
        assert!(playing.central_video && playing.self_view);
        for status in [
            None,
            Some(ReturnStatus::Waiting),
            Some(ReturnStatus::NotReceiving),
            Some(ReturnStatus::Undecryptable),
            Some(ReturnStatus::Interrupted),
            Some(ReturnStatus::Playing {
                video: false,
                audio: true,
            }),
        ] {
            let v = view(&Indication::OnAir, status, Language::En);
            assert!(!v.central_video, "{status:?}");
            assert!(v.self_view, "{status:?}: the room still sees itself");
        }
        let details: std::collections::BTreeSet<String> = [
            Some(ReturnStatus::Waiting),
            Some(ReturnStatus::NotReceiving),
            Some(ReturnStatus::Undecryptable),
            Some(ReturnStatus::Interrupted),
        ]
        .into_iter()
        .map(|s| view(&Indication::OnAir, s, Language::En).card.detail)
        .collect();
        assert_eq!(
            details.len(),
            4,
            "each return status says its own thing: {details:?}"
        );
    }

    #[test]
    fn outside_a_session_no_self_view_and_no_central_picture() {
        for indication in [
            Indication::Ready,
            Indication::Calling,
            Indication::Connecting,
        ] {
            let v = view(
                &indication,
                Some(ReturnStatus::Playing {
                    video: true,
                    audio: true,
                }),
                Language::Vi,
            );
            assert!(!v.central_video && !v.self_view, "{indication:?}");
        }
    }

    #[test]
    fn a_paused_video_shows_its_card_and_reason_over_central_in_both_languages() {
        let playing = Some(ReturnStatus::Playing {
            video: true,
            audio: true,
        });
        let paused = Indication::SoundOnly {
            trip: crate::circuit_breaker::Trip::Congestion,
        };
        let en = view(&paused, playing, Language::En);
        assert!(!en.central_video && !en.self_view, "the card covers");
        assert_eq!(en.card.headline, "Video paused");
        assert!(
            en.card
                .detail
                .contains("the network loses too much for video"),
            "{}",
            en.card.detail
        );
        assert_eq!(en.card.tone, CardTone::Waiting);
        let vi = view(&paused, playing, Language::Vi);
        assert!(
            vi.card.detail.contains("đường truyền"),
            "{}",
            vi.card.detail
        );
    }
}
