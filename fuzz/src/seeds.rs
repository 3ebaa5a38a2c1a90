//! The seed corpora: the project's real examples, per target.
//!
//! Taken from the docs (every JSON, TOML and token example in
//! `docs/provisioning.md` and `docs/configuration.md`), the shipped board
//! profiles (`board/profiles/*.toml`) and the parsers' unit tests, plus
//! tokens signed with the fixed key ([`crate::fixtures::signing_key`]) over
//! the docs' payloads, so the fuzzer starts past the signature check.
//! `cargo run --bin make-seeds` (what `scripts/fuzz --make-seeds` runs)
//! writes them to `fuzz/seeds/<target>/`; they are committed.

use std::path::Path;

use bridgepoint_signing::sign_compact;
use serde_json::{json, Value};

use crate::fixtures;

/// One seed: the target it is for, a file name, the bytes.
pub struct Seed {
    /// The fuzz target.
    pub target: &'static str,
    /// The file name in `seeds/<target>/`.
    pub name: String,
    /// The input.
    pub data: Vec<u8>,
}

/// The fenced code blocks of a markdown text with this info string.
fn fenced<'a>(markdown: &'a str, lang: &str) -> Vec<&'a str> {
    let open = format!("```{lang}\n");
    let mut blocks = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let Some(end) = body.find("```") else { break };
        blocks.push(&body[..end]);
        rest = &body[end..];
    }
    blocks
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The RFC 8037 test key, signed over `payload`.
fn signed(payload: &str) -> String {
    sign_compact(payload.as_bytes(), fixtures::signing_key())
}

/// Every seed, from the repository at `root`.
pub fn all(root: &Path) -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut add = |target: &'static str, name: &str, data: &[u8]| {
        seeds.push(Seed {
            target,
            name: name.to_owned(),
            data: data.to_vec(),
        })
    };

    // docs/provisioning.md: the token, every payload, the box's TOML.
    let provisioning = read(root, "docs/provisioning.md");
    let mut pushes: Vec<String> = Vec::new();
    for (i, block) in fenced(&provisioning, "json").into_iter().enumerate() {
        let text = block.trim();
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        if value.get("cmd").is_some() {
            add("command", &format!("docs-cmd-{i}.json"), text.as_bytes());
        } else if value.get("version").is_some() && value.get("config").is_some() {
            pushes.push(text.to_owned());
            add(
                "pushed_settings",
                &format!("docs-config-{i}.json"),
                value["config"].to_string().as_bytes(),
            );
        }
    }
    for (i, block) in fenced(&provisioning, "text").into_iter().enumerate() {
        let token = block.trim();
        if !token.starts_with("eyJ") {
            continue;
        }
        let name = format!("docs-token-{i}.jws");
        add("jws", &name, token.as_bytes());
        // A signed command goes to the gate, a signed config to the push.
        let is_command = bridgepoint_proto::envelope::unverified_payload(token)
            .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
            .is_some_and(|v| v.get("cmd").is_some());
        if is_command {
            add("command_gate", &name, token.as_bytes());
        } else {
            add("provision_signed", &name, token.as_bytes());
        }
    }
    for (i, block) in fenced(&provisioning, "toml").into_iter().enumerate() {
        add(
            "config_toml",
            &format!("docs-provisioning-{i}.toml"),
            block.as_bytes(),
        );
    }

    // Pushes the box would apply, confirm or refuse, beside the docs' own.
    let config: Value = serde_json::from_str(fixtures::CURRENT_CONFIG).expect("JSON");
    let mut live = config.clone();
    live["video"]["bitrate_kbps"] = json!(900);
    let mut restart = config.clone();
    restart["hub"]["host"] = json!("10.0.0.9");
    let minimal =
        json!({"hub": {"host": "h"}, "srtp": {"key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"}});
    let mut gcm = minimal.clone();
    gcm["srtp"] = json!({"suite": "AEAD_AES_256_GCM", "key": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis="});
    gcm["video"] =
        json!({"source": "v4l2:/dev/video0", "encoder": "x264", "width": 640, "height": 480});
    gcm["audio"] = json!({"source": "alsa:hw:1,0", "bitrate_kbps": 64});
    gcm["session"] = json!({"mode": "always", "call_timeout_s": 5});
    for (name, push) in [
        (
            "already-applied",
            json!({"version": 5, "device_id": fixtures::DEVICE_ID, "config": config}),
        ),
        (
            "live",
            json!({"version": 6, "device_id": fixtures::DEVICE_ID, "config": live}),
        ),
        ("restart", json!({"version": 7, "config": restart})),
        ("minimal", json!({"version": 8, "config": minimal})),
        ("gcm-everything", json!({"version": 9, "config": gcm})),
        ("replay", json!({"version": 4, "config": config})),
        (
            "other-box",
            json!({"version": 9, "device_id": "box-2", "config": config}),
        ),
        (
            "unknown-key",
            json!({"version": 9, "config": config, "extra": 1}),
        ),
    ] {
        pushes.push(push.to_string());
        add(
            "pushed_settings",
            &format!("{name}.json"),
            push["config"].to_string().as_bytes(),
        );
    }
    for (i, push) in pushes.iter().enumerate() {
        add(
            "provision_unsigned",
            &format!("push-{i}.json"),
            push.as_bytes(),
        );
        let token = signed(push);
        add(
            "provision_signed",
            &format!("push-{i}.jws"),
            token.as_bytes(),
        );
        add("jws", &format!("push-{i}.jws"), token.as_bytes());
    }
    for (name, raw) in [
        ("not-json", &b"{not json"[..]),
        ("array", b"[1,2]"),
        ("no-version", br#"{"config":{}}"#),
        ("string-version", br#"{"version":"7","config":{}}"#),
        ("bad-width", br#"{"version":9,"config":{"hub":{"host":"h"},"srtp":{"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"},"video":{"width":"wide"}}}"#),
    ] {
        add("provision_unsigned", &format!("{name}.json"), raw);
    }

    // Tokens with other headers, correctly signed: the header checks.
    for (name, header) in [
        ("kid", r#"{"alg":"EdDSA","kid":"ops-2026"}"#),
        ("none", r#"{"alg":"none"}"#),
        ("crit", r#"{"alg":"EdDSA","crit":["b64"],"b64":false}"#),
        ("repeated", r#"{"alg":"none","alg":"EdDSA"}"#),
    ] {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(&pushes[0])
        );
        // sign_compact always writes {"alg":"EdDSA"}, so sign by hand.
        let token = sign_input(&input);
        add("jws", &format!("header-{name}.jws"), token.as_bytes());
    }
    add(
        "jws",
        "rfc8037-a4.jws",
        signed("Example of Ed25519 signing").as_bytes(),
    );
    // A header of 5,600 parameters, just under the 64 KB token limit: it once
    // took seconds to check (signing/src/header.rs, quadratic duplicate check).
    {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let names: Vec<String> = (0..5600).map(|i| format!("\"p{i:x}\":0")).collect();
        let header = format!("{{\"alg\":\"EdDSA\",{}}}", names.join(","));
        let token = sign_input(&format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(&pushes[0])
        ));
        add(
            "jws",
            "regression-5600-header-parameters.jws",
            token.as_bytes(),
        );
        add(
            "provision_signed",
            "regression-5600-header-parameters.jws",
            token.as_bytes(),
        );
    }

    // Keys: the docs' and RFC 8037's, in every accepted form, and JWKs.
    let rfc = fixtures::signing_key();
    for (name, text) in [
        ("docs-public", fixtures::DOCS_PUBLIC_KEY.to_owned()),
        ("rfc-public-std", rfc.public_key().to_base64()),
        (
            "rfc-public-url",
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".to_owned(),
        ),
        (
            "identity-point",
            "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned(),
        ),
        ("rfc-jwk", fixtures::RFC_JWK.to_owned()),
        ("rfc-public-jwk", rfc.public_key().to_jwk()),
        (
            "jwk-alg",
            fixtures::RFC_JWK.replace(r#""kty""#, r#""alg":"EdDSA","kid":"ops","kty""#),
        ),
    ] {
        add("keys", &format!("{name}.txt"), text.as_bytes());
    }

    // Commands from the parser's unit tests.
    for (i, cmd) in [
        r#"{"id":"a","cmd":"session.start","args":{"srtp_key":"AAEC"}}"#,
        r#"{"id":"a","cmd":"reboot","args":null}"#,
        r#"{"id":"a","cmd":"identify","args":{"seconds":3}}"#,
        r#"{"id":"t1","cmd":"dance"}"#,
        r#"{"cmd":"reboot"}"#,
        r#"{"id":"x","cmd":"update","args":{"url":"https://x/y.raucb?sig=1#frag"}}"#,
        r#"{"id":"x","cmd":"reboot","args":{"now":true}}"#,
        r#"{"id":"a","cmd":"config.set_version","args":{"version":1795459805123}}"#,
        r#"{"id":"x","cmd":"reboot","args":{},"device_id":"lang-son-01","counter":17,"expires_at":1795460105}"#,
        r#"{"id":"x","cmd":"reboot","cmd":"keyframe"}"#,
    ]
    .into_iter()
    .enumerate()
    {
        add("command", &format!("unit-{i}.json"), cmd.as_bytes());
    }

    // Raw `cmd` messages for the gate: the docs' plain commands, and signed
    // ones bound to the box (fresh, replayed, expired, for another box).
    let plain = fenced(&provisioning, "json")
        .into_iter()
        .map(str::trim)
        .filter(|b| serde_json::from_str::<Value>(b).is_ok_and(|v| v.get("cmd").is_some()));
    for (i, text) in plain.enumerate() {
        add("command_gate", &format!("plain-{i}.json"), text.as_bytes());
    }
    let now = fixtures::NOW_UNIX_MS / 1000;
    for (name, cmd, args, device, counter, expires_at) in [
        (
            "reboot",
            "reboot",
            json!({}),
            fixtures::DEVICE_ID,
            101,
            now + 120,
        ),
        (
            "session-key",
            "session.start",
            json!({"srtp_key": "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNF"}),
            fixtures::DEVICE_ID,
            102,
            now + 120,
        ),
        (
            "update",
            "update",
            json!({"url": "https://fw.tiepdan.example/bridgepoint-rpi4-1.2.0.raucb"}),
            fixtures::DEVICE_ID,
            103,
            now + 3600,
        ),
        (
            "set-version",
            "config.set_version",
            json!({"version": 4}),
            fixtures::DEVICE_ID,
            104,
            now + 1,
        ),
        (
            "identify",
            "identify",
            json!({"seconds": 30}),
            fixtures::DEVICE_ID,
            105,
            now,
        ),
        (
            "replayed",
            "reboot",
            json!({}),
            fixtures::DEVICE_ID,
            100,
            now + 120,
        ),
        (
            "expired",
            "reboot",
            json!({}),
            fixtures::DEVICE_ID,
            106,
            now - 1,
        ),
        (
            "far-ahead",
            "reboot",
            json!({}),
            fixtures::DEVICE_ID,
            107,
            now + 3601,
        ),
        ("other-box", "reboot", json!({}), "box-2", 108, now + 120),
    ] {
        let body = json!({"id": format!("gate-{name}"), "cmd": cmd, "args": args,
            "device_id": device, "counter": counter, "expires_at": expires_at})
        .to_string();
        add(
            "command_gate",
            &format!("signed-{name}.jws"),
            signed(&body).as_bytes(),
        );
        if name == "reboot" {
            add(
                "command_gate",
                "unsigned-reboot-bound.json",
                body.as_bytes(),
            );
        }
    }

    // The simulated board's lines (docs/configuration.md, the unit tests).
    for (name, line) in [
        ("press", "press call"),
        ("hold", "hold call 2500"),
        ("hold-max", "hold call 60000"),
        ("leds", "leds"),
        ("state", "state"),
        ("help", "help"),
        ("padded", "  hold call 2500 \r"),
        ("bad-button", "press door"),
    ] {
        add("board_line", &format!("{name}.txt"), line.as_bytes());
    }

    // Board profiles: the shipped ones and the unit tests' cdev profile.
    let mut profiles: Vec<_> = std::fs::read_dir(root.join("board/profiles"))
        .expect("board/profiles")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    profiles.sort();
    for path in profiles {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read(&path).expect("profile");
        add("board_profile", &name, &text);
    }
    add(
        "board_profile",
        "unit-cdev.toml",
        b"backend = \"cdev\"\nchip = \"gpiochip0\"\n[buttons.call]\nline = 0\nactive_low = true\nbias = \"pull-up\"\n[leds.status]\nline = 1\n[leds.call]\nchip = \"other\"\nactive_low = true\nrgb = { red = 2, green = 3, blue = 4 }\ncolor = \"cyan\"\n",
    );

    // Config files: the docs' examples, one with a real key.
    let configuration = read(root, "docs/configuration.md");
    for (i, block) in fenced(&configuration, "toml").into_iter().enumerate() {
        add(
            "config_toml",
            &format!("docs-configuration-{i}.toml"),
            block.as_bytes(),
        );
        let real = block.replace(
            "\"<base64 of master key + salt>\"",
            "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"",
        );
        add(
            "config_toml",
            &format!("docs-configuration-{i}-keyed.toml"),
            real.as_bytes(),
        );
    }
    add(
        "config_toml",
        "unit-mqtt.toml",
        b"device_id = \"box-1\"\n[mqtt]\nurl = \"mqtt://[::1]:1883/\"\nallow_plaintext = true\nusername = \"u\"\npassword = \"p\"\ntopic_root = \"a/b\"\nkeepalive_s = 5\n[trust]\nconfig_keys = [\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"]\n[video]\nwidth = 641\n",
    );
    seeds
}

/// `input.signature`, signed with the fixed key whatever the header says
/// (`sign_compact` only ever writes `{"alg":"EdDSA"}`).
fn sign_input(input: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let seed: [u8; 32] = URL_SAFE_NO_PAD
        .decode(fixtures::RFC_SEED)
        .expect("base64")
        .try_into()
        .expect("32 bytes");
    let signature = ed25519_dalek::SigningKey::from_bytes(&seed).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}
