//! The broker's address as written in a box's `mqtt.url` and bpctl's
//! `--url`: `mqtts://host[:port]` or `mqtt://host[:port]`.

use std::fmt;

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// `mqtts://` (TLS).
    pub tls: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port (8883 for mqtts, 1883 for mqtt unless given).
    pub port: u16,
}

impl BrokerUrl {
    /// Parses `mqtts://host[:port]` or `mqtt://host[:port]`.
    pub fn parse(url: &str) -> Result<BrokerUrl, String> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("mqtts://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("mqtt://") {
            (false, rest)
        } else {
            return Err(format!("must start with mqtts:// or mqtt://, got {url:?}"));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                let port: u16 = port
                    .parse()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("port must be 1 to 65535, got {port:?}"))?;
                (host, port)
            }
            _ => (rest, if tls { 8883 } else { 1883 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains(['/', '@']) {
            return Err(format!("has no valid host: {url:?}"));
        }
        Ok(BrokerUrl {
            tls,
            host: host.to_owned(),
            port,
        })
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        write!(f, "{scheme}://{}", self.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_and_without_ports() {
        assert_eq!(
            BrokerUrl::parse("mqtts://broker.example.vn").unwrap(),
            BrokerUrl {
                tls: true,
                host: "broker.example.vn".into(),
                port: 8883
            }
        );
        let plain = BrokerUrl::parse("mqtt://127.0.0.1:1884").unwrap();
        assert_eq!((plain.tls, plain.port), (false, 1884));
        assert_eq!(plain.to_string(), "mqtt://127.0.0.1:1884");
        let v6 = BrokerUrl::parse("mqtts://[::1]:8884/").unwrap();
        assert_eq!(
            (v6.host.as_str(), v6.address()),
            ("::1", "[::1]:8884".into())
        );
        assert_eq!(BrokerUrl::parse("mqtt://h").unwrap().port, 1883);
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert!(BrokerUrl::parse("http://x")
            .unwrap_err()
            .contains("mqtts://"));
        assert!(BrokerUrl::parse("mqtts://x:0")
            .unwrap_err()
            .contains("port"));
        assert!(BrokerUrl::parse("mqtts://x:http")
            .unwrap_err()
            .contains("port"));
        assert!(BrokerUrl::parse("mqtts://").unwrap_err().contains("host"));
        assert!(BrokerUrl::parse("mqtts://user@x")
            .unwrap_err()
            .contains("host"));
    }
}
