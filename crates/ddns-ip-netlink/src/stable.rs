//! The host's IPv6 addresses as an echo service would see them: which
//! stable addresses a request may leave from, and which addresses are
//! temporary (privacy) ones that must never be published.
//!
//! Over IPv6 the kernel prefers a temporary address as the source of a new
//! connection (`use_tempaddr=2`), so an echo service asked without care
//! reports an address that changes every day. A caller binds its socket to
//! [`HostIpv6Addresses::stable`]`[0]` instead, and refuses an answer that is
//! one of [`HostIpv6Addresses::temporary`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

use ddns_core::{AddressCandidate, SourceError, classify};
use netlink_packet_route::RouteNetlinkMessage;

use crate::DEFAULT_RECEIVE_BUFFER;
use crate::kernel::{Kernel, RouteSocket};
use crate::translate::{self, Link};

/// The host's IPv6 addresses that matter to an echo service's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostIpv6Addresses {
    /// Stable addresses a request may leave from, best first: global
    /// scope, not temporary, not deprecated (preferred lifetime over), not
    /// tentative, no failed duplicate address detection, not on a loopback
    /// interface. Globally routable addresses come before others (unique
    /// local, documentation), addresses on the preferred interfaces before
    /// the rest, then the lower address. An address outside the globally
    /// routable ranges is listed only when the host has no globally
    /// routable IPv6 address at all, temporary ones included: a request
    /// from it would not reach the services the routable ones reach.
    pub stable: Vec<Ipv6Addr>,
    /// Every temporary (privacy) address of the host, whatever its state.
    pub temporary: Vec<Ipv6Addr>,
}

/// Reads the host's IPv6 addresses over netlink (one dump of links and
/// addresses) and sorts them as [`HostIpv6Addresses`] says. Addresses on
/// `preferred` interfaces (by name) come first among equals; empty means
/// no preference.
///
/// ```no_run
/// # async fn demo() -> Result<(), ddns_core::SourceError> {
/// let found = ddns_ip_netlink::host_ipv6_addresses(&["eth0".to_string()]).await?;
/// match found.stable.first() {
///     Some(stable) => println!("ask from {stable}"),
///     None => println!("no stable address; temporary ones: {:?}", found.temporary),
/// }
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// When no netlink socket can be opened or the dump fails; it needs a
/// tokio runtime.
pub async fn host_ipv6_addresses(preferred: &[String]) -> Result<HostIpv6Addresses, SourceError> {
    let socket = RouteSocket {
        receive_buffer: DEFAULT_RECEIVE_BUFFER,
        routes: false,
    };
    lookup(&socket, preferred).await
}

/// [`host_ipv6_addresses`] with any kernel.
pub(crate) async fn lookup<K: Kernel>(
    kernel: &K,
    preferred: &[String],
) -> Result<HostIpv6Addresses, SourceError> {
    let dump = kernel.dump().await?;
    Ok(sort(candidates(&dump), preferred))
}

/// The IPv6 addresses of a dump, with the names of their interfaces.
fn candidates(dump: &[RouteNetlinkMessage]) -> Vec<AddressCandidate> {
    let links: HashMap<u32, Link> = dump
        .iter()
        .filter_map(|message| match message {
            RouteNetlinkMessage::NewLink(link) => Some(translate::link(link)),
            _ => None,
        })
        .collect();
    dump.iter()
        .filter_map(|message| match message {
            RouteNetlinkMessage::NewAddress(address) => {
                translate::candidate(address, links.get(&address.header.index))
            }
            _ => None,
        })
        .filter(|candidate| candidate.address.is_ipv6())
        .collect()
}

/// Splits and orders candidates (pure: the rules of [`HostIpv6Addresses`]).
pub(crate) fn sort(candidates: Vec<AddressCandidate>, preferred: &[String]) -> HostIpv6Addresses {
    let v6 = |address: IpAddr| match address {
        IpAddr::V6(v6) => Some(v6),
        IpAddr::V4(_) => None,
    };
    let mut temporary: Vec<Ipv6Addr> = candidates
        .iter()
        .filter(|c| c.temporary)
        .filter_map(|c| v6(c.address))
        .collect();
    temporary.sort_unstable();
    temporary.dedup();

    let usable = |c: &&AddressCandidate| {
        c.scope_global
            && !c.loopback_interface
            && !c.temporary
            && !c.deprecated
            && !c.tentative
            && !c.dad_failed
    };
    let routable = |address: Ipv6Addr| classify(IpAddr::V6(address)).is_global();
    let any_routable = temporary.iter().any(|a| routable(*a))
        || candidates
            .iter()
            .filter(usable)
            .filter_map(|c| v6(c.address))
            .any(routable);
    let mut stable: Vec<(bool, bool, Ipv6Addr)> = candidates
        .iter()
        .filter(usable)
        .filter_map(|c| {
            let address = v6(c.address)?;
            let on_preferred = preferred.contains(&c.interface);
            // false sorts first: routable, then on a preferred interface.
            Some((!routable(address), !on_preferred, address))
        })
        .filter(|(unroutable, _, _)| !(any_routable && *unroutable))
        .collect();
    stable.sort_unstable();
    let mut ordered: Vec<Ipv6Addr> = Vec::with_capacity(stable.len());
    for (_, _, address) in stable {
        // One address on two interfaces counts once, at its best rank.
        if !ordered.contains(&address) {
            ordered.push(address);
        }
    }
    HostIpv6Addresses {
        stable: ordered,
        temporary,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use netlink_packet_route::address::{AddressAttribute, AddressFlags, CacheInfo};
    use netlink_packet_route::link::LinkFlags;

    use super::*;
    use crate::testing::{FakeKernel, address_message, link_message, new_address, new_link};

    fn v6(text: &str) -> Ipv6Addr {
        text.parse().unwrap()
    }

    fn candidate(address: &str, interface: &str) -> AddressCandidate {
        AddressCandidate::new(IpAddr::V6(v6(address)), 2, interface)
    }

    fn temporary(address: &str) -> AddressCandidate {
        let mut candidate = candidate(address, "eth0");
        candidate.temporary = true;
        candidate
    }

    #[test]
    fn temporary_deprecated_tentative_failed_and_local_scope_addresses_are_not_stable() {
        let mut deprecated = candidate("2a01:db8::d", "eth0");
        deprecated.deprecated = true;
        let mut tentative = candidate("2a01:db8::e", "eth0");
        tentative.tentative = true;
        let mut failed = candidate("2a01:db8::f", "eth0");
        failed.dad_failed = true;
        let mut link_scope = candidate("2a01:db8::10", "eth0");
        link_scope.scope_global = false;
        let mut on_loopback = candidate("2a01:db8::11", "lo");
        on_loopback.loopback_interface = true;
        let found = sort(
            vec![
                temporary("2a01:db8::7e3"),
                deprecated,
                tentative,
                failed,
                link_scope,
                on_loopback,
                candidate("2a01:db8::1", "eth0"),
            ],
            &[],
        );
        assert_eq!(found.stable, [v6("2a01:db8::1")]);
        assert_eq!(found.temporary, [v6("2a01:db8::7e3")]);
    }

    #[test]
    fn a_deprecated_temporary_address_is_still_temporary() {
        let mut old = temporary("2a01:db8::7e4");
        old.deprecated = true;
        let found = sort(vec![old, temporary("2a01:db8::7e3")], &[]);
        assert_eq!(found.temporary, [v6("2a01:db8::7e3"), v6("2a01:db8::7e4")]);
        assert!(found.stable.is_empty(), "{found:?}");
    }

    #[test]
    fn routable_addresses_come_first_then_preferred_interfaces_then_the_lower() {
        let found = sort(
            vec![
                candidate("2a01:db8::9", "eth1"),
                candidate("fd00::1", "eth0"),
                candidate("2a01:db8::5", "eth1"),
                candidate("2a01:db8::7", "eth0"),
            ],
            &["eth0".to_string()],
        );
        assert_eq!(
            found.stable,
            [v6("2a01:db8::7"), v6("2a01:db8::5"), v6("2a01:db8::9")],
            "the unique-local address is left out while a routable one exists"
        );
        let unpreferred = sort(
            vec![
                candidate("2a01:db8::9", "eth1"),
                candidate("2a01:db8::7", "eth0"),
            ],
            &[],
        );
        assert_eq!(unpreferred.stable, [v6("2a01:db8::7"), v6("2a01:db8::9")]);
    }

    #[test]
    fn an_unroutable_stable_address_counts_only_without_any_routable_one() {
        // A lab with documentation and unique-local addresses only.
        let lab = sort(
            vec![
                candidate("2001:db8:1::1", "v0"),
                candidate("fd00::1", "v0"),
                temporary("2001:db8:1::7e3"),
            ],
            &[],
        );
        assert_eq!(lab.stable, [v6("2001:db8:1::1"), v6("fd00::1")]);
        // A routable temporary address and a unique-local stable one: a
        // request bound to the latter would not go where the former goes.
        let mixed = sort(
            vec![candidate("fd00::1", "eth0"), temporary("2a01:db8::7e3")],
            &[],
        );
        assert!(mixed.stable.is_empty(), "{mixed:?}");
        assert_eq!(mixed.temporary, [v6("2a01:db8::7e3")]);
    }

    #[test]
    fn an_address_on_two_interfaces_is_listed_once() {
        let found = sort(
            vec![
                candidate("2a01:db8::1", "eth1"),
                candidate("2a01:db8::1", "eth0"),
            ],
            &[],
        );
        assert_eq!(found.stable, [v6("2a01:db8::1")]);
    }

    /// The kernel's flags, from a dump: IFA_F_SECONDARY in the header is
    /// IFA_F_TEMPORARY for IPv6, IFA_FLAGS holds the rest, and a preferred
    /// lifetime of 0 is deprecation.
    #[tokio::test]
    async fn a_dump_is_read_with_the_kernel_flags_and_link_names() {
        let mut temporary = address_message(3, "2a01:db8::7e3");
        temporary
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Secondary));
        let mut stable = address_message(3, "2a01:db8::1");
        stable
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Managetempaddr));
        let mut expired = address_message(3, "2a01:db8::2");
        let mut lifetimes = CacheInfo::default();
        lifetimes.ifa_valid = 100;
        expired
            .attributes
            .push(AddressAttribute::CacheInfo(lifetimes));
        let mut tentative = address_message(3, "2a01:db8::3");
        tentative
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Tentative));
        let kernel = FakeKernel::with_state(vec![
            RouteNetlinkMessage::NewLink(link_message(1, "lo", LinkFlags::Loopback)),
            new_link(3, "wan0"),
            new_link(4, "lan0"),
            new_address(1, "2a01:db8::ffff"),
            new_address(3, "198.51.100.7"),
            new_address(4, "2a01:db8:4::1"),
            RouteNetlinkMessage::NewAddress(temporary),
            RouteNetlinkMessage::NewAddress(stable),
            RouteNetlinkMessage::NewAddress(expired),
            RouteNetlinkMessage::NewAddress(tentative),
        ]);
        let found = lookup(&kernel, &["wan0".to_string()]).await.unwrap();
        assert_eq!(
            found,
            HostIpv6Addresses {
                stable: vec![v6("2a01:db8::1"), v6("2a01:db8:4::1")],
                temporary: vec![v6("2a01:db8::7e3")],
            }
        );
        kernel.fail_dumps(1);
        let error = lookup(&kernel, &[]).await.unwrap_err();
        assert_eq!(error.to_string(), "cannot list addresses");
    }
}
