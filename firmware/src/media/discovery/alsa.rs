//! ALSA sound devices: the microphones (capture PCMs) and speakers
//! (playback PCMs) of every card, from `/proc/asound`, and how many channels
//! a capture device takes, asked from the kernel with `HW_REFINE` on its
//! `/dev/snd/pcmC<card>D<dev>c` (what `snd_pcm_hw_params_any` does) — no
//! alsa-lib needed.

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use bridgepoint_core::capture::microphone::Microphone;

/// `SNDRV_PCM_IOCTL_HW_REFINE`: `_IOWR('A', 0x10, struct snd_pcm_hw_params)`.
const HW_REFINE: libc::c_ulong = 0xc260_4110;
/// `SNDRV_PCM_HW_PARAM_CHANNELS` − `SNDRV_PCM_HW_PARAM_FIRST_INTERVAL`.
const CHANNELS_INTERVAL: usize = 10 - 8;

/// `struct snd_interval`: min, max, and a word of bit fields.
#[repr(C)]
#[derive(Clone, Copy)]
struct Interval {
    min: u32,
    max: u32,
    bits: u32,
}

/// `struct snd_pcm_hw_params`.
#[repr(C)]
struct HwParams {
    flags: u32,
    masks: [[u32; 8]; 3],
    mres: [[u32; 8]; 5],
    intervals: [Interval; 12],
    ires: [Interval; 9],
    rmask: u32,
    cmask: u32,
    info: u32,
    msbits: u32,
    rate_num: u32,
    rate_den: u32,
    fifo_size: libc::c_ulong,
    reserved: [u8; 64],
}

/// A playback device (a speaker output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speaker {
    /// The card's number.
    pub card: u32,
    /// The card's id.
    pub card_id: String,
    /// The card's long name.
    pub name: String,
    /// The card's driver (`USB-Audio`, ...).
    pub driver: String,
    /// The PCM device number.
    pub device: u32,
}

/// What the box found among its sound cards.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoundDevices {
    /// Capture devices.
    pub microphones: Vec<Microphone>,
    /// Playback devices.
    pub speakers: Vec<Speaker>,
}

/// A card from `/proc/asound/cards`: number, id, driver, long name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Card {
    index: u32,
    id: String,
    driver: String,
    name: String,
}

/// Parses `/proc/asound/cards`:
/// ` 0 [Loopback       ]: Loopback - Loopback` (then a line of long name).
fn parse_cards(text: &str) -> Vec<Card> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let (index, rest) = line.split_once(' ')?;
            let index: u32 = index.parse().ok()?;
            let rest = rest.trim_start().strip_prefix('[')?;
            let (id, rest) = rest.split_once(']')?;
            let rest = rest.trim_start().strip_prefix(':')?.trim();
            let (driver, name) = rest.split_once(" - ").unwrap_or((rest, rest));
            Some(Card {
                index,
                id: id.trim().to_owned(),
                driver: driver.trim().to_owned(),
                name: name.trim().to_owned(),
            })
        })
        .collect()
}

/// The PCM device numbers of `card` for `suffix` (`c` capture, `p` playback).
fn pcm_devices(asound: &Path, card: u32, suffix: char) -> Vec<u32> {
    let mut devices: Vec<u32> = std::fs::read_dir(asound.join(format!("card{card}")))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    name.strip_prefix("pcm")?.strip_suffix(suffix)?.parse().ok()
                })
                .collect()
        })
        .unwrap_or_default();
    devices.sort_unstable();
    devices
}

/// The capture channel range of a PCM, from the kernel.
fn capture_channels(dev_snd: &Path, card: u32, device: u32) -> Option<(u32, u32)> {
    let path = dev_snd.join(format!("pcmC{card}D{device}c"));
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let any = Interval {
        min: 0,
        max: u32::MAX,
        bits: 0,
    };
    let mut params = HwParams {
        flags: 0,
        masks: [[u32::MAX; 8]; 3],
        mres: [[0; 8]; 5],
        intervals: [any; 12],
        ires: [Interval {
            min: 0,
            max: 0,
            bits: 0,
        }; 9],
        rmask: u32::MAX,
        cmask: 0,
        info: u32::MAX,
        msbits: 0,
        rate_num: 0,
        rate_den: 0,
        fifo_size: 0,
        reserved: [0; 64],
    };
    // SAFETY: `params` is a live #[repr(C)] struct of the size encoded in
    // HW_REFINE; the kernel reads and writes only within it.
    let ok = unsafe { libc::ioctl(file.as_raw_fd(), HW_REFINE, &mut params as *mut HwParams) } == 0;
    let c = params.intervals[CHANNELS_INTERVAL];
    (ok && c.min >= 1 && c.max >= c.min && c.max < 1024).then_some((c.min, c.max))
}

/// Enumerates the sound devices; `asound` is normally `/proc/asound` and
/// `dev_snd` `/dev/snd`.
pub fn discover(asound: &Path, dev_snd: &Path) -> SoundDevices {
    let cards = std::fs::read_to_string(asound.join("cards"))
        .map(|t| parse_cards(&t))
        .unwrap_or_default();
    let mut found = SoundDevices::default();
    for card in cards {
        for device in pcm_devices(asound, card.index, 'c') {
            found.microphones.push(Microphone {
                card: card.index,
                card_id: card.id.clone(),
                name: card.name.clone(),
                driver: card.driver.clone(),
                device,
                channels: capture_channels(dev_snd, card.index, device),
            });
        }
        for device in pcm_devices(asound, card.index, 'p') {
            found.speakers.push(Speaker {
                card: card.index,
                card_id: card.id.clone(),
                name: card.name.clone(),
                driver: card.driver.clone(),
                device,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hw_params_has_the_kernels_size_so_the_ioctl_number_matches() {
        assert_eq!(std::mem::size_of::<HwParams>(), 608);
        assert_eq!(
            HW_REFINE,
            (3u64 << 30 | 608 << 16 | (b'A' as u64) << 8 | 0x10) as libc::c_ulong
        );
    }

    #[test]
    fn proc_asound_cards_parse() {
        let text = " 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones\n                      bcm2835 Headphones\n 3 [ArrayUAC10     ]: USB-Audio - ReSpeaker 4 Mic Array (UAC1.0)\n                      SEEED ReSpeaker 4 Mic Array (UAC1.0) at usb-0000:01:00.0-1.2, full speed\n";
        let cards = parse_cards(text);
        assert_eq!(cards.len(), 2);
        assert_eq!(
            (
                cards[1].index,
                cards[1].id.as_str(),
                cards[1].driver.as_str()
            ),
            (3, "ArrayUAC10", "USB-Audio")
        );
        assert_eq!(cards[1].name, "ReSpeaker 4 Mic Array (UAC1.0)");
        assert_eq!(cards[0].id, "Headphones");
    }

    #[test]
    fn a_fake_proc_tree_lists_capture_and_playback_devices() {
        let dir = bridgepoint_testkit::TempDir::new("asound");
        let asound = dir.path().join("asound");
        std::fs::create_dir_all(asound.join("card1/pcm0c")).unwrap();
        std::fs::create_dir_all(asound.join("card1/pcm0p")).unwrap();
        std::fs::create_dir_all(asound.join("card1/pcm1c")).unwrap();
        std::fs::write(
            asound.join("cards"),
            " 1 [Loopback       ]: Loopback - Loopback\n                      Loopback 1\n",
        )
        .unwrap();
        let found = discover(&asound, &dir.path().join("no-dev-snd"));
        let names: Vec<String> = found
            .microphones
            .iter()
            .map(Microphone::alsa_name)
            .collect();
        assert_eq!(
            names,
            ["plughw:CARD=Loopback,DEV=0", "plughw:CARD=Loopback,DEV=1"]
        );
        assert_eq!(
            found.microphones[0].channels, None,
            "no device node: unknown"
        );
        assert_eq!(found.speakers.len(), 1);
    }
}
