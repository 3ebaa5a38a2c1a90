//! `bpctl keygen PREFIX`, and reading the private key for `push`.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use bridgepoint_signing::{generate_keypair, SigningKey};

use crate::cli::KeygenArgs;

/// `PREFIX.key.jwk` and `PREFIX.pub`.
pub fn key_paths(prefix: &Path) -> Result<(PathBuf, PathBuf)> {
    let text = prefix.as_os_str().to_string_lossy();
    if text.is_empty() || text.ends_with('/') {
        bail!("PREFIX must name a file prefix such as keys/central-2026, got {text:?}");
    }
    Ok((
        PathBuf::from(format!("{text}.key.jwk")),
        PathBuf::from(format!("{text}.pub")),
    ))
}

fn write_new(path: &Path, contents: &str, mode: u32, force: bool) -> Result<()> {
    if force {
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(anyhow!(e))
                    .with_context(|| format!("cannot replace {}", path.display()))
            }
        }
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                anyhow!(
                    "{} already exists; pick another PREFIX or add --force to overwrite it",
                    path.display()
                )
            }
            _ => anyhow!("cannot create {}: {e}", path.display()),
        })?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Runs `keygen`; returns the public key (base64) for the caller to print.
pub fn run(args: &KeygenArgs) -> Result<String> {
    let (private_path, public_path) = key_paths(&args.prefix)?;
    if !args.force {
        for p in [&private_path, &public_path] {
            if p.exists() {
                bail!(
                    "{} already exists; pick another PREFIX or add --force to overwrite it",
                    p.display()
                );
            }
        }
    }
    let pair = generate_keypair().context("cannot make a key pair")?;
    let public = pair.public.to_base64();
    write_new(
        &private_path,
        &format!("{}\n", pair.signing.to_jwk()),
        0o600,
        args.force,
    )?;
    write_new(&public_path, &format!("{public}\n"), 0o644, args.force)?;
    eprintln!(
        "wrote {} (private signing key: keep it secret and backed up) and {} (public key for each box's trust.config_keys)",
        private_path.display(),
        public_path.display()
    );
    Ok(public)
}

/// Reads the private key for `push --key`.
pub fn load_signing_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--key {}: cannot read it", path.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: --key {} can be read by other users (mode {:o}); chmod 600 it",
                path.display(),
                mode & 0o777
            );
        }
    }
    SigningKey::from_jwk(&text).map_err(|e| {
        let t = text.trim();
        let looks_public = !t.starts_with('{') && t.len() == 44;
        let public_jwk = t.starts_with('{') && !t.contains("\"d\"");
        if looks_public || public_jwk {
            anyhow!(
                "--key {}: this is a public key; --key wants the private PREFIX.key.jwk written by bpctl keygen",
                path.display()
            )
        } else {
            anyhow!("--key {}: not a private Ed25519 JWK: {e}", path.display())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("bpctl-keygen-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn keygen_writes_a_private_jwk_0600_and_the_public_key() {
        let dir = temp_dir();
        let prefix = dir.join("central");
        run(&KeygenArgs {
            prefix: prefix.clone(),
            force: false,
        })
        .unwrap();
        let (private, public) = key_paths(&prefix).unwrap();
        assert_eq!(
            std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let key = load_signing_key(&private).unwrap();
        assert_eq!(
            std::fs::read_to_string(&public).unwrap().trim(),
            key.public_key().to_base64()
        );

        let again = run(&KeygenArgs {
            prefix: prefix.clone(),
            force: false,
        })
        .unwrap_err();
        assert!(again.to_string().contains("already exists"), "{again}");
        run(&KeygenArgs {
            prefix: prefix.clone(),
            force: true,
        })
        .unwrap();
        assert_ne!(
            load_signing_key(&private).unwrap().public_key(),
            key.public_key()
        );

        let e = load_signing_key(&public).unwrap_err();
        assert!(e.to_string().contains("this is a public key"), "{e}");
        let e = load_signing_key(&dir.join("missing.key.jwk")).unwrap_err();
        assert!(
            format!("{e:#}").contains("missing.key.jwk: cannot read it"),
            "{e:#}"
        );
        std::fs::write(dir.join("bad.key.jwk"), "{\"kty\":\"RSA\",\"d\":\"x\"}").unwrap();
        let e = load_signing_key(&dir.join("bad.key.jwk")).unwrap_err();
        assert!(e.to_string().contains("not a private Ed25519 JWK"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn prefixes_must_name_a_file() {
        assert!(key_paths(Path::new("")).is_err());
        assert!(key_paths(Path::new("keys/")).is_err());
        let (a, b) = key_paths(Path::new("keys/central")).unwrap();
        assert_eq!(
            (a.to_str().unwrap(), b.to_str().unwrap()),
            ("keys/central.key.jwk", "keys/central.pub")
        );
    }
}
