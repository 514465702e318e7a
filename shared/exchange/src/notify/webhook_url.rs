//! Where a webhook may go (server-side request forgery): a subscriber's URL is attacker input,
//! and the webhook function runs inside the operator's network, beside the instance metadata
//! service and the Lambda Runtime API.
//!
//! The rules, checked when a subscription is added **and again at every delivery**, and for
//! every address a host name resolves to (the webhook client's resolver calls
//! [`address_allowed`] on what DNS returned, so a name that resolves inside is refused too):
//!
//! - the URL is parsed as HTTP clients parse it (the `url` crate, WHATWG rules: decimal, octal
//!   and hexadecimal IPv4 forms such as `http://2852039166/`, `http://0251.0376.0251.0376/` or
//!   `http://0xa9fea9fe/` become `169.254.169.254` before they are checked);
//! - `https://` only; plain `http://` only to loopback and only when the local-run setting is
//!   on (`ECITES_ALLOW_LOOPBACK_WEBHOOKS=1`, never set by `infra/template.yaml`);
//! - no user information (`http://127.0.0.1:80@elsewhere/` is refused, whichever side a client
//!   would take as the host);
//! - no address in private (RFC 1918), shared (RFC 6598), loopback (unless local-run), link-local
//!   (169.254/16 with the metadata service, fe80::/10), unique-local (fc00::/7 with the metadata
//!   service's `fd00:ec2::254`), unspecified, broadcast, multicast, documentation or reserved
//!   ranges, nor such an IPv4 address inside IPv6 (mapped `::ffff:a.b.c.d`, compatible, NAT64
//!   `64:ff9b::/96`, 6to4 `2002::/16`);
//! - no internal DNS names: `localhost` and `*.localhost` (unless local-run), single-label names,
//!   `*.internal`, `*.local`, `*.localdomain`, `*.home.arpa`, `*.in-addr.arpa`, `*.ip6.arpa`;
//! - never the Lambda Runtime API's port (`AWS_LAMBDA_RUNTIME_API`, 9001 by default) on a
//!   loopback address, even in local runs;
//! - redirects are never followed: a 3xx answer is a failed delivery.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// The environment variable that lets webhooks reach loopback over plain HTTP (local runs and
/// tests only; the template never sets it).
pub const ALLOW_LOOPBACK_ENV: &str = "ECITES_ALLOW_LOOPBACK_WEBHOOKS";

/// Where a webhook may go: whether loopback is allowed (local runs) and the Lambda Runtime API's
/// port, refused on loopback whatever the setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookPolicy {
    /// Loopback subscribers allowed (plain HTTP included): local runs only.
    pub allow_loopback: bool,
    /// The Lambda Runtime API port (from `AWS_LAMBDA_RUNTIME_API`, default 9001).
    pub runtime_api_port: u16,
}

impl Default for WebhookPolicy {
    /// Production: no loopback, Runtime API on 9001.
    fn default() -> Self {
        WebhookPolicy {
            allow_loopback: false,
            runtime_api_port: 9001,
        }
    }
}

impl WebhookPolicy {
    /// From the environment: [`ALLOW_LOOPBACK_ENV`] (`1` or `true`) and `AWS_LAMBDA_RUNTIME_API`
    /// (`host:port`).
    pub fn from_env() -> Self {
        let allow_loopback = std::env::var(ALLOW_LOOPBACK_ENV)
            .map(|v| matches!(v.trim(), "1" | "true"))
            .unwrap_or(false);
        let runtime_api_port = std::env::var("AWS_LAMBDA_RUNTIME_API")
            .ok()
            .and_then(|v| v.rsplit_once(':').and_then(|(_, p)| p.parse().ok()))
            .unwrap_or(9001);
        WebhookPolicy {
            allow_loopback,
            runtime_api_port,
        }
    }

    /// A policy for local runs (loopback subscribers allowed).
    pub fn local() -> Self {
        WebhookPolicy {
            allow_loopback: true,
            ..WebhookPolicy::default()
        }
    }
}

fn v4_allowed(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        return allow_loopback;
    }
    !(ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (RFC 6598)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

/// The IPv4 address an IPv6 address carries, if it carries one (mapped, compatible, NAT64,
/// 6to4).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(tail); // IPv4-compatible (deprecated)
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(tail); // NAT64
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        )); // 6to4
    }
    None
}

/// True when a webhook may connect to `ip`: a public unicast address (or loopback when
/// `allow_loopback`). The rules are in the module documentation.
pub fn address_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_allowed(v4, allow_loopback),
        IpAddr::V6(v6) => {
            if v6.is_loopback() {
                return allow_loopback;
            }
            if let Some(v4) = embedded_v4(v6) {
                return v4_allowed(v4, allow_loopback) && !v4.is_loopback();
            }
            let first = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7 (fd00:ec2::254)
                || (first & 0xffc0) == 0xfe80 // link local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site local (deprecated)
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
                || first == 0x0100 && v6.segments()[1..4] == [0, 0, 0]) // discard-only
        }
    }
}

/// True for names that only mean something inside a network.
fn internal_name(host: &str, allow_loopback: bool) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") {
        return !allow_loopback;
    }
    !host.contains('.')
        || [
            ".internal",
            ".local",
            ".localdomain",
            ".home.arpa",
            ".in-addr.arpa",
            ".ip6.arpa",
            ".intranet",
            ".lan",
        ]
        .iter()
        .any(|suffix| host.ends_with(suffix))
}

/// Parses and checks a subscriber's webhook URL against the rules of this module; the error
/// says which rule the URL breaks. The URL returned is the normalised one to send to (its host
/// as checked, e.g. `169.254.169.254` for `0xa9fea9fe`).
pub fn check_webhook_url(text: &str, policy: WebhookPolicy) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("webhook {text:?} is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "webhook {text:?} carries user information (user@host): refused"
        ));
    }
    let loopback_literal = match url.host() {
        None => return Err(format!("webhook {text:?} has no host")),
        Some(Host::Domain(name)) => {
            if internal_name(name, policy.allow_loopback) {
                return Err(format!(
                    "webhook {text:?} names an internal host ({name}): refused"
                ));
            }
            name.eq_ignore_ascii_case("localhost")
        }
        Some(Host::Ipv4(ip)) => {
            if !address_allowed(IpAddr::V4(ip), policy.allow_loopback) {
                return Err(format!(
                    "webhook {text:?} points at {ip}, a private, loopback, link-local or \
                     reserved address: refused"
                ));
            }
            ip.is_loopback()
        }
        Some(Host::Ipv6(ip)) => {
            if !address_allowed(IpAddr::V6(ip), policy.allow_loopback) {
                return Err(format!(
                    "webhook {text:?} points at {ip}, a private, loopback, link-local, \
                     unique-local or reserved address: refused"
                ));
            }
            ip.is_loopback()
        }
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback_literal && policy.allow_loopback => {}
        _ => {
            return Err(format!(
                "webhook {text:?} must be https:// (plain http only to loopback in local runs)"
            ))
        }
    }
    if loopback_literal && url.port_or_known_default() == Some(policy.runtime_api_port) {
        return Err(format!(
            "webhook {text:?} points at the Lambda Runtime API's port: refused"
        ));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    const PROD: WebhookPolicy = WebhookPolicy {
        allow_loopback: false,
        runtime_api_port: 9001,
    };
    const LOCAL: WebhookPolicy = WebhookPolicy {
        allow_loopback: true,
        runtime_api_port: 9001,
    };

    #[test]
    fn public_https_webhooks_pass_and_loopback_only_in_local_runs() {
        assert!(check_webhook_url("https://customs.example.org/cites", PROD).is_ok());
        assert!(check_webhook_url("https://93.184.216.34:8443/hook", PROD).is_ok());
        assert!(check_webhook_url("http://customs.example.org/cites", PROD).is_err());
        assert!(check_webhook_url("http://127.0.0.1:8080/x", PROD).is_err());
        assert!(check_webhook_url("http://127.0.0.1:8080/x", LOCAL).is_ok());
        assert!(check_webhook_url("http://[::1]:8080/x", LOCAL).is_ok());
        assert!(check_webhook_url("http://127.0.0.1:9001/2018-06-01/runtime", LOCAL).is_err());
    }

    #[test]
    fn the_documented_hostile_forms_are_refused_even_in_local_runs() {
        for url in [
            "http://127.0.0.1:80@elsewhere.example/",
            "https://user:pw@customs.example.org/",
            "https://169.254.169.254/latest/meta-data/",
            "https://2852039166/latest/meta-data/",
            "https://0251.0376.0251.0376/",
            "https://0xa9fea9fe/",
            "https://0xa9.0xfe.0xa9.0xfe/",
            "https://[::ffff:169.254.169.254]/",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://10.0.0.5/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://metadata.google.internal/",
            "https://instance-data.ec2.internal/",
            "https://metadata/",
            "https://printer.local/",
            "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
        ] {
            assert!(check_webhook_url(url, LOCAL).is_err(), "{url} passed");
            assert!(check_webhook_url(url, PROD).is_err(), "{url} passed");
        }
    }

    /// The metadata service, private and loopback addresses written in every form the URL
    /// standard accepts (dotted decimal, one decimal number, octal, hexadecimal, mixed, IPv6
    /// mapped), with and without user information, ports and paths: all refused in production.
    #[test]
    fn generated_hostile_urls_are_refused() {
        let mut runner = TestRunner::new_with_rng(
            Config {
                cases: 512,
                failure_persistence: None,
                ..Config::default()
            },
            TestRng::from_seed(RngAlgorithm::ChaCha, &[4; 32]),
        );
        let inside = prop_oneof![
            Just([169u8, 254, 169, 254]),
            Just([127, 0, 0, 1]),
            (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(b, c, d)| [10, b, c, d]),
            (16u8..32, any::<u8>(), any::<u8>()).prop_map(|(b, c, d)| [172, b, c, d]),
            (any::<u8>(), any::<u8>()).prop_map(|(c, d)| [192, 168, c, d]),
            (any::<u8>(), any::<u8>()).prop_map(|(c, d)| [169, 254, c, d]),
            (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(b, c, d)| [127, b, c, d]),
        ];
        let strategy = (
            inside,
            0..7u8,
            prop_oneof![Just("https"), Just("http")],
            proptest::option::of(1u16..),
            proptest::option::of("[a-z]{1,8}"),
            "(/[a-z0-9]{0,8}){0,3}",
        );
        runner
            .run(&strategy, |(ip, form, scheme, port, user, path)| {
                let [a, b, c, d] = ip;
                let n = u32::from_be_bytes(ip);
                let host = match form {
                    0 => format!("{a}.{b}.{c}.{d}"),
                    1 => n.to_string(),
                    2 => format!("0{a:o}.0{b:o}.0{c:o}.0{d:o}"),
                    3 => format!("0x{n:x}"),
                    4 => format!("0x{a:x}.0x{b:x}.0x{c:x}.0x{d:x}"),
                    5 => format!(
                        "{a}.{}",
                        (u32::from(b) << 16) | (u32::from(c) << 8) | u32::from(d)
                    ),
                    _ => format!("[::ffff:{a}.{b}.{c}.{d}]"),
                };
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                let user = user.map(|u| format!("{u}@")).unwrap_or_default();
                let url = format!("{scheme}://{user}{host}{port}{path}");
                prop_assert!(check_webhook_url(&url, PROD).is_err(), "{} passed", url);
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn resolved_addresses_are_judged_like_literals() {
        for ip in [
            "169.254.169.254",
            "10.1.2.3",
            "fd00:ec2::254",
            "::ffff:10.0.0.1",
            "::",
        ] {
            assert!(!address_allowed(ip.parse().unwrap(), true), "{ip}");
        }
        assert!(!address_allowed("127.0.0.1".parse().unwrap(), false));
        assert!(address_allowed("127.0.0.1".parse().unwrap(), true));
        assert!(address_allowed("93.184.216.34".parse().unwrap(), false));
        assert!(address_allowed("2606:2800:220:1::".parse().unwrap(), false));
    }
}
