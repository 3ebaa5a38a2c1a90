//! The SDP a receiver at the hub uses to record the box's stream.
//!
//! `bridgepointd sdp` prints it; a stock
//! `ffmpeg -protocol_whitelist file,udp,rtp,srtp,crypto -i stream.sdp ...`
//! receives, decrypts and records with it. Video is H.264 (payload type 96),
//! audio Opus (payload type 111), each SRTP-protected with an SDES
//! `a=crypto` line (RFC 4568). RTCP uses each RTP port + 1. With
//! `srtp.receive_key` both directions are described: `a=sendrecv`, and the
//! hub's own key as a second `a=crypto` line.
//!
//! With `hub.feedback = "avpf"` the video is offered as `RTP/SAVPF`
//! (RFC 5124): `a=rtcp-fb` lines for generic NACK, PLI and FIR (RFC 4585,
//! RFC 5104), and an RFC 4588 retransmission stream of its own payload type
//! ([`VIDEO_RTX_PAYLOAD_TYPE`], `apt` = the video's), and transport-wide
//! congestion control feedback (`a=rtcp-fb:96 transport-cc`, with the
//! sequence number extension `a=extmap:`[`TRANSPORT_CC_EXTENSION_ID`]).
//! With `"none"` the description is the plain `RTP/SAVP` one.
//!
//! Each media section gives its bandwidth, `b=AS` (RFC 4566, kbit/s with
//! the packets' RTP, SRTP, UDP and IP headers, [`video_bandwidth_kbps`],
//! [`audio_bandwidth_kbps`]): the video's ceiling, the audio's bitrate. A
//! receiver sizes its RTCP by it (RFC 3550 section 6.2: 5 % of the
//! session's bandwidth); without it GStreamer's rtpbin (as rtspsrc sets
//! it up) guesses the bandwidth from what arrived so far, and in the
//! session's first seconds its reports, and so its NACKs, wait
//! hundreds of milliseconds, too late to repair a packet.

use base64::Engine as _;

use crate::config::{HubFeedback, MediaConfig};

/// RTP payload type of the H.264 video.
pub const VIDEO_PAYLOAD_TYPE: u8 = 96;
/// RTP payload type of the Opus audio.
pub const AUDIO_PAYLOAD_TYPE: u8 = 111;
/// RTP payload type of the video's retransmissions (RFC 4588), with
/// `hub.feedback = "avpf"`.
pub const VIDEO_RTX_PAYLOAD_TYPE: u8 = 97;
/// The RTP header extension id of the transport-wide sequence number on
/// the video, with `hub.feedback = "avpf"`.
pub const TRANSPORT_CC_EXTENSION_ID: u8 = 3;
/// The extension's URI (draft-holmer-rmcat-transport-wide-cc-extensions-01).
pub const TRANSPORT_CC_URI: &str =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";

/// The largest RTP payload the box's payloaders make (GStreamer's
/// default MTU for `rtph264pay`).
pub const RTP_PAYLOAD_BYTES: u32 = 1400;
/// Opus packets a second (20 ms frames, `opusenc`'s default).
pub const AUDIO_PACKETS_PER_SECOND: u32 = 50;

/// Bytes each packet carries on top of its payload: the RTP header (12),
/// the SRTP suite's tag, UDP (8) and IP (20, or 40 over IPv6).
fn header_bytes(media: &MediaConfig) -> u32 {
    let ip = if media.hub.host.contains(':') { 40 } else { 20 };
    12 + media.srtp.suite.tag_len() as u32 + 8 + ip
}

/// `payload_kbps` at `packets_per_second` with each packet's headers, in
/// whole kbit/s rounded up.
fn with_headers_kbps(payload_kbps: u32, packets_per_second: u32, header_bytes: u32) -> u32 {
    let headers_bits = u64::from(packets_per_second) * u64::from(header_bytes) * 8;
    payload_kbps + headers_bits.div_ceil(1000) as u32
}

/// The video's `b=AS`: its ceiling (`video.bitrate_kbps`; retransmissions
/// are inside the target) in full-size packets plus one part-filled
/// packet per frame, with their headers.
pub fn video_bandwidth_kbps(media: &MediaConfig) -> u32 {
    let ceiling = media.video.bitrate_kbps;
    let full_packets = (u64::from(ceiling) * 1000 / 8).div_ceil(u64::from(RTP_PAYLOAD_BYTES));
    let packets = full_packets as u32 + media.video.fps;
    with_headers_kbps(ceiling, packets, header_bytes(media))
}

/// The audio's `b=AS`: the Opus bitrate with its packets' headers.
pub fn audio_bandwidth_kbps(media: &MediaConfig) -> u32 {
    with_headers_kbps(
        media.audio.bitrate_kbps,
        AUDIO_PACKETS_PER_SECOND,
        header_bytes(media),
    )
}

/// The H.264 `profile-level-id` (constrained baseline) for a picture size and rate.
pub fn profile_level_id(width: u32, height: u32, fps: u32) -> &'static str {
    let macroblocks = u64::from(width.div_ceil(16)) * u64::from(height.div_ceil(16));
    let per_second = macroblocks * u64::from(fps);
    // Limits from ITU-T H.264 Table A-1 (frame size, macroblocks per second).
    if macroblocks <= 1620 && per_second <= 40_500 {
        "42e01e" // level 3.0
    } else if macroblocks <= 3600 && per_second <= 108_000 {
        "42e01f" // level 3.1
    } else if macroblocks <= 8192 && per_second <= 245_760 {
        "42e028" // level 4.0
    } else if macroblocks <= 8704 && per_second <= 522_240 {
        "42e02a" // level 4.2
    } else {
        "42e033" // level 5.1
    }
}

/// The session description for `device_id` streaming with `media`.
pub fn session_description(device_id: &str, media: &MediaConfig) -> String {
    let hub = &media.hub;
    let ip_version = if hub.host.contains(':') { "IP6" } else { "IP4" };
    let b64 = |key: &[u8]| base64::engine::general_purpose::STANDARD.encode(key);
    let suite = media.srtp.suite.name();
    // Each media section ends with its direction and keys. With a receive
    // key the hub also sends (`sendrecv`): tag 2 is the key it protects
    // what it sends with. The box's own key (tag 1) comes last: ffmpeg
    // keeps the last `a=crypto` line of a section, and decrypts the box's
    // stream with it.
    let mut tail = Vec::new();
    match &media.srtp.receive_key {
        Some(receive) => {
            tail.push("a=sendrecv".to_owned());
            tail.push(format!("a=crypto:2 {suite} inline:{}", b64(receive)));
        }
        None => tail.push("a=recvonly".to_owned()),
    }
    tail.push(format!(
        "a=crypto:1 {suite} inline:{}",
        b64(&media.srtp.key)
    ));
    let v = &media.video;
    let (video_t, rtx) = (VIDEO_PAYLOAD_TYPE, VIDEO_RTX_PAYLOAD_TYPE);
    let mut video = match hub.feedback {
        HubFeedback::None => vec![format!("m=video {} RTP/SAVP {video_t}", hub.video_port)],
        HubFeedback::Avpf => vec![format!(
            "m=video {} RTP/SAVPF {video_t} {rtx}",
            hub.video_port
        )],
    };
    video.extend([
        format!("b=AS:{}", video_bandwidth_kbps(media)),
        format!("a=rtpmap:{video_t} H264/90000"),
        format!(
            "a=fmtp:{video_t} packetization-mode=1;profile-level-id={}",
            profile_level_id(v.width, v.height, v.fps)
        ),
    ]);
    if hub.feedback == HubFeedback::Avpf {
        video.extend([
            format!("a=rtcp-fb:{video_t} nack"),
            format!("a=rtcp-fb:{video_t} nack pli"),
            format!("a=rtcp-fb:{video_t} ccm fir"),
            format!("a=rtcp-fb:{video_t} transport-cc"),
            format!("a=extmap:{TRANSPORT_CC_EXTENSION_ID} {TRANSPORT_CC_URI}"),
            format!("a=rtpmap:{rtx} rtx/90000"),
            format!("a=fmtp:{rtx} apt={video_t}"),
        ]);
    }
    video.push(format!("a=framerate:{}", v.fps));
    let audio = [
        format!("m=audio {} RTP/SAVP {AUDIO_PAYLOAD_TYPE}", hub.audio_port),
        format!("b=AS:{}", audio_bandwidth_kbps(media)),
        format!("a=rtpmap:{AUDIO_PAYLOAD_TYPE} opus/48000/2"),
        format!("a=fmtp:{AUDIO_PAYLOAD_TYPE} minptime=10;useinbandfec=1"),
    ];
    let session = [
        "v=0".to_owned(),
        format!("o=- 0 0 IN {ip_version} {}", hub.host),
        format!("s=Bridgepoint {device_id}"),
        format!("c=IN {ip_version} {}", hub.host),
        "t=0 0".to_owned(),
    ];
    let lines = session
        .iter()
        .chain(video.iter().chain(&tail))
        .chain(audio.iter().chain(&tail));
    lines.fold(String::new(), |mut sdp, line| {
        sdp.push_str(line);
        sdp.push('\n');
        sdp
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_toml;

    const FILE: &str = r#"
device_id = "lang-son-01"
[hub]
host = "10.1.2.3"
video_port = 6000
audio_port = 6002
[srtp]
key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
"#;

    #[test]
    fn sdp_carries_ports_payload_types_and_crypto() {
        let c = parse_toml(FILE).unwrap();
        let sdp = session_description(&c.device_id, &c.settings.media().unwrap());
        assert!(sdp.contains("c=IN IP4 10.1.2.3\n"));
        assert!(sdp.contains("m=video 6000 RTP/SAVP 96\n"));
        assert!(sdp.contains("a=rtpmap:96 H264/90000\n"));
        assert!(
            sdp.contains("profile-level-id=42e01f"),
            "720p30 is level 3.1"
        );
        assert!(sdp.contains("m=audio 6002 RTP/SAVP 111\n"));
        assert!(sdp.contains("a=rtpmap:111 opus/48000/2\n"));
        let crypto =
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\n";
        assert_eq!(sdp.matches(crypto).count(), 2, "{sdp}");
    }

    #[test]
    fn with_a_receive_key_both_directions_and_keys_are_described_the_box_s_last() {
        let text = FILE.replace(
            "key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"",
            "key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\"\nreceive_key = \"HRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgEA\"",
        );
        let c = parse_toml(&text).unwrap();
        let sdp = session_description(&c.device_id, &c.settings.media().unwrap());
        assert!(!sdp.contains("a=recvonly"), "{sdp}");
        assert_eq!(sdp.matches("a=sendrecv\n").count(), 2, "{sdp}");
        let pair = "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:HRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgEA\n\
                    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\n";
        assert_eq!(sdp.matches(pair).count(), 2, "{sdp}");
    }

    #[test]
    fn without_feedback_the_description_is_the_plain_savp_one() {
        let c = parse_toml(FILE).unwrap();
        let sdp = session_description(&c.device_id, &c.settings.media().unwrap());
        // Byte for byte what the box described before `hub.feedback`,
        // with each media's bandwidth.
        let want = "v=0\n\
                    o=- 0 0 IN IP4 10.1.2.3\n\
                    s=Bridgepoint lang-son-01\n\
                    c=IN IP4 10.1.2.3\n\
                    t=0 0\n\
                    m=video 6000 RTP/SAVP 96\n\
                    b=AS:2084\n\
                    a=rtpmap:96 H264/90000\n\
                    a=fmtp:96 packetization-mode=1;profile-level-id=42e01f\n\
                    a=framerate:30\n\
                    a=recvonly\n\
                    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\n\
                    m=audio 6002 RTP/SAVP 111\n\
                    b=AS:52\n\
                    a=rtpmap:111 opus/48000/2\n\
                    a=fmtp:111 minptime=10;useinbandfec=1\n\
                    a=recvonly\n\
                    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\n";
        assert_eq!(sdp, want);
        let explicit = parse_toml(&FILE.replace(
            "audio_port = 6002",
            "audio_port = 6002\nfeedback = \"none\"",
        ))
        .unwrap();
        assert_eq!(
            session_description(&explicit.device_id, &explicit.settings.media().unwrap()),
            want
        );
        assert!(!sdp.contains("rtcp-fb") && !sdp.contains("SAVPF") && !sdp.contains("rtx"));
    }

    #[test]
    fn with_avpf_the_video_offers_nack_pli_fir_transport_cc_and_its_retransmission_stream() {
        let c = parse_toml(&FILE.replace(
            "audio_port = 6002",
            "audio_port = 6002\nfeedback = \"avpf\"",
        ))
        .unwrap();
        let sdp = session_description(&c.device_id, &c.settings.media().unwrap());
        assert_ne!(VIDEO_RTX_PAYLOAD_TYPE, VIDEO_PAYLOAD_TYPE);
        assert_ne!(VIDEO_RTX_PAYLOAD_TYPE, AUDIO_PAYLOAD_TYPE);
        let video = "m=video 6000 RTP/SAVPF 96 97\n\
                     b=AS:2084\n\
                     a=rtpmap:96 H264/90000\n\
                     a=fmtp:96 packetization-mode=1;profile-level-id=42e01f\n\
                     a=rtcp-fb:96 nack\n\
                     a=rtcp-fb:96 nack pli\n\
                     a=rtcp-fb:96 ccm fir\n\
                     a=rtcp-fb:96 transport-cc\n\
                     a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\n\
                     a=rtpmap:97 rtx/90000\n\
                     a=fmtp:97 apt=96\n\
                     a=framerate:30\n\
                     a=recvonly\n";
        assert!(sdp.contains(video), "{sdp}");
        // The audio asks for no feedback: its section is unchanged.
        assert!(sdp.contains("m=audio 6002 RTP/SAVP 111\n"), "{sdp}");
        assert_eq!(sdp.matches("a=rtcp-fb:").count(), 4, "{sdp}");
        assert_eq!(sdp.matches("a=crypto:1 ").count(), 2, "{sdp}");
    }

    #[test]
    fn bandwidths_count_the_packets_headers() {
        let media = |text: &str| parse_toml(text).unwrap().settings.media().unwrap();
        // 2000 kbit/s: 179 full packets of 1400 bytes and 30 frames' last
        // ones a second, each with 12 + 10 + 8 + 20 bytes of headers
        // (AES_CM_128_HMAC_SHA1_80 over IPv4): 209 * 50 * 8 bits = 83.6
        // kbit/s, rounded up. Opus 32 kbit/s in 50 packets: 20 kbit/s.
        let v4 = media(FILE);
        assert_eq!(video_bandwidth_kbps(&v4), 2000 + 84);
        assert_eq!(audio_bandwidth_kbps(&v4), 32 + 20);
        // IPv6 (20 bytes more) and GCM's 16-byte tag (6 more): 76 bytes.
        let v6 = media(
            &FILE
                .replace("\"10.1.2.3\"", "\"fd00::1\"")
                .replace("[srtp]", "[srtp]\nsuite = \"AEAD_AES_128_GCM\"")
                .replace(
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd",
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==",
                ),
        );
        assert_eq!(video_bandwidth_kbps(&v6), 2000 + 128);
        assert_eq!(audio_bandwidth_kbps(&v6), 32 + 31);
        let sdp = session_description("x", &v6);
        assert!(sdp.contains("RTP/SAVP 96\nb=AS:2128\n"), "{sdp}");
        assert!(sdp.contains("RTP/SAVP 111\nb=AS:63\n"), "{sdp}");
    }

    #[test]
    fn levels_follow_the_picture() {
        assert_eq!(profile_level_id(640, 360, 30), "42e01e");
        assert_eq!(profile_level_id(1280, 720, 30), "42e01f");
        assert_eq!(profile_level_id(1920, 1080, 30), "42e028");
        assert_eq!(profile_level_id(1920, 1080, 60), "42e02a");
        assert_eq!(profile_level_id(3840, 2160, 30), "42e033");
    }

    #[test]
    fn ipv6_hub_is_marked_ip6() {
        let c = parse_toml(&FILE.replace("10.1.2.3", "fd00::1")).unwrap();
        assert!(
            session_description(&c.device_id, &c.settings.media().unwrap())
                .contains("c=IN IP6 fd00::1")
        );
    }
}
