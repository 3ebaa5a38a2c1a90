//! `jws-tool`: the signing crate on the command line, for interop tests with
//! other JOSE libraries and for signing a config by hand.
//!
//! ```text
//! jws-tool keygen PREFIX        writes PREFIX.key.jwk (mode 0600) and PREFIX.pub
//! jws-tool sign --key FILE      payload on stdin  -> token on stdout
//! jws-tool verify --pub FILE... token on stdin    -> payload on stdout
//! ```
//!
//! Exit status: 0 on success, 1 when the input is rejected (the reason on
//! stderr), 2 on a usage error.

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use bridgepoint_signing::{
    generate_keypair, sign_compact, verify_compact, PublicKey, SigningKey, MAX_TOKEN_BYTES,
};

const USAGE: &str = "\
Usage:
  jws-tool keygen PREFIX
      Makes an Ed25519 key pair: PREFIX.key.jwk (private RFC 8037 JWK, mode
      0600, never overwritten) and PREFIX.pub (base64 of the raw 32-byte
      public key, the form of [trust] config_keys).
  jws-tool sign --key FILE
      Signs stdin as a JWS compact serialization ({\"alg\":\"EdDSA\"}) with the
      private JWK in FILE; prints the token and a newline.
  jws-tool verify --pub FILE [FILE...]
      Verifies the token on stdin against the public keys in the FILEs (one
      base64 key per non-empty line); prints the payload exactly, or exits 1
      with the reason on stderr.
";

/// A failure and the exit status it gets.
enum Failure {
    Usage(String),
    Rejected(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("jws-tool: {msg}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Rejected(msg)) => {
            eprintln!("jws-tool: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &[String]) -> Result<(), Failure> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] => Err(Failure::Usage("missing subcommand".into())),
        ["-h" | "--help" | "help", ..] => {
            print!("{USAGE}");
            Ok(())
        }
        ["keygen", prefix] => keygen(prefix),
        ["sign", "--key", file] => sign(file),
        ["verify", "--pub", files @ ..] if !files.is_empty() => verify(files),
        [cmd, ..] => Err(Failure::Usage(format!("bad arguments for {cmd:?}"))),
    }
}

fn keygen(prefix: &str) -> Result<(), Failure> {
    let pair = generate_keypair().map_err(|e| Failure::Rejected(e.to_string()))?;
    let key_path = format!("{prefix}.key.jwk");
    let pub_path = format!("{prefix}.pub");
    if let Some(existing) = [&key_path, &pub_path]
        .into_iter()
        .find(|p| Path::new(p).exists())
    {
        return Err(Failure::Rejected(format!(
            "{existing} exists (keygen never overwrites a key)"
        )));
    }
    write_new(&key_path, &format!("{}\n", pair.signing.to_jwk()), 0o600)?;
    write_new(&pub_path, &format!("{}\n", pair.public), 0o644)?;
    println!("{key_path}\n{pub_path}\npublic key: {}", pair.public);
    Ok(())
}

fn sign(key_file: &str) -> Result<(), Failure> {
    let jwk = read_file(key_file)?;
    let key =
        SigningKey::from_jwk(&jwk).map_err(|e| Failure::Rejected(format!("{key_file}: {e}")))?;
    let mut payload = Vec::new();
    std::io::stdin()
        .read_to_end(&mut payload)
        .map_err(|e| Failure::Rejected(format!("reading stdin: {e}")))?;
    let token = sign_compact(&payload, &key);
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Failure::Rejected(format!(
            "token would be {} bytes, boxes accept at most {MAX_TOKEN_BYTES}",
            token.len()
        )));
    }
    println!("{token}");
    Ok(())
}

fn verify(pub_files: &[&str]) -> Result<(), Failure> {
    let mut trusted = Vec::new();
    for file in pub_files {
        for line in read_file(file)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            trusted.push(
                PublicKey::from_base64(line)
                    .map_err(|e| Failure::Rejected(format!("{file}: {e}")))?,
            );
        }
    }
    let mut token = String::new();
    std::io::stdin()
        .read_to_string(&mut token)
        .map_err(|e| Failure::Rejected(format!("reading stdin: {e}")))?;
    let payload = verify_compact(&token, &trusted)
        .map_err(|e| Failure::Rejected(format!("rejected: {e}")))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&payload)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::Rejected(format!("writing stdout: {e}")))
}

fn read_file(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::Rejected(format!("{path}: {e}")))
}

/// Writes a file that must not exist yet, with `mode` from the start.
fn write_new(path: &str, contents: &str, mode: u32) -> Result<(), Failure> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(Path::new(path))
        .map_err(|e| Failure::Rejected(format!("{path}: {e} (keygen never overwrites a key)")))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Failure::Rejected(format!("{path}: {e}")))
}
