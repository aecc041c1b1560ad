//! Server-side request forgery guard for URLs the server itself requests: webhook
//! endpoints, and media (`imageUrl`, `fileUrl`) a transport downloads.
//!
//! Two checks, one policy ([`NetworkConfig`]):
//!
//! 1. **When a URL is accepted** ([`check_url`]): an IP literal, or every address the
//!    host name resolves to now, must be allowed; otherwise the request is refused with
//!    400 and a message naming the field and the kind of address. A refusal names the
//!    address only when the caller wrote it: for a host name it says "resolves to a
//!    private address", never which, so tenants cannot map the operator's internal DNS.
//!    A name that does not resolve at all is accepted: it cannot reach anything now, and
//!    the connection is checked again when it is made (2). This keeps requests naming
//!    hosts this server cannot resolve today (an offline sandbox) working. The lookup is
//!    bounded: at most [`MAX_LOOKUPS`] at once, each given [`LOOKUP_TIMEOUT`] (waiting for
//!    a slot included), after which the name counts as unresolved. A lookup that hangs
//!    keeps its slot until the system resolver gives up, so names whose DNS servers never
//!    answer cannot pile up blocking threads.
//! 2. **When a connection is made** ([`GuardedResolver`], the webhook client's resolver):
//!    blocked addresses are dropped from every resolution, so a name that is re-pointed
//!    at `127.0.0.1` after it was accepted (DNS rebinding) fails to connect. Redirects
//!    are not followed by the webhook client, so a public URL cannot bounce inward.
//!
//! Refused always: unspecified (`0.0.0.0` reaches the local host on Linux, `::`),
//! multicast, broadcast, documentation, discard-only and reserved ranges, and Teredo
//! (`2001::/32`, a tunnel to an IPv4 host the address only obfuscates). Refused unless
//! allowed: loopback, private (with IPv6 site-local `fec0::/10`), link-local and cloud
//! metadata addresses. IPv4 embedded in IPv6 (mapped `::ffff:a.b.c.d`, SIIT
//! `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96` and the local-use `64:ff9b:1::/96`, 6to4
//! `2002::/16`) is judged as the IPv4 address it reaches; the rest of the local-use NAT64
//! prefix `64:ff9b:1::/48` counts as private, since its translation is the operator's own.
//!
//! Loopback is refused unless [`NetworkConfig::allow_loopback`] says otherwise; `launch`
//! settles an unset value to "allowed" only on a development server (`default_engine =
//! "sandbox"`) that itself listens on loopback. See `docs/security.md`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use sevenoways_sdk::Content;
use tokio::sync::Semaphore;

use crate::config::NetworkConfig;
use crate::error::ApiError;

/// How long acceptance waits for a name to resolve (a free lookup slot included) before
/// accepting it unresolved.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// Acceptance-time lookups in flight at once, across the process. Each runs
/// `getaddrinfo` on a blocking thread that cannot be cancelled; the cap bounds how many
/// of those threads names with silent DNS servers can hold.
pub const MAX_LOOKUPS: usize = 16;

static LOOKUP_SLOTS: Semaphore = Semaphore::const_new(MAX_LOOKUPS);

/// What kind of address a request would reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrClass {
    /// Reachable on the internet.
    Public,
    /// This host.
    Loopback,
    /// A private network.
    Private,
    /// Link-local.
    LinkLocal,
    /// A cloud provider's instance metadata service.
    Metadata,
    /// Never a destination (unspecified, multicast, broadcast, reserved, documentation).
    Forbidden,
}

impl fmt::Display for AddrClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Public => "public",
            Self::Loopback => "loopback",
            Self::Private => "private-network",
            Self::LinkLocal => "link-local",
            Self::Metadata => "cloud metadata",
            Self::Forbidden => "reserved",
        })
    }
}

/// The kind of an address.
pub fn classify(ip: IpAddr) -> AddrClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddrClass {
    let o = ip.octets();
    if matches!(
        o,
        [169, 254, 169, 254] | [169, 254, 170, 2] | [100, 100, 100, 200] | [192, 0, 0, 192]
    ) {
        return AddrClass::Metadata;
    }
    match o {
        [127, ..] => AddrClass::Loopback,
        [0, ..] => AddrClass::Forbidden,
        [10, ..] | [192, 168, ..] => AddrClass::Private,
        [172, b, ..] if (16..32).contains(&b) => AddrClass::Private,
        [100, b, ..] if (64..128).contains(&b) => AddrClass::Private,
        [169, 254, ..] => AddrClass::LinkLocal,
        // IETF protocol assignments, documentation, benchmarking, multicast, reserved
        // and broadcast.
        [192, 0, 0, _] | [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => {
            AddrClass::Forbidden
        }
        [198, b, ..] if b == 18 || b == 19 => AddrClass::Forbidden,
        [a, ..] if a >= 224 => AddrClass::Forbidden,
        _ => AddrClass::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddrClass {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return AddrClass::Metadata;
    }
    if ip.is_loopback() {
        return AddrClass::Loopback;
    }
    let embedded = |hi: u16, lo: u16| classify_v4(Ipv4Addr::from(((hi as u32) << 16) | lo as u32));
    match s {
        [0, 0, 0, 0, 0, 0, 0, 0] => AddrClass::Forbidden,
        // NAT64 well-known prefix: the last 32 bits are the IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => embedded(hi, lo),
        // RFC 8215 local-use NAT64 in its /96 form: the same. Read under any shorter
        // prefix such an address would embed a 0.x.x.x address, which is refused anyway.
        [0x64, 0xff9b, 1, 0, 0, 0, hi, lo] => embedded(hi, lo),
        // The rest of 64:ff9b:1::/48: the operator's own translation, whose prefix length
        // (and so the IPv4 address reached) cannot be read from the address.
        [0x64, 0xff9b, 1, ..] => AddrClass::Private,
        // SIIT IPv4-translated addresses (RFC 7915): ::ffff:0:a.b.c.d.
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => embedded(hi, lo),
        // 6to4: bits 16..48 are the IPv4 address.
        [0x2002, hi, lo, ..] => embedded(hi, lo),
        // Teredo: a tunnel through a relay to an IPv4 host the address only obfuscates.
        [0x2001, 0, ..] => AddrClass::Forbidden,
        // Deprecated IPv4-compatible addresses (::a.b.c.d).
        [0, 0, 0, 0, 0, 0, hi, lo] => embedded(hi, lo),
        // Discard-only (RFC 6666).
        [0x100, 0, 0, 0, ..] => AddrClass::Forbidden,
        [a, ..] if a & 0xfe00 == 0xfc00 => AddrClass::Private,
        // Site-local: deprecated (RFC 3879), still a private network where it is used.
        [a, ..] if a & 0xffc0 == 0xfec0 => AddrClass::Private,
        [a, ..] if a & 0xffc0 == 0xfe80 => AddrClass::LinkLocal,
        [a, ..] if a & 0xff00 == 0xff00 => AddrClass::Forbidden,
        [0x2001, 0x0db8, ..] => AddrClass::Forbidden,
        _ => AddrClass::Public,
    }
}

/// Whether the policy lets the server connect to an address of this kind.
pub fn allowed(policy: &NetworkConfig, class: AddrClass) -> bool {
    match class {
        AddrClass::Public => true,
        // Unset means refused: only `launch` may open it, for a development server.
        AddrClass::Loopback => policy.allow_loopback.unwrap_or(false),
        AddrClass::Private => policy.allow_private,
        AddrClass::LinkLocal => policy.allow_link_local,
        AddrClass::Metadata => policy.allow_metadata,
        AddrClass::Forbidden => false,
    }
}

/// A URL the policy refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The request field (`url`, `imageUrl`, `fileUrl`).
    pub field: &'static str,
    /// The host as written.
    pub host: String,
    /// The address it reaches.
    pub addr: IpAddr,
    /// Its kind.
    pub class: AddrClass,
}

impl Refused {
    /// The `[network]` key that would allow this address, if any may.
    fn setting(&self) -> Option<&'static str> {
        match self.class {
            AddrClass::Loopback => Some("allow_loopback"),
            AddrClass::Private => Some("allow_private"),
            AddrClass::LinkLocal => Some("allow_link_local"),
            AddrClass::Metadata => Some("allow_metadata"),
            AddrClass::Public | AddrClass::Forbidden => None,
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let literal = self.host.trim_matches(['[', ']']) == self.addr.to_string();
        // The caller wrote a literal address and may see it again; what a name resolves
        // to is the operator's to know, so only its kind is told.
        let what = match (literal, self.class) {
            (true, class) => format!("{} is a {class} address", self.host),
            (false, AddrClass::Forbidden) => {
                format!("host {:?} resolves to a reserved address", self.host)
            }
            (false, class) => format!(
                "host {:?} resolves to a private address ({class})",
                self.host
            ),
        };
        match self.setting() {
            Some(key) => write!(
                f,
                "{}: refused: {what}; the server only sends requests to public addresses \
                 (its operator can allow {} addresses with [network] {key} = true)",
                self.field, self.class
            ),
            None => write!(
                f,
                "{}: refused: {what}, which the server never sends requests to",
                self.field
            ),
        }
    }
}

impl From<Refused> for ApiError {
    fn from(r: Refused) -> Self {
        ApiError::BadRequest(r.to_string())
    }
}

fn check_ip(
    policy: &NetworkConfig,
    field: &'static str,
    host: &str,
    ip: IpAddr,
) -> Result<(), Refused> {
    let class = classify(ip);
    if allowed(policy, class) {
        Ok(())
    } else {
        Err(Refused {
            field,
            host: host.to_owned(),
            addr: ip,
            class,
        })
    }
}

/// Checks a URL when it is accepted (see the module docs). `raw` has already been
/// validated as an http(s) URL by the SDK type; anything unparsable is left to that.
pub async fn check_url(
    policy: &NetworkConfig,
    field: &'static str,
    raw: &str,
) -> Result<(), Refused> {
    let Ok(url) = url::Url::parse(raw) else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(80);
    match url.host() {
        Some(url::Host::Ipv4(ip)) => check_ip(policy, field, &ip.to_string(), ip.into()),
        Some(url::Host::Ipv6(ip)) => check_ip(policy, field, &format!("[{ip}]"), ip.into()),
        Some(url::Host::Domain(name)) => {
            let lower = name.trim_end_matches('.').to_ascii_lowercase();
            // RFC 6761: localhost names are loopback whatever a resolver says.
            if lower == "localhost" || lower.ends_with(".localhost") {
                return check_ip(policy, field, name, Ipv4Addr::LOCALHOST.into());
            }
            let lookup = async move {
                let addrs = tokio::net::lookup_host((lower.as_str(), port)).await?;
                Ok(addrs.map(|a| a.ip()).collect())
            };
            // Unresolvable now (or not within the time): nothing to reach; checked again
            // at connect time.
            for ip in bounded_lookup(&LOOKUP_SLOTS, LOOKUP_TIMEOUT, lookup)
                .await
                .unwrap_or_default()
            {
                check_ip(policy, field, name, ip)?;
            }
            Ok(())
        }
        None => Ok(()),
    }
}

/// Runs `lookup` in a task of its own holding one of `slots`, and waits for it (and for a
/// free slot) at most `limit`. `None` when it failed or took too long. The task keeps its
/// slot until the lookup really ends, because the blocking thread under it cannot be
/// stopped: hung lookups fill the slots rather than the blocking pool.
async fn bounded_lookup<F>(
    slots: &'static Semaphore,
    limit: Duration,
    lookup: F,
) -> Option<Vec<IpAddr>>
where
    F: std::future::Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'static,
{
    let run = async move {
        let slot = slots.acquire().await.ok()?;
        let task = tokio::spawn(async move {
            let _slot = slot;
            lookup.await
        });
        task.await.ok()?.ok()
    };
    tokio::time::timeout(limit, run).await.ok().flatten()
}

/// Checks the media URL of a message, if it has one.
pub async fn check_content(policy: &NetworkConfig, content: &Content) -> Result<(), Refused> {
    match content {
        Content::Image { image_url, .. } => check_url(policy, "imageUrl", image_url.as_str()).await,
        Content::Document { file_url, .. } => check_url(policy, "fileUrl", file_url.as_str()).await,
        _ => Ok(()),
    }
}

/// An IP-literal URL's address check at connect time (resolvers never see literals).
pub fn check_literal(policy: &NetworkConfig, url: &url::Url) -> Result<(), Refused> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => check_ip(policy, "url", &ip.to_string(), ip.into()),
        Some(url::Host::Ipv6(ip)) => check_ip(policy, "url", &format!("[{ip}]"), ip.into()),
        Some(url::Host::Domain(name)) => {
            let lower = name.trim_end_matches('.').to_ascii_lowercase();
            if lower == "localhost" || lower.ends_with(".localhost") {
                check_ip(policy, "url", name, Ipv4Addr::LOCALHOST.into())
            } else {
                Ok(())
            }
        }
        None => Ok(()),
    }
}

/// The webhook client's DNS resolver: the system resolver, minus every address the
/// policy refuses. A name with nothing left fails to connect with a message saying why.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: NetworkConfig,
}

impl GuardedResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: NetworkConfig) -> Arc<Self> {
        Arc::new(Self { policy })
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| match check_ip(&policy, "url", &host, a.ip()) {
                    Ok(()) => true,
                    Err(r) => {
                        refused.get_or_insert(r);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let msg = match refused {
                    Some(r) => r.to_string(),
                    None => format!("host {host:?} has no addresses"),
                };
                return Err(msg.into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddrClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn classifies_addresses() {
        for (addr, want) in [
            ("8.8.8.8", AddrClass::Public),
            ("93.184.216.34", AddrClass::Public),
            ("127.0.0.1", AddrClass::Loopback),
            ("127.9.9.9", AddrClass::Loopback),
            ("10.1.2.3", AddrClass::Private),
            ("172.16.0.1", AddrClass::Private),
            ("172.31.255.255", AddrClass::Private),
            ("172.32.0.1", AddrClass::Public),
            ("192.168.1.1", AddrClass::Private),
            ("100.64.0.1", AddrClass::Private),
            ("169.254.1.1", AddrClass::LinkLocal),
            ("169.254.169.254", AddrClass::Metadata),
            ("100.100.100.200", AddrClass::Metadata),
            ("0.0.0.0", AddrClass::Forbidden),
            ("255.255.255.255", AddrClass::Forbidden),
            ("224.0.0.1", AddrClass::Forbidden),
            ("192.0.2.10", AddrClass::Forbidden),
            ("::1", AddrClass::Loopback),
            ("::", AddrClass::Forbidden),
            ("::ffff:127.0.0.1", AddrClass::Loopback),
            ("::ffff:10.0.0.1", AddrClass::Private),
            ("::ffff:169.254.169.254", AddrClass::Metadata),
            ("64:ff9b::a00:1", AddrClass::Private),
            ("2002:7f00:1::", AddrClass::Loopback),
            ("fd00:ec2::254", AddrClass::Metadata),
            ("fd12:3456::1", AddrClass::Private),
            ("fe80::1", AddrClass::LinkLocal),
            ("ff02::1", AddrClass::Forbidden),
            ("2001:db8::1", AddrClass::Forbidden),
            ("2606:4700:4700::1111", AddrClass::Public),
        ] {
            assert_eq!(class(addr), want, "{addr}");
        }
    }

    /// The audit's gaps (F17): IPv4 reached through SIIT, local-use NAT64, site-local
    /// and Teredo.
    #[test]
    fn classifies_translated_and_tunnelled_addresses() {
        for (addr, want) in [
            // SIIT (RFC 6145/7915): ::ffff:0:a.b.c.d is the IPv4 address a.b.c.d.
            ("::ffff:0:7f00:1", AddrClass::Loopback),
            ("::ffff:0:a9fe:a9fe", AddrClass::Metadata),
            ("::ffff:0:808:808", AddrClass::Public),
            // RFC 8215 local-use NAT64, /96 form: judged by the IPv4 address it carries.
            ("64:ff9b:1::a9fe:a9fe", AddrClass::Metadata),
            ("64:ff9b:1::7f00:1", AddrClass::Loopback),
            // Any other form of that prefix is a local translation we cannot read.
            ("64:ff9b:1::808:808", AddrClass::Public),
            ("64:ff9b:1:2:3::808:808", AddrClass::Private),
            // Deprecated site-local.
            ("fec0::1", AddrClass::Private),
            ("feff::1", AddrClass::Private),
            // Teredo tunnels out of the policy's view.
            ("2001::1", AddrClass::Forbidden),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", AddrClass::Forbidden),
            // Neighbours of those ranges keep their own class.
            ("2001:4860:4860::8888", AddrClass::Public),
            ("64:ff9b:2::1", AddrClass::Public),
            // Discard-only.
            ("100::1", AddrClass::Forbidden),
        ] {
            assert_eq!(class(addr), want, "{addr}");
        }
    }

    #[tokio::test]
    async fn refuses_by_policy_with_a_clear_message() {
        // Unset, loopback is refused: only `launch` opens it, on a development server.
        let strict = NetworkConfig::default();
        let dev = NetworkConfig {
            allow_loopback: Some(true),
            ..NetworkConfig::default()
        };
        let err = check_url(&strict, "url", "http://127.0.0.1:3000/hook")
            .await
            .unwrap_err();
        assert_eq!(err.class, AddrClass::Loopback);
        assert!(
            err.to_string()
                .starts_with("url: refused: 127.0.0.1 is a loopback address"),
            "{err}"
        );
        assert!(
            err.to_string().contains("[network] allow_loopback"),
            "{err}"
        );
        let err = check_url(&strict, "url", "http://localhost:3000/hook")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("url: refused: host \"localhost\" resolves to a private address"),
            "{err}"
        );
        assert!(
            check_url(&dev, "url", "http://127.0.0.1:3000/hook")
                .await
                .is_ok()
        );
        assert!(
            check_url(&dev, "url", "http://[::1]:3000/hook")
                .await
                .is_ok()
        );
        // Metadata stays refused even with link-local and private allowed.
        let open = NetworkConfig {
            allow_private: true,
            allow_link_local: true,
            ..dev
        };
        let err = check_url(
            &open,
            "imageUrl",
            "http://169.254.169.254/latest/meta-data/",
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("imageUrl: refused: 169.254.169.254 is a cloud metadata address")
        );
        assert!(
            check_url(&open, "url", "http://10.0.0.5/hook")
                .await
                .is_ok()
        );
        assert!(
            check_url(&dev, "fileUrl", "http://10.0.0.5/a.pdf")
                .await
                .is_err()
        );
        assert!(
            check_url(&dev, "url", "http://[fd00:ec2::254]/")
                .await
                .is_err()
        );
        let err = check_url(&dev, "url", "http://0.0.0.0:8080/")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("never") && !err.contains("[network]"),
            "reserved addresses cannot be allowed: {err}"
        );
        // Names that do not resolve here are accepted (checked again at connect time).
        assert!(
            check_url(&strict, "url", "https://no-such-host.invalid/hook")
                .await
                .is_ok()
        );
    }

    /// A refused name never tells the caller what it resolved to (F12): that would map
    /// the operator's internal DNS for any tenant.
    #[test]
    fn a_refused_name_does_not_echo_its_address() {
        for (addr, kind) in [
            ("10.1.2.3", "private-network"),
            ("127.0.0.1", "loopback"),
            ("169.254.169.254", "cloud metadata"),
            ("fd12:3456::1", "private-network"),
        ] {
            let ip: IpAddr = addr.parse().unwrap();
            let refused = check_ip(&NetworkConfig::default(), "url", "db.internal.example", ip)
                .unwrap_err()
                .to_string();
            assert!(!refused.contains(addr), "{refused}");
            assert!(
                refused.starts_with(
                    "url: refused: host \"db.internal.example\" resolves to a private address"
                ),
                "{refused}"
            );
            assert!(refused.contains(kind), "{refused}");
        }
        // An address the caller wrote is theirs to see.
        let literal = check_ip(
            &NetworkConfig::default(),
            "url",
            "10.1.2.3",
            [10, 1, 2, 3].into(),
        )
        .unwrap_err()
        .to_string();
        assert!(literal.starts_with("url: refused: 10.1.2.3 is a private-network address"));
    }

    /// Lookups whose DNS server never answers end for the caller after the timeout, and
    /// can hold no more than the cap of slots however many requests bring them.
    #[tokio::test]
    async fn hung_lookups_are_bounded_in_time_and_number() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static SLOTS: Semaphore = Semaphore::const_new(2);
        static STARTED: AtomicUsize = AtomicUsize::new(0);
        let hung = || async {
            STARTED.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<std::io::Result<Vec<IpAddr>>>().await
        };
        // The limit is short so the test is quick; what it shows is that the call ends.
        let limit = Duration::from_millis(50);
        let waits: Vec<_> = (0..5)
            .map(|_| tokio::spawn(bounded_lookup(&SLOTS, limit, hung())))
            .collect();
        for wait in waits {
            assert_eq!(
                wait.await.unwrap(),
                None,
                "a hung lookup counts as unresolved"
            );
        }
        assert_eq!(
            STARTED.load(Ordering::SeqCst),
            2,
            "only the cap's worth ran"
        );
        // The hung ones keep their slots: a later lookup waits, then gives up, too.
        assert_eq!(bounded_lookup(&SLOTS, limit, hung()).await, None);
        assert_eq!(STARTED.load(Ordering::SeqCst), 2);
        // A lookup that answers in time is used.
        static FREE: Semaphore = Semaphore::const_new(1);
        let answer = bounded_lookup(&FREE, LOOKUP_TIMEOUT, async {
            Ok(vec![IpAddr::from([10, 0, 0, 1])])
        })
        .await;
        assert_eq!(answer, Some(vec![IpAddr::from([10, 0, 0, 1])]));
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        use reqwest::dns::Resolve;
        let strict = GuardedResolver::new(NetworkConfig::default());
        let err = match strict.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost must not resolve under a strict policy"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("loopback"), "{err}");
        assert!(
            !err.contains("127.0.0.1") && !err.contains("::1"),
            "the resolver's refusal (a delivery's lastError) names no address: {err}"
        );
        let dev = GuardedResolver::new(NetworkConfig {
            allow_loopback: Some(true),
            ..NetworkConfig::default()
        });
        let addrs: Vec<SocketAddr> = dev
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
