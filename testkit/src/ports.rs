//! Free loopback ports. A port is free when probed; another process may
//! take it before the test binds it, so callers that can should retry (the
//! broker does).

use std::net::{TcpListener, UdpSocket};

/// A free TCP port on 127.0.0.1.
pub fn free_tcp_port() -> u16 {
    let probe = TcpListener::bind("127.0.0.1:0").expect("bind a probe socket on 127.0.0.1");
    probe.local_addr().expect("probe socket address").port()
}

/// The first of `count` consecutive free UDP ports on 127.0.0.1; the first
/// is even (RTP on even ports, RTCP on the next odd one).
pub fn free_udp_ports(count: u16) -> u16 {
    assert!((1..=64).contains(&count), "{count} ports asked for");
    for _ in 0..200 {
        let probe = UdpSocket::bind("127.0.0.1:0").expect("bind a probe socket on 127.0.0.1");
        let base = probe.local_addr().expect("probe socket address").port() & !1;
        drop(probe);
        if base < 1024 || u32::from(base) + u32::from(count) > 65536 {
            continue;
        }
        if (0..count).all(|i| UdpSocket::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no {count} consecutive free UDP ports on 127.0.0.1");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_ports_are_even_consecutive_and_bindable() {
        let base = free_udp_ports(4);
        assert_eq!(base % 2, 0);
        let sockets: Vec<UdpSocket> = (0..4)
            .map(|i| UdpSocket::bind(("127.0.0.1", base + i)).expect("free"))
            .collect();
        assert_eq!(sockets.len(), 4);
    }

    #[test]
    fn a_tcp_port_is_bindable() {
        let port = free_tcp_port();
        TcpListener::bind(("127.0.0.1", port)).expect("free");
    }
}
