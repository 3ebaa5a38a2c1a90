//! Board profiles: which pins the call button and the LEDs use.
//!
//! A profile is a small TOML file (see `docs/boards.md` for every key):
//!
//! ```toml
//! description = "Raspberry Pi 4 Model B"
//! backend = "rpi"            # "rpi" (rppal, BCM numbers) or "cdev" (/dev/gpiochipN lines)
//!
//! [buttons.call]
//! bcm = 17                   # cdev boards: `line = 17` and `chip = "gpiochip0"`
//! active_low = true          # pressed pulls the pin low
//! bias = "pull-up"           # "pull-up", "pull-down" or "none"
//!
//! [leds.status]
//! bcm = 23
//!
//! [leds.call]                # an RGB LED: three pins and the colours it shows
//! rgb = { red = 5, green = 6, blue = 13 }
//! color = "green"            # the colour when lit
//! alert_color = "red"        # the colour for blink-fast (something is wrong)
//! ```
//!
//! The profiles shipped in `board/profiles/` are built into the binary
//! ([`BUILTIN`]); `board = "<name>"` in the daemon's config picks one. A file
//! `<name>.toml` in one of the search directories ([`search_dirs`]) takes
//! precedence, so an installer can describe a new board without a rebuild.
//!
//! Parsing checks everything that can be checked without hardware: unknown
//! keys, missing keys, wrong types, pin numbers out of range, and the same pin
//! used twice. Whether a chip or line exists is checked when the backend opens
//! the pins. Every error names the profile file and the key.

use std::fmt;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::BoardError;

/// The profiles shipped in `board/profiles/`, by name.
pub const BUILTIN: [(&str, &str); 4] = [
    ("rpi4", include_str!("../profiles/rpi4.toml")),
    ("rpi5", include_str!("../profiles/rpi5.toml")),
    (
        "generic-cdev",
        include_str!("../profiles/generic-cdev.toml"),
    ),
    ("gpio-sim", include_str!("../profiles/gpio-sim.toml")),
];

/// The system-wide directory searched for `<name>.toml` profiles.
pub const SYSTEM_DIR: &str = "/etc/bridgepoint/boards";

/// The highest BCM GPIO number on the Raspberry Pi's 40-pin header.
pub const BCM_MAX: u8 = 27;

/// The highest line offset a profile may name (the kernel's per-chip limit is
/// lower; the backend checks the real chip when it opens it).
pub const LINE_MAX: u32 = 65_535;

/// The directories searched for profile files, most specific last:
/// [`SYSTEM_DIR`], then `<data_dir>/boards`.
pub fn search_dirs(data_dir: &Path) -> Vec<PathBuf> {
    vec![PathBuf::from(SYSTEM_DIR), data_dir.join("boards")]
}

/// Loads the profile `name`: a file `<name>.toml` in `dirs` (the first one
/// found wins), else the built-in profile of that name.
pub fn load(name: &str, dirs: &[PathBuf]) -> Result<Profile, BoardError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        for dir in dirs {
            let path = dir.join(format!("{name}.toml"));
            match std::fs::read_to_string(&path) {
                Ok(text) => return Profile::parse(name, &path.display().to_string(), &text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(BoardError::ProfileRead { path, source }),
            }
        }
        if let Some(profile) = builtin(name) {
            return profile;
        }
    }
    Err(BoardError::UnknownBoard {
        name: name.to_owned(),
        known: known_names(dirs).join(", "),
    })
}

/// The built-in profile `name`, parsed; `None` if there is none.
pub fn builtin(name: &str) -> Option<Result<Profile, BoardError>> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| Profile::parse(n, &format!("board/profiles/{n}.toml (built in)"), text))
}

/// Every board name that would load: `sim`, the built-in profiles, and the
/// profile files in `dirs`.
pub fn known_names(dirs: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = std::iter::once("sim")
        .chain(BUILTIN.iter().map(|(n, _)| *n))
        .map(String::from)
        .collect();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut found: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let stem = path.file_stem()?.to_str()?.to_owned();
                (path.extension()? == "toml").then_some(stem)
            })
            .filter(|n| !names.contains(n))
            .collect();
        found.sort();
        names.extend(found);
    }
    names
}

/// How a profile's pins are reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// rppal on a Raspberry Pi 4 or 5; pins are BCM GPIO numbers.
    Rpi,
    /// The GPIO character device (`/dev/gpiochipN`); pins are chip and line.
    Cdev,
}

impl Backend {
    /// The name used in profiles.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Rpi => "rpi",
            Backend::Cdev => "cdev",
        }
    }

    /// The cargo feature of `bridgepoint-board` that builds this backend.
    pub fn feature(self) -> &'static str {
        self.name()
    }
}

/// One GPIO pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// A BCM GPIO number (Raspberry Pi).
    Bcm(u8),
    /// A line of a GPIO chip.
    Line {
        /// The chip: a path (`/dev/gpiochip0`), a name (`gpiochip0`) or a label (`pinctrl-rp1`).
        chip: String,
        /// The line's offset on the chip.
        line: u32,
    },
}

impl Pin {
    /// Whether two pins are the same as far as the profile can tell
    /// (`gpiochip0` and `/dev/gpiochip0` are one chip).
    pub fn same_as(&self, other: &Pin) -> bool {
        match (self, other) {
            (Pin::Bcm(a), Pin::Bcm(b)) => a == b,
            (Pin::Line { chip: ca, line: la }, Pin::Line { chip: cb, line: lb }) => {
                la == lb && ca.trim_start_matches("/dev/") == cb.trim_start_matches("/dev/")
            }
            _ => false,
        }
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pin::Bcm(n) => write!(f, "BCM GPIO{n}"),
            Pin::Line { chip, line } => write!(f, "line {line} of chip {chip}"),
        }
    }
}

/// The pull resistor a button input asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bias {
    /// None: the board has its own resistor.
    None,
    /// The internal pull-up (button to ground, `active_low = true`).
    PullUp,
    /// The internal pull-down (button to 3.3 V).
    PullDown,
}

impl Bias {
    const NAMES: [(&'static str, Bias); 3] = [
        ("none", Bias::None),
        ("pull-up", Bias::PullUp),
        ("pull-down", Bias::PullDown),
    ];
}

/// A colour of an RGB LED: which of its channels are lit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color {
    /// The red channel.
    pub red: bool,
    /// The green channel.
    pub green: bool,
    /// The blue channel.
    pub blue: bool,
}

impl Color {
    /// The colours a profile may name.
    pub const NAMES: [(&'static str, Color); 7] = [
        ("red", Color::rgb(true, false, false)),
        ("green", Color::rgb(false, true, false)),
        ("blue", Color::rgb(false, false, true)),
        ("yellow", Color::rgb(true, true, false)),
        ("cyan", Color::rgb(false, true, true)),
        ("magenta", Color::rgb(true, false, true)),
        ("white", Color::rgb(true, true, true)),
    ];

    const fn rgb(red: bool, green: bool, blue: bool) -> Color {
        Color { red, green, blue }
    }
}

/// The call button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonSpec {
    /// The button's table, `buttons.call`.
    pub key: String,
    /// The key naming its pin, e.g. `buttons.call.bcm`.
    pub pin_key: String,
    /// Its pin.
    pub pin: Pin,
    /// Whether pressed reads low.
    pub active_low: bool,
    /// The pull resistor to enable.
    pub bias: Bias,
}

/// One pin of an LED (an RGB LED has three).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedChannel {
    /// The key naming the pin, e.g. `leds.call.rgb.green`.
    pub key: String,
    /// The pin.
    pub pin: Pin,
    /// Whether this channel is lit when the LED is lit.
    pub in_color: bool,
    /// Whether this channel is lit when the LED is lit in `blink-fast` (an alert).
    pub in_alert: bool,
}

/// One LED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedSpec {
    /// Its name in the core (`status`, `call`).
    pub name: &'static str,
    /// Its table, e.g. `leds.call`.
    pub key: String,
    /// Whether lit means driving the pin low (e.g. a common-anode RGB LED).
    pub active_low: bool,
    /// Whether it is an RGB LED.
    pub rgb: bool,
    /// Its pins: one, or red, green and blue.
    pub channels: Vec<LedChannel>,
}

/// A parsed, checked board profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The name `board = "..."` picks it by.
    pub name: String,
    /// Where it came from, for messages.
    pub file: String,
    /// What board and wiring it describes.
    pub description: String,
    /// How its pins are reached.
    pub backend: Backend,
    /// The call button.
    pub button: ButtonSpec,
    /// The LEDs, in the order of `bridgepoint_core::led::LED_NAMES`.
    pub leds: Vec<LedSpec>,
}

const ROOT_KEYS: &[&str] = &["description", "backend", "chip", "buttons", "leds"];
const BUTTON_NAMES: &[&str] = &["call"];
const BUTTON_KEYS: &[&str] = &["bcm", "line", "chip", "active_low", "bias"];
const LED_KEYS: &[&str] = &[
    "bcm",
    "line",
    "chip",
    "active_low",
    "rgb",
    "color",
    "alert_color",
];
const RGB_KEYS: &[&str] = &["red", "green", "blue"];

impl Profile {
    /// Parses and checks a profile. `file` names it in errors.
    pub fn parse(name: &str, file: &str, text: &str) -> Result<Profile, BoardError> {
        let root: Table = text
            .parse()
            .map_err(|e: toml::de::Error| BoardError::ProfileSyntax {
                file: file.to_owned(),
                message: e.to_string().trim_end().replace('\n', " "),
            })?;
        let p = Parser { file };
        p.known_keys(&root, "", ROOT_KEYS)?;
        let description = p.string(&root, "", "description")?.unwrap_or_default();
        let backend = match p.string(&root, "", "backend")?.as_deref() {
            Some("rpi") => Backend::Rpi,
            Some("cdev") => Backend::Cdev,
            Some(other) => return Err(p.err("backend", format!("must be \"rpi\" or \"cdev\", got {other:?}"))),
            None => {
                return Err(p.err(
                    "backend",
                    "missing: say \"rpi\" (Raspberry Pi, BCM numbers) or \"cdev\" (/dev/gpiochipN lines)",
                ))
            }
        };
        let default_chip = p.chip(&root, "", backend)?;
        let ctx = PinContext {
            backend,
            default_chip,
        };

        let buttons = p
            .table(&root, "", "buttons")?
            .ok_or_else(|| p.err("buttons", "missing: every board needs [buttons.call]"))?;
        p.known_keys(buttons, "buttons", BUTTON_NAMES)?;
        let call = p
            .table(buttons, "buttons", "call")?
            .ok_or_else(|| p.err("buttons.call", "missing: every board needs the call button"))?;
        let button = p.button(call, "buttons.call", &ctx)?;

        let led_table = p.table(&root, "", "leds")?.ok_or_else(|| {
            p.err(
                "leds",
                "missing: every board needs [leds.status] and [leds.call]",
            )
        })?;
        p.known_keys(led_table, "leds", &bridgepoint_core::led::LED_NAMES)?;
        let mut leds = Vec::new();
        for name in bridgepoint_core::led::LED_NAMES {
            let key = format!("leds.{name}");
            let t = p
                .table(led_table, "leds", name)?
                .ok_or_else(|| p.err(&key, "missing: every board needs this LED"))?;
            leds.push(p.led(t, name, &key, &ctx)?);
        }

        let profile = Profile {
            name: name.to_owned(),
            file: file.to_owned(),
            description,
            backend,
            button,
            leds,
        };
        profile.check_duplicates()?;
        Ok(profile)
    }

    /// Every pin with the key that names it, button first.
    pub fn pins(&self) -> Vec<(&str, &Pin)> {
        std::iter::once((self.button.pin_key.as_str(), &self.button.pin))
            .chain(
                self.leds
                    .iter()
                    .flat_map(|l| l.channels.iter().map(|c| (c.key.as_str(), &c.pin))),
            )
            .collect()
    }

    /// The LED called `name`.
    pub fn led(&self, name: &str) -> Option<&LedSpec> {
        self.leds.iter().find(|l| l.name == name)
    }

    fn check_duplicates(&self) -> Result<(), BoardError> {
        let pins = self.pins();
        for (i, (key, pin)) in pins.iter().enumerate() {
            if let Some((other, _)) = pins[..i].iter().find(|(_, p)| p.same_as(pin)) {
                return Err(BoardError::DuplicatePin {
                    file: self.file.clone(),
                    key: (*key).to_owned(),
                    other: (*other).to_owned(),
                    pin: pin.to_string(),
                });
            }
        }
        Ok(())
    }
}

struct PinContext {
    backend: Backend,
    default_chip: Option<String>,
}

/// Typed access to a TOML table with errors naming the file and key.
struct Parser<'a> {
    file: &'a str,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

impl Parser<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> BoardError {
        BoardError::ProfileKey {
            file: self.file.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn known_keys(&self, t: &Table, path: &str, known: &[&str]) -> Result<(), BoardError> {
        match t.keys().find(|k| !known.contains(&k.as_str())) {
            // A blank or odd key (`"" = 1`, `" " = 1`) is named as TOML writes it.
            Some(k) => Err(self.err(
                &join(path, &bridgepoint_core::config::shown_key(k)),
                format!("unknown key (known here: {})", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    fn string(&self, t: &Table, path: &str, key: &str) -> Result<Option<String>, BoardError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.err(
                &join(path, key),
                format!("must be a string, got {}", type_name(v)),
            )),
        }
    }

    fn boolean(&self, t: &Table, path: &str, key: &str) -> Result<Option<bool>, BoardError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => Err(self.err(
                &join(path, key),
                format!("must be true or false, got {}", type_name(v)),
            )),
        }
    }

    fn table<'t>(
        &self,
        t: &'t Table,
        path: &str,
        key: &str,
    ) -> Result<Option<&'t Table>, BoardError> {
        match t.get(key) {
            None => Ok(None),
            Some(Value::Table(inner)) => Ok(Some(inner)),
            Some(v) => Err(self.err(
                &join(path, key),
                format!("must be a table, got {}", type_name(v)),
            )),
        }
    }

    /// A `chip` key: only cdev boards have chips.
    fn chip(&self, t: &Table, path: &str, backend: Backend) -> Result<Option<String>, BoardError> {
        let chip = self.string(t, path, "chip")?;
        match (&chip, backend) {
            (Some(_), Backend::Rpi) => Err(self.err(
                &join(path, "chip"),
                "backend = \"rpi\" has no chips: pins are BCM GPIO numbers (`bcm = 17`)",
            )),
            (Some(c), Backend::Cdev) if c.trim().is_empty() => {
                Err(self.err(&join(path, "chip"), "must not be empty"))
            }
            _ => Ok(chip),
        }
    }

    /// The pin number in `v` (a BCM number or a line offset, by backend).
    fn number(
        &self,
        v: &Value,
        key: &str,
        chip: Option<&str>,
        ctx: &PinContext,
    ) -> Result<Pin, BoardError> {
        let Value::Integer(n) = v else {
            return Err(self.err(key, format!("must be a pin number, got {}", type_name(v))));
        };
        match ctx.backend {
            Backend::Rpi => match u8::try_from(*n) {
                Ok(bcm) if bcm <= BCM_MAX => Ok(Pin::Bcm(bcm)),
                _ => Err(self.err(
                    key,
                    format!("BCM GPIO {n} is out of range: the 40-pin header has GPIO0 to GPIO{BCM_MAX}"),
                )),
            },
            Backend::Cdev => {
                let line = u32::try_from(*n)
                    .ok()
                    .filter(|l| *l <= LINE_MAX)
                    .ok_or_else(|| self.err(key, format!("line {n} is out of range (0 to {LINE_MAX})")))?;
                let chip =
                    chip.ok_or_else(|| self.err(key, "no chip: set `chip` here or at the top of the profile"))?;
                Ok(Pin::Line {
                    chip: chip.to_owned(),
                    line,
                })
            }
        }
    }

    /// The single pin of a button or LED table: `bcm` (rpi) or `line` (cdev).
    fn pin(
        &self,
        t: &Table,
        path: &str,
        ctx: &PinContext,
        required: bool,
    ) -> Result<Option<(String, Pin)>, BoardError> {
        let (want, other, hint) = match ctx.backend {
            Backend::Rpi => (
                "bcm",
                "line",
                "backend = \"rpi\" names pins by BCM GPIO number: use `bcm`",
            ),
            Backend::Cdev => (
                "line",
                "bcm",
                "backend = \"cdev\" names pins by chip and line: use `line` (and `chip`)",
            ),
        };
        if t.contains_key(other) {
            return Err(self.err(&join(path, other), hint));
        }
        let chip = self
            .chip(t, path, ctx.backend)?
            .or_else(|| ctx.default_chip.clone());
        match t.get(want) {
            Some(v) => {
                let key = join(path, want);
                let pin = self.number(v, &key, chip.as_deref(), ctx)?;
                Ok(Some((key, pin)))
            }
            None if required => Err(self.err(&join(path, want), "missing: which pin")),
            None => Ok(None),
        }
    }

    fn button(&self, t: &Table, path: &str, ctx: &PinContext) -> Result<ButtonSpec, BoardError> {
        self.known_keys(t, path, BUTTON_KEYS)?;
        let (pin_key, pin) = self
            .pin(t, path, ctx, true)?
            .ok_or_else(|| self.err(path, "missing pin"))?;
        let bias = match self.string(t, path, "bias")? {
            None => Bias::None,
            Some(b) => Bias::NAMES
                .iter()
                .find(|(n, _)| *n == b)
                .map(|(_, v)| *v)
                .ok_or_else(|| {
                    self.err(
                        &join(path, "bias"),
                        format!("must be \"pull-up\", \"pull-down\" or \"none\", got {b:?}"),
                    )
                })?,
        };
        Ok(ButtonSpec {
            key: path.to_owned(),
            pin_key,
            pin,
            active_low: self.boolean(t, path, "active_low")?.unwrap_or(false),
            bias,
        })
    }

    fn color(&self, t: &Table, path: &str, key: &str, default: Color) -> Result<Color, BoardError> {
        match self.string(t, path, key)? {
            None => Ok(default),
            Some(name) => Color::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, c)| *c)
                .ok_or_else(|| {
                    let names: Vec<&str> = Color::NAMES.iter().map(|(n, _)| *n).collect();
                    self.err(
                        &join(path, key),
                        format!("unknown colour {name:?} (colours: {})", names.join(", ")),
                    )
                }),
        }
    }

    fn led(
        &self,
        t: &Table,
        name: &'static str,
        path: &str,
        ctx: &PinContext,
    ) -> Result<LedSpec, BoardError> {
        self.known_keys(t, path, LED_KEYS)?;
        let active_low = self.boolean(t, path, "active_low")?.unwrap_or(false);
        let single = self.pin(t, path, ctx, false)?;
        let rgb = self.table(t, path, "rgb")?;
        let channels = match (single, rgb) {
            (Some((key, _)), Some(_)) => {
                return Err(self.err(
                    &key,
                    format!(
                        "an LED has either one pin or `rgb`, not both (remove {key} or {path}.rgb)"
                    ),
                ));
            }
            (None, None) => {
                let want = if ctx.backend == Backend::Rpi {
                    "bcm"
                } else {
                    "line"
                };
                return Err(self.err(
                    path,
                    format!("no pin: set `{want}`, or `rgb = {{ red = .., green = .., blue = .. }}` for an RGB LED"),
                ));
            }
            (Some((key, pin)), None) => {
                for k in ["color", "alert_color"] {
                    if t.contains_key(k) {
                        return Err(self.err(
                            &join(path, k),
                            "only an RGB LED (`rgb = {...}`) has colours",
                        ));
                    }
                }
                vec![LedChannel {
                    key,
                    pin,
                    in_color: true,
                    in_alert: true,
                }]
            }
            (None, Some(rgb)) => {
                let rgb_path = join(path, "rgb");
                self.known_keys(rgb, &rgb_path, RGB_KEYS)?;
                let color = self.color(t, path, "color", Color::rgb(false, true, false))?;
                let alert = self.color(t, path, "alert_color", Color::rgb(true, false, false))?;
                let chip = self
                    .chip(t, path, ctx.backend)?
                    .or_else(|| ctx.default_chip.clone());
                let mut channels = Vec::new();
                for (channel, in_color, in_alert) in [
                    ("red", color.red, alert.red),
                    ("green", color.green, alert.green),
                    ("blue", color.blue, alert.blue),
                ] {
                    let key = join(&rgb_path, channel);
                    let v = rgb.get(channel).ok_or_else(|| {
                        self.err(&key, "missing: an RGB LED needs red, green and blue")
                    })?;
                    channels.push(LedChannel {
                        pin: self.number(v, &key, chip.as_deref(), ctx)?,
                        key,
                        in_color,
                        in_alert,
                    });
                }
                channels
            }
        };
        Ok(LedSpec {
            name,
            key: path.to_owned(),
            active_low,
            rgb: channels.len() == 3,
            channels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Profile, BoardError> {
        Profile::parse("test", "test.toml", text)
    }

    fn err(text: &str) -> String {
        match parse(text) {
            Ok(p) => panic!("parsed, expected an error: {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    const CDEV: &str = r#"
backend = "cdev"
chip = "gpiochip0"
[buttons.call]
line = 0
active_low = true
bias = "pull-up"
[leds.status]
line = 1
[leds.call]
line = 2
"#;

    #[test]
    fn every_builtin_profile_parses() {
        for (name, _) in BUILTIN {
            let p = builtin(name)
                .unwrap()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(p.name, name);
            assert_eq!(
                p.leds.iter().map(|l| l.name).collect::<Vec<_>>(),
                bridgepoint_core::led::LED_NAMES
            );
            assert!(!p.description.is_empty(), "{name} has no description");
        }
        let rpi4 = builtin("rpi4").unwrap().unwrap();
        assert_eq!(rpi4.backend, Backend::Rpi);
        assert_eq!(rpi4.button.pin, Pin::Bcm(17));
        assert!(rpi4.button.active_low);
        assert_eq!(rpi4.button.bias, Bias::PullUp);
        let sim = builtin("gpio-sim").unwrap().unwrap();
        assert_eq!(sim.backend, Backend::Cdev);
        assert!(sim.led("call").unwrap().rgb);
        assert!(builtin("nope").is_none());
    }

    #[test]
    fn a_cdev_profile_reads_chip_line_and_flags() {
        let p = parse(CDEV).unwrap();
        assert_eq!(
            p.button.pin,
            Pin::Line {
                chip: "gpiochip0".into(),
                line: 0
            }
        );
        assert_eq!(p.button.pin_key, "buttons.call.line");
        assert!(p.button.active_low);
        let status = p.led("status").unwrap();
        assert!(!status.rgb && !status.active_low);
        assert_eq!(status.channels[0].key, "leds.status.line");
        assert_eq!(p.pins().len(), 3);
    }

    #[test]
    fn an_rgb_led_has_three_channels_and_its_colours() {
        let text = CDEV.replace(
            "[leds.call]\nline = 2\n",
            "[leds.call]\nchip = \"other\"\nactive_low = true\nrgb = { red = 2, green = 3, blue = 4 }\ncolor = \"cyan\"\n",
        );
        let p = parse(&text).unwrap();
        let call = p.led("call").unwrap();
        assert!(call.rgb && call.active_low);
        let lit: Vec<(bool, bool)> = call
            .channels
            .iter()
            .map(|c| (c.in_color, c.in_alert))
            .collect();
        // cyan = green + blue; the default alert colour is red.
        assert_eq!(lit, [(false, true), (true, false), (true, false)]);
        assert_eq!(call.channels[2].key, "leds.call.rgb.blue");
        assert_eq!(
            call.channels[2].pin,
            Pin::Line {
                chip: "other".into(),
                line: 4
            }
        );
    }

    #[test]
    fn an_unknown_key_is_named() {
        let e = err(&CDEV.replace("bias = \"pull-up\"", "bias = \"pull-up\"\ndebounce_ms = 5"));
        assert_eq!(e, "board profile test.toml: buttons.call.debounce_ms: unknown key (known here: bcm, line, chip, active_low, bias)");
        let e = err(&format!("colour = \"red\"\n{CDEV}"));
        assert!(
            e.starts_with("board profile test.toml: colour: unknown key"),
            "{e}"
        );
        let e = err(&CDEV.replace("[leds.status]", "[leds.power]\nline = 7\n[leds.status]"));
        assert!(
            e.contains("leds.power: unknown key (known here: status, call)"),
            "{e}"
        );
        let e = err(&CDEV.replace("[buttons.call]", "[buttons.door]\nline = 9\n[buttons.call]"));
        assert!(
            e.contains("buttons.door: unknown key (known here: call)"),
            "{e}"
        );
        // An empty key is named, not left blank (found by fuzzing).
        let e = err(&format!("\"\" = \"gp\"\n{CDEV}"));
        assert!(
            e.starts_with("board profile test.toml: \"\": unknown key"),
            "{e}"
        );
        // So are a blank key and one TOML must quote (found by fuzzing).
        let e = err(&format!("\" \" = 1\n{CDEV}"));
        assert!(
            e.starts_with("board profile test.toml: \" \": unknown key"),
            "{e}"
        );
        let e = err(&CDEV.replace(
            "[buttons.call]",
            "[buttons.\"a.b\"]\nline = 9\n[buttons.call]",
        ));
        assert!(
            e.contains("buttons.\"a.b\": unknown key (known here: call)"),
            "{e}"
        );
    }

    #[test]
    fn a_duplicated_pin_names_both_keys() {
        let e = err(&CDEV.replace("[leds.call]\nline = 2", "[leds.call]\nline = 0"));
        assert_eq!(
            e,
            "board profile test.toml: leds.call.line: line 0 of chip gpiochip0 is already used by buttons.call.line"
        );
        // The same chip spelled as a path is still the same pin.
        let e = err(&CDEV.replace(
            "[leds.call]\nline = 2",
            "[leds.call]\nchip = \"/dev/gpiochip0\"\nline = 1",
        ));
        assert!(
            e.contains(
                "leds.call.line: line 1 of chip /dev/gpiochip0 is already used by leds.status.line"
            ),
            "{e}"
        );
        // Inside one RGB LED.
        let e = err(&CDEV.replace(
            "[leds.call]\nline = 2",
            "[leds.call]\nrgb = { red = 5, green = 6, blue = 5 }",
        ));
        assert!(
            e.contains(
                "leds.call.rgb.blue: line 5 of chip gpiochip0 is already used by leds.call.rgb.red"
            ),
            "{e}"
        );
        // The same line on another chip is another pin.
        parse(&CDEV.replace(
            "[leds.call]\nline = 2",
            "[leds.call]\nchip = \"gpiochip1\"\nline = 0",
        ))
        .unwrap();
    }

    #[test]
    fn a_pin_out_of_range_is_named() {
        let rpi = "backend = \"rpi\"\n[buttons.call]\nbcm = 17\n[leds.status]\nbcm = 28\n[leds.call]\nbcm = 24\n";
        assert_eq!(
            err(rpi),
            "board profile test.toml: leds.status.bcm: BCM GPIO 28 is out of range: the 40-pin header has GPIO0 to GPIO27"
        );
        assert!(err(&rpi.replace("bcm = 28", "bcm = -1"))
            .contains("leds.status.bcm: BCM GPIO -1 is out of range"));
        assert!(err(&CDEV.replace("line = 2", "line = 70000"))
            .contains("leds.call.line: line 70000 is out of range"));
        assert!(err(&CDEV.replace("line = 2", "line = \"2\""))
            .contains("leds.call.line: must be a pin number, got a string"));
    }

    #[test]
    fn wrong_backend_keys_and_missing_pieces_are_named() {
        assert!(err(&CDEV.replace("line = 1", "bcm = 1"))
            .contains("leds.status.bcm: backend = \"cdev\" names pins by chip and line"));
        let rpi = "backend = \"rpi\"\nchip = \"gpiochip0\"\n[buttons.call]\nbcm = 17\n";
        assert!(err(rpi).contains("test.toml: chip: backend = \"rpi\" has no chips"));
        assert!(err(&CDEV.replace("chip = \"gpiochip0\"\n", ""))
            .contains("buttons.call.line: no chip: set `chip`"));
        assert!(
            err(&CDEV.replace("backend = \"cdev\"", "backend = \"gpio\""))
                .contains("backend: must be \"rpi\" or \"cdev\", got \"gpio\"")
        );
        assert!(err(&CDEV.replace("backend = \"cdev\"\n", "")).contains("backend: missing"));
        assert!(err(&CDEV.replace("[leds.call]\nline = 2\n", "")).contains("leds.call: missing"));
        assert!(err(&CDEV.replace("line = 0\n", "")).contains("buttons.call.line: missing"));
        assert!(err(&CDEV.replace("bias = \"pull-up\"", "bias = \"up\""))
            .contains("buttons.call.bias: must be \"pull-up\""));
        assert!(err(&CDEV.replace("active_low = true", "active_low = 1"))
            .contains("buttons.call.active_low: must be true or false"));
        assert!(err(&CDEV.replace(
            "[leds.call]\nline = 2",
            "[leds.call]\nline = 2\ncolor = \"red\""
        ))
        .contains("leds.call.color: only an RGB LED"));
        assert!(err(&CDEV.replace(
            "[leds.call]\nline = 2",
            "[leds.call]\nrgb = { red = 5, green = 6 }"
        ))
        .contains("leds.call.rgb.blue: missing"));
        assert!(err(&CDEV.replace(
            "[leds.call]\nline = 2",
            "[leds.call]\nrgb = { red = 5, green = 6, blue = 7 }\ncolor = \"pink\""
        ))
        .contains("leds.call.color: unknown colour \"pink\""));
        assert!(err(&CDEV.replace(
            "[leds.call]\nline = 2",
            "[leds.call]\nline = 2\nrgb = { red = 5, green = 6, blue = 7 }"
        ))
        .contains("not both"));
        assert!(err("backend = [").starts_with("board profile test.toml: not valid TOML:"));
    }

    #[test]
    fn loading_prefers_files_and_rejects_unknown_names() {
        let dir = std::env::temp_dir().join(format!("bp-profiles-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("myboard.toml"), CDEV).unwrap();
        std::fs::write(dir.join("rpi4.toml"), CDEV).unwrap();
        let dirs = vec![dir.clone()];
        let p = load("myboard", &dirs).unwrap();
        assert_eq!(p.file, dir.join("myboard.toml").display().to_string());
        assert_eq!(
            load("rpi4", &dirs).unwrap().backend,
            Backend::Cdev,
            "a file overrides the built-in profile"
        );
        assert_eq!(load("rpi5", &dirs).unwrap().backend, Backend::Rpi);
        let e = load("nosuch", &dirs).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "unknown board \"nosuch\" (known: sim, rpi4, rpi5, generic-cdev, gpio-sim, myboard"
            ),
            "{e}"
        );
        assert!(matches!(
            load("../etc/passwd", &dirs),
            Err(BoardError::UnknownBoard { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
