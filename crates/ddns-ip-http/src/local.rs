//! Where IPv6 requests leave from: the host's stable address, not the
//! temporary (privacy) address the kernel prefers as a source.
//!
//! The host's addresses come from a lookup the binary plugs in (ddnsd
//! gives `ddns_ip_netlink::host_ipv6_addresses`): this crate does not know
//! netlink. Before each IPv6 request the lookup is asked again, the client
//! bound to the best stable address is reused or rebuilt, and an answer
//! that is one of the host's temporary addresses is refused.

use std::fmt;
use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex, PoisonError};

use ddns_core::SourceError;
use futures_util::future::BoxFuture;
use tracing::{info, warn};

/// The host's IPv6 addresses that matter to an echo answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LocalIpv6 {
    /// Stable addresses requests may leave from, best first (global
    /// scope, not temporary, deprecated, tentative or duplicate); the
    /// first is used.
    pub stable: Vec<Ipv6Addr>,
    /// The host's temporary (privacy) addresses: an answer equal to one of
    /// them is refused.
    pub temporary: Vec<Ipv6Addr>,
}

impl LocalIpv6 {
    /// The addresses found: `stable` best first, and the temporary ones.
    pub fn new(stable: Vec<Ipv6Addr>, temporary: Vec<Ipv6Addr>) -> Self {
        Self { stable, temporary }
    }
}

/// The function behind a [`LocalIpv6Lookup`]: given the preferred
/// interfaces (`DDNS_IP_SOURCE_INTERFACE`, empty when unset), the host's
/// IPv6 addresses.
pub(crate) type LocalIpv6Fn =
    dyn Fn(&[String]) -> BoxFuture<'static, Result<LocalIpv6, SourceError>> + Send + Sync;

/// Reads the host's IPv6 addresses before each IPv6 question.
///
/// ```
/// use futures_util::FutureExt;
/// use ddns_ip_http::{LocalIpv6, LocalIpv6Lookup};
///
/// // ddnsd asks netlink (`ddns_ip_netlink::host_ipv6_addresses`).
/// let lookup = LocalIpv6Lookup::new(vec!["eth0".into()], |_interfaces: &[String]| {
///     async { Ok(LocalIpv6::new(vec!["2001:db8::1".parse().unwrap()], Vec::new())) }.boxed()
/// });
/// ```
#[derive(Clone)]
pub struct LocalIpv6Lookup {
    lookup: Arc<LocalIpv6Fn>,
    interfaces: Arc<[String]>,
}

impl fmt::Debug for LocalIpv6Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalIpv6Lookup")
            .field("interfaces", &self.interfaces)
            .finish_non_exhaustive()
    }
}

impl LocalIpv6Lookup {
    /// A lookup that prefers addresses on `interfaces` (empty: any).
    pub fn new(
        interfaces: Vec<String>,
        lookup: impl Fn(&[String]) -> BoxFuture<'static, Result<LocalIpv6, SourceError>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        Self::from_fn(interfaces, Arc::new(lookup))
    }

    pub(crate) fn from_fn(interfaces: Vec<String>, lookup: Arc<LocalIpv6Fn>) -> Self {
        Self {
            lookup,
            interfaces: interfaces.into(),
        }
    }

    /// The host's IPv6 addresses now.
    pub(crate) async fn read(&self) -> Result<LocalIpv6, SourceError> {
        (self.lookup)(&self.interfaces).await
    }
}

/// Why an answer is refused when it is one of the host's temporary
/// addresses, or `None`.
pub(crate) fn temporary_answer(answer: std::net::IpAddr, temporary: &[Ipv6Addr]) -> Option<String> {
    match answer {
        std::net::IpAddr::V6(v6) if temporary.contains(&v6) => Some(format!(
            "answered {v6}, a temporary (privacy) address of this host, which is never published"
        )),
        _ => None,
    }
}

/// Which local address IPv6 requests leave from, and what to refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ipv6Route {
    /// The stable address bound, or `None` for the kernel's choice.
    pub(crate) local: Option<Ipv6Addr>,
    /// The host's temporary addresses.
    pub(crate) temporary: Vec<Ipv6Addr>,
}

/// Keeps one bound client per chosen address, and the log state: the
/// fallback to the kernel's choice is warned about once per episode.
pub(crate) struct Ipv6Binding<C> {
    lookup: LocalIpv6Lookup,
    state: Mutex<BindState<C>>,
}

struct BindState<C> {
    /// The client bound to the address last chosen.
    bound: Option<(Ipv6Addr, C)>,
    /// A warning about the kernel's choice was logged since the last
    /// stable address.
    warned: bool,
}

impl<C: Clone> Ipv6Binding<C> {
    pub(crate) fn new(lookup: LocalIpv6Lookup) -> Self {
        Self {
            lookup,
            state: Mutex::new(BindState {
                bound: None,
                warned: false,
            }),
        }
    }

    /// Reads the host's addresses and returns the client for the best
    /// stable address (`build` makes one when it changed), or `None` for
    /// the unbound client, with the temporary addresses to refuse.
    pub(crate) async fn route<E>(
        &self,
        build: impl FnOnce(Ipv6Addr) -> Result<C, E>,
    ) -> Result<(Ipv6Route, Option<C>), E> {
        let found = self.lookup.read().await;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let local = match found {
            Ok(local) => local,
            Err(error) => {
                if !state.warned {
                    warn!(error = %error, "cannot read this host's IPv6 addresses; IPv6 requests leave from the kernel's choice of address, which may be a temporary one, so the answer may be a temporary address");
                    state.warned = true;
                }
                state.bound = None;
                let route = Ipv6Route {
                    local: None,
                    temporary: Vec::new(),
                };
                return Ok((route, None));
            }
        };
        let Some(chosen) = local.stable.first().copied() else {
            if !state.warned {
                warn!(
                    temporary = local.temporary.len(),
                    "no stable global IPv6 address on this host; IPv6 requests leave from the kernel's choice, which may be a temporary address (an answer that is one of this host's temporary addresses is refused)"
                );
                state.warned = true;
            }
            state.bound = None;
            let route = Ipv6Route {
                local: None,
                temporary: local.temporary,
            };
            return Ok((route, None));
        };
        let client = match &state.bound {
            Some((address, client)) if *address == chosen => client.clone(),
            _ => {
                let client = build(chosen)?;
                info!(address = %chosen, "IPv6 requests now leave from this stable address");
                state.bound = Some((chosen, client.clone()));
                state.warned = false;
                client
            }
        };
        let route = Ipv6Route {
            local: Some(chosen),
            temporary: local.temporary,
        };
        Ok((route, Some(client)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::convert::Infallible;

    use futures_util::FutureExt;

    use super::*;

    fn v6(text: &str) -> Ipv6Addr {
        text.parse().unwrap()
    }

    /// A lookup that returns what the test last set, and what it was given.
    struct Scripted {
        lookup: LocalIpv6Lookup,
        answer: Arc<Mutex<Result<LocalIpv6, String>>>,
        asked: Arc<Mutex<Vec<Vec<String>>>>,
    }

    fn scripted() -> Scripted {
        let answer = Arc::new(Mutex::new(Ok(LocalIpv6::default())));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let lookup = LocalIpv6Lookup::new(vec!["wan0".into()], {
            let answer = answer.clone();
            let asked = asked.clone();
            move |interfaces: &[String]| {
                asked.lock().unwrap().push(interfaces.to_vec());
                let result = answer.lock().unwrap().clone().map_err(SourceError::new);
                async move { result }.boxed()
            }
        });
        Scripted {
            lookup,
            answer,
            asked,
        }
    }

    /// A log writer the test can read.
    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Logs {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Logs {
        fn count(&self, needle: &str) -> usize {
            String::from_utf8_lossy(&self.0.lock().unwrap())
                .matches(needle)
                .count()
        }
    }

    #[tokio::test]
    async fn a_client_is_built_per_chosen_address_and_reused() {
        let Scripted {
            lookup,
            answer,
            asked,
        } = scripted();
        let binding: Ipv6Binding<Ipv6Addr> = Ipv6Binding::new(lookup);
        let builds = Mutex::new(0);
        let build = |address: Ipv6Addr| {
            *builds.lock().unwrap() += 1;
            Ok::<_, Infallible>(address)
        };
        *answer.lock().unwrap() = Ok(LocalIpv6::new(
            vec![v6("2a01:db8::1"), v6("2a01:db8::2")],
            vec![v6("2a01:db8::7e3")],
        ));
        for _ in 0..3 {
            let (route, client) = binding.route(build).await.unwrap();
            assert_eq!(
                route,
                Ipv6Route {
                    local: Some(v6("2a01:db8::1")),
                    temporary: vec![v6("2a01:db8::7e3")],
                }
            );
            assert_eq!(client, Some(v6("2a01:db8::1")));
        }
        assert_eq!(*builds.lock().unwrap(), 1, "the bound client is reused");
        assert_eq!(asked.lock().unwrap().len(), 3, "asked before each request");
        assert_eq!(asked.lock().unwrap()[0], ["wan0"]);

        // The best address changed: a new client.
        *answer.lock().unwrap() = Ok(LocalIpv6::new(vec![v6("2a01:db8::2")], Vec::new()));
        let (route, client) = binding.route(build).await.unwrap();
        assert_eq!(route.local, Some(v6("2a01:db8::2")));
        assert_eq!(client, Some(v6("2a01:db8::2")));
        assert_eq!(*builds.lock().unwrap(), 2);
    }

    #[tokio::test]
    async fn without_a_stable_address_the_kernel_chooses_and_temporaries_are_still_refused() {
        let Scripted { lookup, answer, .. } = scripted();
        let binding: Ipv6Binding<Ipv6Addr> = Ipv6Binding::new(lookup);
        let build = |address: Ipv6Addr| Ok::<_, Infallible>(address);
        *answer.lock().unwrap() = Ok(LocalIpv6::new(Vec::new(), vec![v6("2a01:db8::7e3")]));
        let (route, client) = binding.route(build).await.unwrap();
        assert_eq!(route.local, None);
        assert_eq!(route.temporary, [v6("2a01:db8::7e3")]);
        assert_eq!(client, None);

        *answer.lock().unwrap() = Err("netlink is gone".into());
        let (route, client) = binding.route(build).await.unwrap();
        assert_eq!((route.local, client), (None, None));
        assert!(route.temporary.is_empty());
    }

    #[tokio::test]
    async fn the_fallback_to_the_kernel_s_choice_is_warned_about_once_per_episode() {
        let logs = Logs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer({
                let logs = logs.clone();
                move || logs.clone()
            })
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let Scripted { lookup, answer, .. } = scripted();
        let binding: Ipv6Binding<Ipv6Addr> = Ipv6Binding::new(lookup);
        let build = |address: Ipv6Addr| Ok::<_, Infallible>(address);
        let fallback = "no stable global IPv6 address on this host";
        let bound = "IPv6 requests now leave from this stable address";
        *answer.lock().unwrap() = Ok(LocalIpv6::new(Vec::new(), vec![v6("2a01:db8::7e3")]));
        for _ in 0..3 {
            binding.route(build).await.unwrap();
        }
        assert_eq!(logs.count(fallback), 1, "warned once, not per request");
        assert_eq!(logs.count(" WARN "), 1);

        *answer.lock().unwrap() = Ok(LocalIpv6::new(vec![v6("2a01:db8::1")], Vec::new()));
        binding.route(build).await.unwrap();
        binding.route(build).await.unwrap();
        assert_eq!(logs.count(bound), 1, "said once when bound");

        // The address goes away again: a new episode, a new warning.
        *answer.lock().unwrap() = Ok(LocalIpv6::default());
        binding.route(build).await.unwrap();
        assert_eq!(logs.count(fallback), 2);
        *answer.lock().unwrap() = Err("netlink is gone".into());
        binding.route(build).await.unwrap();
        assert_eq!(
            logs.count("cannot read this host's IPv6 addresses"),
            0,
            "already warned in this episode"
        );
    }

    #[test]
    fn an_answer_that_is_a_temporary_address_is_refused() {
        let temporary = [v6("2a01:db8::7e3")];
        assert_eq!(
            temporary_answer("2a01:db8::7e3".parse().unwrap(), &temporary).unwrap(),
            "answered 2a01:db8::7e3, a temporary (privacy) address of this host, which is never published"
        );
        assert_eq!(
            temporary_answer("2a01:db8::1".parse().unwrap(), &temporary),
            None
        );
        assert_eq!(
            temporary_answer("203.0.113.9".parse().unwrap(), &temporary),
            None
        );
    }
}
