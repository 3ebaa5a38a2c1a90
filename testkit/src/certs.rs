//! A throw-away PKI for the MQTT tests, made with rcgen (no `openssl`
//! command): one CA, a server certificate for `127.0.0.1` (and
//! `localhost`), and one client certificate per name, its subject CN being
//! that name. The broker takes the CN as the MQTT user name, so a box's CN
//! is its device id.
//!
//! Keys are EC P-256 (fast to make), certificates are valid from an hour ago
//! for 2 days, and everything is PEM (keys PKCS#8, unencrypted). The
//! extensions are the ones a strict verifier (rustls / webpki, OpenSSL in
//! mosquitto) wants: the CA is `CA:TRUE` with `keyCertSign` and `cRLSign`,
//! leaves are `CA:FALSE` with `digitalSignature` and `serverAuth` or
//! `clientAuth`, and every certificate has key identifiers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber, PKCS_ECDSA_P256_SHA256,
};

/// The organisation in every subject.
const ORG: &str = "Bridgepoint tests";

/// The subject alternative names of the server certificate.
const SERVER_NAMES: [&str; 2] = ["127.0.0.1", "localhost"];

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
    /// `clients` (CN = name). Each call makes a new CA: two `Certs` do not
    /// trust each other.
    pub fn generate(dir: &Path, clients: &[&str]) -> Certs {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("create the certificate directory {}: {e}", dir.display()));
        let mut names = BTreeMap::new();
        for name in clients {
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "client name {name:?}: use letters, digits, '-' and '_' only"
            );
            assert!(
                !["ca", "server"].contains(name) && names.insert(*name, ()).is_none(),
                "client name {name:?} is reserved or given twice"
            );
        }

        // The CA: self-signed.
        let mut ca_params = params(&[], "Bridgepoint test CA", 1);
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = new_key();
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign the CA");
        let ca = pair(dir, "ca");
        write(&ca, &ca_cert.pem(), &ca_key);
        let issuer = Issuer::new(ca_params, ca_key);

        let mut serial = 1;
        let mut issue = |sans: &[&str], cn: &str, usage: ExtendedKeyUsagePurpose, stem: &str| {
            serial += 1;
            let mut leaf = params(sans, cn, serial);
            leaf.is_ca = IsCa::ExplicitNoCa;
            leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            leaf.extended_key_usages = vec![usage];
            leaf.use_authority_key_identifier_extension = true;
            let key = new_key();
            let cert = leaf
                .signed_by(&key, &issuer)
                .unwrap_or_else(|e| panic!("sign the certificate {cn:?}: {e}"));
            let files = pair(dir, stem);
            write(&files, &cert.pem(), &key);
            files
        };

        let server = issue(
            &SERVER_NAMES,
            SERVER_NAMES[0],
            ExtendedKeyUsagePurpose::ServerAuth,
            "server",
        );
        let clients = clients
            .iter()
            .map(|name| {
                let files = issue(&[], name, ExtendedKeyUsagePurpose::ClientAuth, name);
                ((*name).to_owned(), files)
            })
            .collect();
        Certs {
            dir: dir.to_owned(),
            ca,
            server,
            clients,
        }
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA's certificate and key.
    pub fn ca(&self) -> &Pair {
        &self.ca
    }

    /// The server's certificate and key.
    pub fn server(&self) -> &Pair {
        &self.server
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

/// Certificate parameters with subject `O=Bridgepoint tests, CN=<cn>`, the
/// subject alternative names `sans` (IP addresses or DNS names), the serial
/// number and the validity every certificate here has.
fn params(sans: &[&str], cn: &str, serial: u64) -> CertificateParams {
    let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
    let mut params = CertificateParams::new(sans).expect("valid subject alternative names");
    let mut subject = DistinguishedName::new();
    subject.push(DnType::OrganizationName, ORG);
    subject.push(DnType::CommonName, cn);
    params.distinguished_name = subject;
    params.serial_number = Some(SerialNumber::from(serial));
    // An hour back, so a clock a little behind still accepts them.
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(2);
    params
}

fn new_key() -> KeyPair {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("generate a P-256 key")
}

fn pair(dir: &Path, stem: &str) -> Pair {
    Pair {
        cert: dir.join(format!("{stem}.crt")),
        key: dir.join(format!("{stem}.key")),
    }
}

fn write(files: &Pair, cert_pem: &str, key: &KeyPair) {
    for (path, text) in [(&files.cert, cert_pem), (&files.key, &key.serialize_pem())] {
        std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::Certs;
    use crate::TempDir;

    #[test]
    fn every_file_is_pem_where_the_accessors_say() {
        let dir = TempDir::new("certs");
        let certs = Certs::generate(dir.path(), &["lang-son-01", "central"]);
        assert_eq!(
            certs.client_names().collect::<Vec<_>>(),
            ["central", "lang-son-01"]
        );
        assert_eq!(certs.ca_cert(), dir.path().join("ca.crt"));
        assert_eq!(certs.client_key("central"), dir.path().join("central.key"));
        let pairs = [
            certs.ca(),
            certs.server(),
            certs.client("lang-son-01"),
            certs.client("central"),
        ];
        for pair in pairs {
            let cert = std::fs::read_to_string(&pair.cert).unwrap();
            assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
            let key = std::fs::read_to_string(&pair.key).unwrap();
            assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
        }
    }

    #[test]
    #[should_panic(expected = "reserved or given twice")]
    fn a_reserved_client_name_is_refused() {
        let dir = TempDir::new("certs-reserved");
        Certs::generate(dir.path(), &["server"]);
    }

    #[test]
    #[should_panic(expected = "no client certificate \"nobody\"")]
    fn asking_for_a_client_not_generated_names_it() {
        let dir = TempDir::new("certs-missing");
        Certs::generate(dir.path(), &["central"]).client_cert("nobody");
    }
}
