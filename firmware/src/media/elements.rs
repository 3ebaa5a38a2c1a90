//! Every GStreamer element factory the daemon's pipeline can create, with the
//! package that provides it on the development machine (Debian, named in
//! "missing element" errors by [`super::pipeline::package_of`]) and in the
//! box's image (the per-plugin package of openembedded-core scarthgap).
//!
//! GStreamer plugins are loaded at run time, so nothing links them and no
//! build notices a missing one: this table is the one place that says which
//! are needed. `scripts/check-yocto` reads it to check that the image
//! installs every Yocto package in it, and that every factory the code in
//! `firmware/src/media/` creates is in it. A factory added to the code
//! without a line here fails that check; a line here whose Yocto package
//! the image does not install fails it too.
//!
//! # Where the names come from
//!
//! openembedded-core's plugin recipes (`gstreamer1.0-plugins-{base,good,
//! bad,ugly}`, via `gstreamer1.0-plugins-packaging.inc`) split each plugin
//! library `libgst<name>.so` into its own package `<recipe>-<name>`, so the
//! package is named after the *library*, not the element: `udpsrc` is in
//! `gstreamer1.0-plugins-good-udp`, `rtpbin` in `...-good-rtpmanager`,
//! `h264parse` in `...-bad-videoparsersbad`, `videoconvert` and
//! `videoscale` in `...-base-videoconvertscale` (one library since
//! GStreamer 1.22). The core elements (`queue`, `capsfilter`, `valve`)
//! are in `libgstcoreelements.so`, which the `gstreamer1.0` recipe keeps in
//! its main package. The unit tests check every name against this
//! machine's registry: the library and source module each factory comes
//! from give the Yocto package, and `dpkg` gives the Debian one.
//!
//! # Line format (read by `scripts/check-yocto`)
//!
//! The script does not compile Rust; it reads the lines between
//! `pub const ELEMENTS` and the closing `];`. Each entry is exactly one
//! line (the table is `#[rustfmt::skip]`), in this form:
//!
//! ```text
//!     el("<factory>", "<Debian package>", "<Yocto package>", <Where>),
//! ```
//!
//! with `<Where>` one of `Everywhere`, `BoardOnly`, `NotInImage`. Blank
//! lines and `//` comment lines may stand between entries; anything else
//! is an error for the script. The unit test
//! `source_lines_are_the_table` checks that the lines parse, in this
//! format, to exactly [`ELEMENTS`].

/// Where a factory can be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Where {
    /// In its plugin package on the development machine and in the image.
    Everywhere,
    /// The plugin is installed everywhere, but it registers this factory
    /// only where the kernel has the device behind it: the V4L2
    /// memory-to-memory codec of the Raspberry Pi (`bcm2835-codec`). The
    /// image installs the package; a development machine lacks the factory.
    BoardOnly,
    /// The code creates it when configured to, but the image does not
    /// install its package, on purpose (the entry's comment says why); on
    /// the box a config asking for it fails with the "missing element"
    /// error.
    NotInImage,
}

/// One element factory and its packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element {
    /// The element factory name, as passed to `gst::ElementFactory::make`.
    pub factory: &'static str,
    /// The Debian package providing it (the development machine).
    pub debian: &'static str,
    /// The openembedded-core scarthgap package providing it (the image).
    pub yocto: &'static str,
    /// Where the factory exists.
    pub found: Where,
}

const fn el(
    factory: &'static str,
    debian: &'static str,
    yocto: &'static str,
    found: Where,
) -> Element {
    Element {
        factory,
        debian,
        yocto,
        found,
    }
}

use Where::{BoardOnly, Everywhere, NotInImage};

/// Every factory the pipeline can create, sorted by factory name.
#[rustfmt::skip]
pub const ELEMENTS: &[Element] = &[
    el("alsasink", "gstreamer1.0-alsa", "gstreamer1.0-plugins-base-alsa", Everywhere),
    el("alsasrc", "gstreamer1.0-alsa", "gstreamer1.0-plugins-base-alsa", Everywhere),
    el("audioconvert", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-base-audioconvert", Everywhere),
    el("audioresample", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-base-audioresample", Everywhere),
    el("audiotestsrc", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-base-audiotestsrc", Everywhere),
    el("avdec_h264", "gstreamer1.0-libav", "gstreamer1.0-libav", Everywhere),
    el("capsfilter", "libgstreamer1.0-0", "gstreamer1.0", Everywhere),
    el("clockoverlay", "gstreamer1.0-x", "gstreamer1.0-plugins-base-pango", Everywhere),
    el("compositor", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-base-compositor", Everywhere),
    el("fakesink", "libgstreamer1.0-0", "gstreamer1.0", Everywhere),
    el("filesink", "libgstreamer1.0-0", "gstreamer1.0", Everywhere),
    el("funnel", "libgstreamer1.0-0", "gstreamer1.0", Everywhere),
    el("h264parse", "gstreamer1.0-plugins-bad", "gstreamer1.0-plugins-bad-videoparsersbad", Everywhere),
    el("intervideosink", "gstreamer1.0-plugins-bad", "gstreamer1.0-plugins-bad-inter", Everywhere),
    el("intervideosrc", "gstreamer1.0-plugins-bad", "gstreamer1.0-plugins-bad-inter", Everywhere),
    el("jpegdec", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-jpeg", Everywhere),
    el("kmssink", "gstreamer1.0-plugins-bad", "gstreamer1.0-plugins-bad-kms", Everywhere),
    // The image ships x264 as its software encoder; openh264 would need
    // meta-multimedia's openh264 and the "openh264" PACKAGECONFIG of
    // gstreamer1.0-plugins-bad (see bridgepoint_git.bb).
    el("openh264enc", "gstreamer1.0-plugins-bad", "gstreamer1.0-plugins-bad-openh264", NotInImage),
    el("opusdec", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-base-opus", Everywhere),
    el("opusenc", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-base-opus", Everywhere),
    el("pngenc", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-png", Everywhere),
    el("queue", "libgstreamer1.0-0", "gstreamer1.0", Everywhere),
    el("rtpbin", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-rtpmanager", Everywhere),
    el("rtph264depay", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-rtp", Everywhere),
    el("rtph264pay", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-rtp", Everywhere),
    el("rtpopusdepay", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-rtp", Everywhere),
    el("rtpopuspay", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-rtp", Everywhere),
    el("rtprtxsend", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-rtpmanager", Everywhere),
    el("srtpdec", "gstreamer1.0-plugins-bad", "gstreamer1.0-plugins-bad-srtp", Everywhere),
    el("srtpenc", "gstreamer1.0-plugins-bad", "gstreamer1.0-plugins-bad-srtp", Everywhere),
    el("tee", "libgstreamer1.0-0", "gstreamer1.0", Everywhere),
    el("textoverlay", "gstreamer1.0-x", "gstreamer1.0-plugins-base-pango", Everywhere),
    el("udpsink", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-udp", Everywhere),
    el("udpsrc", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-udp", Everywhere),
    el("v4l2h264dec", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-video4linux2", BoardOnly),
    el("v4l2h264enc", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-video4linux2", BoardOnly),
    el("v4l2jpegdec", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-video4linux2", BoardOnly),
    el("v4l2src", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-good-video4linux2", Everywhere),
    el("valve", "libgstreamer1.0-0", "gstreamer1.0", Everywhere),
    el("videoconvert", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-base-videoconvertscale", Everywhere),
    el("videorate", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-base-videorate", Everywhere),
    el("videoscale", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-base-videoconvertscale", Everywhere),
    el("videotestsrc", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-base-videotestsrc", Everywhere),
    el("webrtcdsp", "gstreamer1.0-plugins-bad", "gstreamer1.0-plugins-bad-webrtcdsp", Everywhere),
    el("webrtcechoprobe", "gstreamer1.0-plugins-bad", "gstreamer1.0-plugins-bad-webrtcdsp", Everywhere),
    el("x264enc", "gstreamer1.0-plugins-ugly", "gstreamer1.0-plugins-ugly-x264", Everywhere),
];

/// The table's entry for `factory`, if it has one.
pub fn lookup(factory: &str) -> Option<&'static Element> {
    ELEMENTS.iter().find(|e| e.factory == factory)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gstreamer as gst;
    use gstreamer::prelude::*;

    #[test]
    fn table_is_sorted_and_has_no_duplicates() {
        for pair in ELEMENTS.windows(2) {
            assert!(
                pair[0].factory < pair[1].factory,
                "ELEMENTS must be sorted by factory, without duplicates: {} then {}",
                pair[0].factory,
                pair[1].factory
            );
        }
        for e in ELEMENTS {
            assert!(
                e.yocto == "gstreamer1.0" || e.yocto.starts_with("gstreamer1.0-"),
                "{}: {} is not a GStreamer package of openembedded-core",
                e.factory,
                e.yocto
            );
            assert_eq!(lookup(e.factory), Some(e));
        }
        assert_eq!(lookup("no-such-factory"), None);
    }

    /// The entry `line` stands for, read as `scripts/check-yocto` reads it.
    fn parse_line(line: &'static str) -> Result<Element, String> {
        let bad = || format!("not in the documented format: {line:?}");
        let rest = line
            .strip_prefix("    el(")
            .and_then(|r| r.strip_suffix("),"))
            .ok_or_else(bad)?;
        let fields: Vec<&'static str> = rest.split(", ").collect();
        let [factory, debian, yocto, found] = fields[..] else {
            return Err(bad());
        };
        fn text(field: &'static str) -> Option<&'static str> {
            field
                .strip_prefix('"')
                .and_then(|f| f.strip_suffix('"'))
                .filter(|f| !f.is_empty() && !f.contains('"'))
        }
        let found = match found {
            "Everywhere" => Everywhere,
            "BoardOnly" => BoardOnly,
            "NotInImage" => NotInImage,
            _ => return Err(bad()),
        };
        match (text(factory), text(debian), text(yocto)) {
            (Some(f), Some(d), Some(y)) => Ok(el(f, d, y, found)),
            _ => Err(bad()),
        }
    }

    #[test]
    fn source_lines_are_the_table() {
        let source = include_str!("elements.rs");
        let body = source
            .split_once("pub const ELEMENTS: &[Element] = &[\n")
            .and_then(|(_, rest)| rest.split_once("\n];\n"))
            .map(|(body, _)| body)
            .expect("the ELEMENTS table's opening and closing lines");
        let parsed: Vec<Element> = body
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
            .map(|l| parse_line(l).unwrap())
            .collect();
        assert_eq!(
            parsed, ELEMENTS,
            "the lines scripts/check-yocto reads are the table"
        );
    }

    /// The Yocto package openembedded-core makes of a plugin library.
    fn yocto_package(source_module: &str, library: &str) -> Option<String> {
        let stem = library.strip_prefix("libgst")?.strip_suffix(".so")?;
        match source_module {
            // gstreamer1.0_*.bb: FILES:${PN} += "${libdir}/gstreamer-1.0/*.so"
            "gstreamer" => Some("gstreamer1.0".to_owned()),
            // gstreamer1.0-libav_*.bb: one package, its plugin in ${PN}
            "gst-libav" => Some("gstreamer1.0-libav".to_owned()),
            // gstreamer1.0-plugins-packaging.inc: one ${PN}-<stem> per libgst<stem>.so
            "gst-plugins-base" | "gst-plugins-good" | "gst-plugins-bad" | "gst-plugins-ugly" => {
                let set = source_module.strip_prefix("gst-plugins-")?;
                Some(format!("gstreamer1.0-plugins-{set}-{stem}"))
            }
            _ => None,
        }
    }

    /// The Debian package that installed `library`, if dpkg knows it.
    fn debian_package(library: &str) -> Option<String> {
        let out = std::process::Command::new("dpkg-query")
            .args(["-S", &format!("*/gstreamer-1.0/{library}")])
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        let text = String::from_utf8(out.stdout).ok()?;
        let first = text.lines().next()?;
        Some(first.split(':').next()?.trim().to_owned())
    }

    #[test]
    fn every_factory_is_in_this_machines_registry_with_these_packages() {
        gst::init().unwrap();
        let mut problems = Vec::new();
        for e in ELEMENTS {
            let Some(factory) = gst::ElementFactory::find(e.factory) else {
                if e.found == BoardOnly {
                    // Only the plugin library the package is named after
                    // can be checked here.
                    let plugin = e.yocto.rsplit('-').next().unwrap_or_default();
                    if gst::Registry::get().find_plugin(plugin).is_none() {
                        problems.push(format!(
                            "{}: plugin {plugin:?} (of {}) is not installed: install {}",
                            e.factory, e.yocto, e.debian
                        ));
                    }
                } else {
                    problems.push(format!(
                        "{}: not in this machine's GStreamer registry: install {} (or mark it BoardOnly if only boards have it)",
                        e.factory, e.debian
                    ));
                }
                continue;
            };
            let plugin = factory.plugin().expect("a registered factory has a plugin");
            let library = plugin
                .filename()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default();
            let source = plugin.source();
            match yocto_package(&source, &library) {
                Some(yocto) if yocto == e.yocto => {}
                Some(yocto) => problems.push(format!(
                    "{}: comes from {library} ({source}), which openembedded-core packages as {yocto}, not {}",
                    e.factory, e.yocto
                )),
                None => problems.push(format!(
                    "{}: comes from {library} of source module {source:?}: no rule for its Yocto package",
                    e.factory
                )),
            }
            match debian_package(&library) {
                Some(debian) if debian == e.debian => {}
                Some(debian) => problems.push(format!(
                    "{}: {library} is in the Debian package {debian}, not {}",
                    e.factory, e.debian
                )),
                // Not a Debian machine, or GStreamer built from source.
                None => eprintln!(
                    "{}: no dpkg record of {library}; Debian package not checked",
                    e.factory
                ),
            }
        }
        assert!(
            problems.is_empty(),
            "media/elements.rs:\n{}",
            problems.join("\n")
        );
    }
}
