//! The room's screen card, drawn by the box's own renderer
//! (`bridgepointd card`, the same elements the running screen uses) for
//! every state: each state's picture differs from every other's, its
//! background says what the LEDs say (blue ready, amber waiting, green on
//! air, red trouble), and docs/screen/ holds a committed picture of each
//! state for reviewers. The pictures are read back with ffmpeg, an
//! independent decoder.

use std::path::{Path, PathBuf};
use std::process::Command;

use bridgepoint_system_tests::daemon::run_cli;
use bridgepoint_testkit::TempDir;

/// Every state `bridgepointd card --state` takes.
const STATES: [&str; 11] = [
    "ready",
    "calling",
    "connecting",
    "identify",
    "no-connection",
    "in-session-waiting",
    "in-session-sound-only",
    "in-session-not-receiving",
    "in-session-undecryptable",
    "in-session-interrupted",
    "video-paused",
];

const WIDTH: usize = 320;
const HEIGHT: usize = 180;

/// Draws `state`'s card into `dir`, small; returns the PNG's path.
fn draw(dir: &Path, state: &str, language: &str) -> PathBuf {
    let out = dir.join(format!("{state}.{language}.png"));
    let result = run_cli(&[
        "card",
        "--state",
        state,
        "--language",
        language,
        "--name",
        "Thanh tra tỉnh Hà Giang",
        "--width",
        &WIDTH.to_string(),
        "--height",
        &HEIGHT.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        result.status.success(),
        "card --state {state}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    out
}

/// The PNG's pixels as RGB, decoded by ffmpeg.
fn pixels(png: &Path) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(png)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg cannot read {}: {}",
        png.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.stdout.len(),
        WIDTH * HEIGHT * 3,
        "{} is not {WIDTH}x{HEIGHT}",
        png.display()
    );
    out.stdout
}

/// The share of pixels that differ between two pictures.
fn differing(a: &[u8], b: &[u8]) -> f64 {
    let n = a
        .chunks(3)
        .zip(b.chunks(3))
        .filter(|(p, q)| p.iter().zip(q.iter()).any(|(x, y)| x.abs_diff(*y) > 24))
        .count();
    n as f64 / (a.len() / 3) as f64
}

/// The top-left corner's colour: the card's background.
fn background(pixels: &[u8]) -> [u8; 3] {
    [pixels[0], pixels[1], pixels[2]]
}

#[test]
fn every_state_has_its_own_card_with_the_colour_of_its_leds() {
    let dir = TempDir::new("cards");
    let drawn: Vec<(&str, Vec<u8>)> = STATES
        .iter()
        .map(|state| (*state, pixels(&draw(dir.path(), state, "vi"))))
        .collect();
    for (i, (a, pa)) in drawn.iter().enumerate() {
        for (b, pb) in &drawn[i + 1..] {
            let share = differing(pa, pb);
            assert!(
                share > 0.005,
                "the cards of {a} and {b} are nearly the same ({:.2} % of pixels differ)",
                share * 100.0
            );
        }
    }
    let colour = |state: &str| background(&drawn.iter().find(|(s, _)| *s == state).unwrap().1);
    // The tones of bridgepoint_core::screen::CardTone, through PNG and back.
    let near = |got: [u8; 3], want: [u8; 3]| got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= 6);
    for (state, want) in [
        ("ready", [0x0b, 0x3d, 0x6b]),
        ("calling", [0x6b, 0x4a, 0x00]),
        ("in-session-waiting", [0x0b, 0x5d, 0x2a]),
        ("no-connection", [0x8b, 0x1a, 0x1a]),
        ("in-session-undecryptable", [0x8b, 0x1a, 0x1a]),
        // Degraded, not gone: the amber of waiting, not the red of trouble.
        ("video-paused", [0x6b, 0x4a, 0x00]),
    ] {
        let got = colour(state);
        assert!(
            near(got, want),
            "{state}: background {got:02x?}, want {want:02x?}"
        );
    }
}

#[test]
fn the_language_changes_the_card() {
    let dir = TempDir::new("cards-lang");
    let vi = pixels(&draw(dir.path(), "ready", "vi"));
    let en = pixels(&draw(dir.path(), "ready", "en"));
    assert!(
        differing(&vi, &en) > 0.005,
        "the Vietnamese and English cards look the same"
    );
}

#[test]
fn docs_show_every_state() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screen");
    for state in STATES {
        let png = docs.join(format!("{state}.png"));
        assert!(
            png.is_file(),
            "{} is missing: draw it with scripts/draw-cards",
            png.display()
        );
    }
}

#[test]
fn bad_card_arguments_are_named_and_nothing_panics() {
    let dir = TempDir::new("cards-bad");
    let out = dir.path().join("x.png");
    let out = out.to_str().unwrap();
    for (args, names) in [
        (vec!["card", "--state", "asleep", "--out", out], "asleep"),
        (
            vec!["card", "--state", "ready", "--language", "fr", "--out", out],
            "fr",
        ),
        (
            vec!["card", "--state", "ready", "--width", "10", "--out", out],
            "--width",
        ),
        (vec!["card", "--state", "ready"], "--out"),
    ] {
        let result = run_cli(&args);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(names),
            "{args:?} must name {names}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // A file that cannot be written: an error naming it, exit 1.
    let nowhere = dir.path().join("no-such-dir/card.png");
    let result = run_cli(&[
        "card",
        "--state",
        "ready",
        "--out",
        nowhere.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no-such-dir/card.png"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
