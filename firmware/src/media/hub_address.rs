//! The hub's address for the UDP senders: `hub.host` resolved once per
//! pipeline start, an IPv4 address preferred.
//!
//! The senders share the sockets the box receives on (symmetric RTP),
//! which are IPv4: `udpsink` given a name that resolves to IPv6 first
//! (`localhost` on most systems) fails with "Could not get/set settings
//! from/on resource", and one given a name that does not resolve sends
//! nothing, silently. So the box resolves the name itself and hands the
//! senders the address; a name that does not resolve, or only to IPv6, is
//! the pipeline's error, naming the host, and the supervisor's backoff
//! starts a new pipeline, which resolves it again.

use std::net::{IpAddr, ToSocketAddrs};

use super::PipelineError;

/// `host` as the address the senders send to.
pub fn resolve_hub(host: &str) -> Result<IpAddr, PipelineError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ip);
    }
    let unresolved = |reason: String| PipelineError::HubAddress {
        host: host.to_owned(),
        reason,
    };
    let addresses: Vec<IpAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|e| unresolved(e.to_string()))?
        .map(|a| a.ip())
        .collect();
    if let Some(v4) = addresses.iter().find(|a| a.is_ipv4()) {
        return Ok(*v4);
    }
    Err(unresolved(match addresses.first() {
        None => "no address".to_owned(),
        Some(v6) => format!("only IPv6 addresses such as {v6}; the box sends over IPv4"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_taken_as_it_is() {
        assert_eq!(resolve_hub("192.0.2.7").unwrap().to_string(), "192.0.2.7");
    }

    #[test]
    fn a_name_resolves_to_its_ipv4_address_even_where_ipv6_comes_first() {
        assert_eq!(resolve_hub("localhost").unwrap().to_string(), "127.0.0.1");
    }

    #[test]
    fn a_name_that_does_not_resolve_is_an_error_naming_it() {
        let e = resolve_hub("hub-typo.invalid").unwrap_err().to_string();
        assert!(
            e.starts_with("hub.host \"hub-typo.invalid\" does not resolve ("),
            "{e}"
        );
    }
}
