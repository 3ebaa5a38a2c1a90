//! A throw-away PKI for the MQTT tests, made with the `openssl` command line:
//! one CA, a server certificate for `127.0.0.1` (and `localhost`), and one
//! client certificate per name, its subject CN being that name. The broker
//! takes the CN as the MQTT user name, so a box's CN is its device id.
//!
//! Keys are EC P-256 (fast to make), certificates are valid for 2 days, and
//! everything is PEM. The extensions are the ones a strict verifier (rustls /
//! webpki) wants: the CA is `CA:TRUE` with `keyCertSign`, leaves are
//! `CA:FALSE` with `digitalSignature` and `serverAuth` or `clientAuth`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The openssl config for every step: no dependency on the system's
/// `openssl.cnf`.
const OPENSSL_CNF: &str = r#"[req]
distinguished_name = dn
prompt = no

[dn]
CN = unused

[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"#;

/// `openssl req` arguments for a new unencrypted P-256 key.
const NEW_EC_KEY: &[&str] = &[
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
];

/// Validity of every certificate, in days.
const DAYS: &str = "2";

/// A certificate and its private key, both PEM files.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, unencrypted).
    pub key: PathBuf,
}

/// A CA, a server certificate and client certificates, in one directory.
#[derive(Debug, Clone)]
pub struct Certs {
    dir: PathBuf,
    ca: Pair,
    server: Pair,
    clients: BTreeMap<String, Pair>,
}

impl Certs {
    /// Creates `dir` if needed and makes in it `ca.crt`/`ca.key`,
    /// `server.crt`/`server.key`, and `<name>.crt`/`<name>.key` for each of
    /// `clients` (CN = name). Panics with openssl's output if a step fails.
    pub fn generate(dir: &Path, clients: &[&str]) -> Certs {
        std::fs::create_dir_all(dir).expect("create the certificate directory");
        let cnf = dir.join("openssl.cnf");
        std::fs::write(&cnf, OPENSSL_CNF).expect("write openssl.cnf");

        // The CA: self-signed.
        let ca = pair(dir, "ca");
        openssl(
            dir,
            &[
                &[
                    "req",
                    "-x509",
                    "-new",
                    "-config",
                    path_str(&cnf),
                    "-extensions",
                    "ca_ext",
                ],
                NEW_EC_KEY,
                &["-keyout", path_str(&ca.key), "-out", path_str(&ca.cert)],
                &[
                    "-subj",
                    "/O=Bridgepoint tests/CN=Bridgepoint test CA",
                    "-days",
                    DAYS,
                ],
            ],
        );

        let mut serial = 1u32;
        let server = pair(dir, "server");
        issue(dir, &cnf, &ca, &server, "127.0.0.1", "server_ext", serial);

        let mut map = BTreeMap::new();
        for name in clients {
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "client name {name:?}: use letters, digits, '-' and '_' only"
            );
            assert!(
                !["ca", "server"].contains(name) && !map.contains_key(*name),
                "client name {name:?} is reserved or given twice"
            );
            serial += 1;
            let client = pair(dir, name);
            issue(dir, &cnf, &ca, &client, name, "client_ext", serial);
            map.insert((*name).to_owned(), client);
        }
        Certs {
            dir: dir.to_owned(),
            ca,
            server,
            clients: map,
        }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate (what both sides trust).
    pub fn ca_cert(&self) -> &Path {
        &self.ca.cert
    }

    /// The CA's private key.
    pub fn ca_key(&self) -> &Path {
        &self.ca.key
    }

    /// The server certificate (CN and IP SAN 127.0.0.1, DNS SAN localhost).
    pub fn server_cert(&self) -> &Path {
        &self.server.cert
    }

    /// The server's private key.
    pub fn server_key(&self) -> &Path {
        &self.server.key
    }

    /// The client certificate whose CN is `name`; panics if it was not generated.
    pub fn client_cert(&self, name: &str) -> &Path {
        &self.client(name).cert
    }

    /// The private key of the client certificate `name`; panics if it was not generated.
    pub fn client_key(&self, name: &str) -> &Path {
        &self.client(name).key
    }

    /// The certificate and key of client `name`; panics if it was not generated.
    pub fn client(&self, name: &str) -> &Pair {
        self.clients.get(name).unwrap_or_else(|| {
            panic!(
                "no client certificate {name:?}; generated: {:?}",
                self.clients.keys().collect::<Vec<_>>()
            )
        })
    }

    /// The names client certificates were generated for.
    pub fn client_names(&self) -> impl Iterator<Item = &str> {
        self.clients.keys().map(String::as_str)
    }
}

fn pair(dir: &Path, stem: &str) -> Pair {
    Pair {
        cert: dir.join(format!("{stem}.crt")),
        key: dir.join(format!("{stem}.key")),
    }
}

/// A key, a CSR with CN = `cn`, and a certificate signed by `ca` with the
/// extensions of section `ext` of the config.
fn issue(dir: &Path, cnf: &Path, ca: &Pair, leaf: &Pair, cn: &str, ext: &str, serial: u32) {
    let csr = leaf.cert.with_extension("csr");
    let subject = format!("/O=Bridgepoint tests/CN={cn}");
    openssl(
        dir,
        &[
            &["req", "-new", "-config", path_str(cnf)],
            NEW_EC_KEY,
            &[
                "-keyout",
                path_str(&leaf.key),
                "-out",
                path_str(&csr),
                "-subj",
                &subject,
            ],
        ],
    );
    let serial = serial.to_string();
    openssl(
        dir,
        &[
            &[
                "x509",
                "-req",
                "-in",
                path_str(&csr),
                "-sha256",
                "-days",
                DAYS,
                "-set_serial",
                &serial,
            ],
            &["-CA", path_str(&ca.cert), "-CAkey", path_str(&ca.key)],
            &[
                "-extfile",
                path_str(cnf),
                "-extensions",
                ext,
                "-out",
                path_str(&leaf.cert),
            ],
        ],
    );
    let _ = std::fs::remove_file(&csr);
}

/// Runs `openssl` with the concatenation of `groups` as its arguments.
fn openssl(dir: &Path, groups: &[&[&str]]) {
    let args = groups.concat();
    let out = Command::new("openssl")
        .args(&args)
        .current_dir(dir)
        .output()
        .expect("run openssl (Debian package `openssl`)");
    assert!(
        out.status.success(),
        "openssl {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("certificate paths are UTF-8")
}
