//! What the box has plugged in: cameras and other video nodes ([`v4l2`]),
//! microphones and speakers ([`alsa`]), displays ([`displays`]) and GPIO
//! chips ([`gpio_chips`]), found through the kernel's interfaces. Which of
//! them the box uses is the core's decision
//! (`bridgepoint_core::capture`); [`summary`] puts both together for
//! `bridgepointd probe`, the log and the first telemetry report.

pub mod alsa;
pub mod displays;
pub mod gpio_chips;
pub mod summary;
pub mod v4l2;

use std::path::Path;

/// Everything discovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Devices {
    /// Video nodes.
    pub video: v4l2::VideoNodes,
    /// Sound devices.
    pub sound: alsa::SoundDevices,
    /// Display connectors.
    pub displays: Vec<displays::Display>,
    /// GPIO chips.
    pub gpio_chips: Vec<gpio_chips::GpioChip>,
}

/// Looks at this machine's devices; `wanted` (width, height, fps) is asked
/// for first in stepwise camera ranges.
pub fn discover(wanted: (u32, u32, u32)) -> Devices {
    Devices {
        video: v4l2::discover(Path::new("/dev"), wanted),
        sound: alsa::discover(Path::new("/proc/asound"), Path::new("/dev/snd")),
        displays: displays::discover(Path::new("/sys/class/drm")),
        gpio_chips: gpio_chips::discover(Path::new("/dev")),
    }
}
