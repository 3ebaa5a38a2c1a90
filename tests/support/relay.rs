//! The impairment relay between a box and a hub on loopback, as the
//! system tests put it: video and audio, RTP and RTCP each (RTCP on the
//! next port, as the box and the hub send it).

use std::net::SocketAddr;

use bridgepoint_testkit::impairment::Script;
use bridgepoint_testkit::relay::{ImpairedRelay, RelayConfig};

/// Ports of a box-facing or hub-facing side: the video and the audio RTP
/// port (from [`crate::free_ports`]).
pub type Ports = (u16, u16);

/// Starts a relay that takes what the box sends to `relay` on to `hub`
/// (and the hub's answers back), impaired as `script` says, with `seed`.
pub fn between_box_and_hub(script: &str, seed: u64, relay: Ports, hub: Ports) -> ImpairedRelay {
    let script: Script = script
        .parse()
        .unwrap_or_else(|e| panic!("impairment script {script:?}: {e}"));
    let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let mut config = RelayConfig::new(script, seed);
    for (from, to) in [(relay.0, hub.0), (relay.1, hub.1)] {
        config = config
            .route(at(from), at(to))
            .route(at(from + 1), at(to + 1));
    }
    ImpairedRelay::start(config).expect("start the impairment relay")
}
