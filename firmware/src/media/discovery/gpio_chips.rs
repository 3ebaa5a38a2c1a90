//! GPIO chips: every `/dev/gpiochipN` with its name, label and number of
//! lines (`GPIO_GET_CHIPINFO_IOCTL`), so an installer sees which chip the
//! board profile should name.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

/// `GPIO_GET_CHIPINFO_IOCTL`: `_IOR(0xB4, 0x01, struct gpiochip_info)`.
const GET_CHIPINFO: libc::c_ulong = 0x8044_b401;

/// `struct gpiochip_info`.
#[repr(C)]
struct ChipInfo {
    name: [u8; 32],
    label: [u8; 32],
    lines: u32,
}

/// A GPIO chip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpioChip {
    /// `/dev/gpiochipN`.
    pub path: String,
    /// The kernel's label (`pinctrl-bcm2711`, `gpio-sim.0-node0`).
    pub label: String,
    /// How many lines it has.
    pub lines: u32,
}

fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The chips under `dev` (normally `/dev`), by number.
pub fn discover(dev: &Path) -> Vec<GpioChip> {
    let mut chips: Vec<(u32, GpioChip)> = std::fs::read_dir(dev)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let n: u32 = name.strip_prefix("gpiochip")?.parse().ok()?;
                    let file = File::open(e.path()).ok()?;
                    // SAFETY: plain-old-data.
                    let mut info: ChipInfo = unsafe { std::mem::zeroed() };
                    // SAFETY: `info` is a live #[repr(C)] struct of the size
                    // encoded in GET_CHIPINFO.
                    let ok = unsafe {
                        libc::ioctl(file.as_raw_fd(), GET_CHIPINFO, &mut info as *mut ChipInfo)
                    } == 0;
                    ok.then(|| {
                        (
                            n,
                            GpioChip {
                                path: e.path().display().to_string(),
                                label: text(&info.label),
                                lines: info.lines,
                            },
                        )
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    chips.sort_by_key(|(n, _)| *n);
    chips.into_iter().map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chip_info_has_the_kernels_size() {
        assert_eq!(std::mem::size_of::<ChipInfo>(), 68);
        assert_eq!(
            GET_CHIPINFO,
            (2u64 << 30 | 68 << 16 | 0xB4 << 8 | 1) as libc::c_ulong
        );
    }

    #[test]
    fn a_file_that_is_no_chip_is_left_out() {
        let dir = bridgepoint_testkit::TempDir::new("gpio");
        std::fs::write(dir.path().join("gpiochip0"), "").unwrap();
        assert!(discover(dir.path()).is_empty());
    }
}
