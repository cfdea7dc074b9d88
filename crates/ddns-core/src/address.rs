//! Which addresses may be published, and which one of several to choose.
//!
//! Sources describe what they see as [`AddressCandidate`]s; the
//! [`AddressSelector`] keeps the set and picks one address per family with
//! rules that resist churn: the current address stays while it is eligible,
//! lifetime refreshes are not changes, and temporary, deprecated, tentative
//! and duplicate IPv6 addresses are never chosen.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::record::IpFamily;

/// The kind of range an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressClass {
    /// Globally routable unicast.
    Global,
    /// RFC 1918 private IPv4.
    Private,
    /// RFC 6598 shared address space (carrier-grade NAT, 100.64.0.0/10).
    SharedNat,
    /// IPv6 unique local (fc00::/7).
    UniqueLocal,
    /// Loopback.
    Loopback,
    /// Link-local.
    LinkLocal,
    /// Documentation ranges (192.0.2.0/24, 2001:db8::/32, …).
    Documentation,
    /// Multicast.
    Multicast,
    /// The unspecified address.
    Unspecified,
    /// Anything else that is not global unicast (reserved, benchmarking,
    /// IPv4-mapped, protocol assignments).
    Reserved,
}

impl AddressClass {
    /// Whether an address of this class can be someone's public address.
    pub fn is_global(self) -> bool {
        self == AddressClass::Global
    }

    /// A short lower-case name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Global => "global",
            AddressClass::Private => "private",
            AddressClass::SharedNat => "shared (CGNAT)",
            AddressClass::UniqueLocal => "unique-local",
            AddressClass::Loopback => "loopback",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Documentation => "documentation",
            AddressClass::Multicast => "multicast",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Reserved => "reserved",
        }
    }
}

/// Classifies an address by the IANA special-purpose registries.
pub fn classify(address: IpAddr) -> AddressClass {
    match address {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (0, 0, 0) if ip.is_unspecified() => AddressClass::Unspecified,
        (0, _, _) => AddressClass::Reserved,
        (10, _, _) => AddressClass::Private,
        (100, 64..=127, _) => AddressClass::SharedNat,
        (127, _, _) => AddressClass::Loopback,
        (169, 254, _) => AddressClass::LinkLocal,
        (172, 16..=31, _) => AddressClass::Private,
        (192, 0, 0) => AddressClass::Reserved,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => AddressClass::Documentation,
        (192, 88, 99) => AddressClass::Reserved,
        (192, 168, _) => AddressClass::Private,
        (198, 18..=19, _) => AddressClass::Reserved,
        (224..=239, _, _) => AddressClass::Multicast,
        (240..=255, _, _) => AddressClass::Reserved,
        _ => AddressClass::Global,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let s = ip.segments();
    if ip.is_unspecified() {
        return AddressClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        // An IPv4-mapped address is never published as AAAA.
        let _ = v4;
        return AddressClass::Reserved;
    }
    match s[0] {
        0xfe80..=0xfebf => AddressClass::LinkLocal,
        0xfc00..=0xfdff => AddressClass::UniqueLocal,
        0xff00..=0xffff => AddressClass::Multicast,
        0x2001 if s[1] == 0x0db8 => AddressClass::Documentation,
        0x3fff if s[1] < 0x1000 => AddressClass::Documentation,
        // 2001::/23: IETF protocol assignments (Teredo, ORCHID, benchmarking…).
        0x2001 if s[1] < 0x0200 => AddressClass::Reserved,
        0x2000..=0x3fff => AddressClass::Global,
        _ => AddressClass::Reserved,
    }
}

/// One address as a source sees it on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressCandidate {
    /// The address.
    pub address: IpAddr,
    /// Kernel index of the interface that holds it.
    pub ifindex: u32,
    /// The interface's name, when known.
    pub interface: String,
    /// The kernel scope is global (not host or link).
    pub scope_global: bool,
    /// The interface is a loopback interface.
    pub loopback_interface: bool,
    /// An IPv6 temporary (privacy) address.
    pub temporary: bool,
    /// Deprecated: its preferred lifetime ran out.
    pub deprecated: bool,
    /// Still in duplicate address detection.
    pub tentative: bool,
    /// Duplicate address detection failed.
    pub dad_failed: bool,
}

impl AddressCandidate {
    /// A plain, global-scope candidate on a non-loopback interface.
    pub fn new(address: IpAddr, ifindex: u32, interface: impl Into<String>) -> Self {
        Self {
            address,
            ifindex,
            interface: interface.into(),
            scope_global: true,
            loopback_interface: false,
            temporary: false,
            deprecated: false,
            tentative: false,
            dad_failed: false,
        }
    }

    fn family(&self) -> IpFamily {
        IpFamily::of(&self.address)
    }
}

/// Which addresses the selector considers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionPolicy {
    /// Every global-scope address on the named interfaces, whatever its range.
    Interfaces(Vec<String>),
    /// Only globally routable addresses, on any non-loopback interface.
    GloballyRoutable,
}

#[derive(Debug, Clone)]
struct Entry {
    candidate: AddressCandidate,
    first_seen: u64,
    stale: bool,
}

/// Keeps the addresses a source reports and chooses one per family.
#[derive(Debug)]
pub struct AddressSelector {
    policy: SelectionPolicy,
    entries: BTreeMap<(u32, IpAddr), Entry>,
    clock: u64,
    chosen: [Option<IpAddr>; 2],
}

impl AddressSelector {
    /// An empty selector with the given policy.
    pub fn new(policy: SelectionPolicy) -> Self {
        Self {
            policy,
            entries: BTreeMap::new(),
            clock: 0,
            chosen: [None, None],
        }
    }

    /// Adds or refreshes an address. A refresh keeps its age, so a lifetime
    /// update never makes an old address look new.
    pub fn upsert(&mut self, candidate: AddressCandidate) {
        let key = (candidate.ifindex, candidate.address);
        match self.entries.get_mut(&key) {
            Some(entry) => {
                entry.candidate = candidate;
                entry.stale = false;
            }
            None => {
                self.clock += 1;
                self.entries.insert(
                    key,
                    Entry {
                        candidate,
                        first_seen: self.clock,
                        stale: false,
                    },
                );
            }
        }
    }

    /// Forgets an address.
    pub fn remove(&mut self, ifindex: u32, address: IpAddr) {
        self.entries.remove(&(ifindex, address));
    }

    /// Forgets every address of an interface (it went away).
    pub fn remove_interface(&mut self, ifindex: u32) {
        self.entries.retain(|(index, _), _| *index != ifindex);
    }

    /// Renames an interface: its addresses follow the new name.
    pub fn rename_interface(&mut self, ifindex: u32, name: &str) {
        for ((index, _), entry) in self.entries.iter_mut() {
            if *index == ifindex {
                entry.candidate.interface = name.to_string();
            }
        }
    }

    /// Starts a full resynchronisation: addresses not reported again before
    /// [`AddressSelector::end_resync`] are dropped; those reported keep their age.
    pub fn begin_resync(&mut self) {
        for entry in self.entries.values_mut() {
            entry.stale = true;
        }
    }

    /// Ends a resynchronisation, dropping what was not seen again.
    pub fn end_resync(&mut self) {
        self.entries.retain(|_, entry| !entry.stale);
    }

    /// The number of addresses known, eligible or not.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no address is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The address last chosen for a family.
    pub fn chosen(&self, family: IpFamily) -> Option<IpAddr> {
        self.chosen[family.index()]
    }

    fn eligible(&self, candidate: &AddressCandidate) -> bool {
        if !candidate.scope_global || candidate.tentative || candidate.dad_failed {
            return false;
        }
        if candidate.temporary || candidate.deprecated {
            return false;
        }
        match &self.policy {
            SelectionPolicy::Interfaces(names) => names.contains(&candidate.interface),
            SelectionPolicy::GloballyRoutable => {
                !candidate.loopback_interface && classify(candidate.address).is_global()
            }
        }
    }

    /// Chooses the address of a family and remembers the choice.
    ///
    /// A global address beats any other range; among equals, the current
    /// choice is kept while it stays eligible, otherwise the newest wins.
    pub fn choose(&mut self, family: IpFamily) -> Option<IpAddr> {
        let current = self.chosen[family.index()];
        let best = self
            .entries
            .values()
            .filter(|e| e.candidate.family() == family && self.eligible(&e.candidate))
            .max_by_key(|e| {
                let global = classify(e.candidate.address).is_global();
                let is_current = Some(e.candidate.address) == current;
                (global, is_current, e.first_seen)
            })
            .map(|e| e.candidate.address);
        self.chosen[family.index()] = best;
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn classification_covers_the_special_ranges() {
        let cases = [
            ("8.8.8.8", AddressClass::Global),
            ("10.1.2.3", AddressClass::Private),
            ("172.31.0.1", AddressClass::Private),
            ("172.32.0.1", AddressClass::Global),
            ("192.168.1.1", AddressClass::Private),
            ("100.64.0.1", AddressClass::SharedNat),
            ("100.128.0.1", AddressClass::Global),
            ("127.0.0.1", AddressClass::Loopback),
            ("169.254.1.1", AddressClass::LinkLocal),
            ("192.0.2.10", AddressClass::Documentation),
            ("198.51.100.1", AddressClass::Documentation),
            ("203.0.113.9", AddressClass::Documentation),
            ("198.18.0.1", AddressClass::Reserved),
            ("224.0.0.1", AddressClass::Multicast),
            ("255.255.255.255", AddressClass::Reserved),
            ("0.0.0.0", AddressClass::Unspecified),
            ("2a01:4f8::1", AddressClass::Global),
            ("2001:db8::1", AddressClass::Documentation),
            ("3fff::1", AddressClass::Documentation),
            ("fd00::1", AddressClass::UniqueLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("::1", AddressClass::Loopback),
            ("::", AddressClass::Unspecified),
            ("ff02::1", AddressClass::Multicast),
            ("::ffff:8.8.8.8", AddressClass::Reserved),
            ("2001::1", AddressClass::Reserved),
            ("64:ff9b::1", AddressClass::Reserved),
        ];
        for (address, class) in cases {
            assert_eq!(classify(ip(address)), class, "{address}");
        }
    }

    fn on(iface: &str, index: u32, address: &str) -> AddressCandidate {
        AddressCandidate::new(ip(address), index, iface)
    }

    #[test]
    fn global_policy_ignores_private_and_loopback() {
        let mut sel = AddressSelector::new(SelectionPolicy::GloballyRoutable);
        sel.upsert(on("eth0", 2, "192.168.1.5"));
        let mut lo = on("lo", 1, "8.8.4.4");
        lo.loopback_interface = true;
        sel.upsert(lo);
        assert_eq!(sel.choose(IpFamily::V4), None);
        sel.upsert(on("eth0", 2, "81.2.69.160"));
        assert_eq!(sel.choose(IpFamily::V4), Some(ip("81.2.69.160")));
    }

    #[test]
    fn interface_policy_takes_any_range_on_named_interfaces() {
        let mut sel = AddressSelector::new(SelectionPolicy::Interfaces(vec!["veth0".into()]));
        sel.upsert(on("eth0", 2, "81.2.69.160"));
        sel.upsert(on("veth0", 3, "192.0.2.1"));
        assert_eq!(sel.choose(IpFamily::V4), Some(ip("192.0.2.1")));
    }

    #[test]
    fn keeps_current_address_while_eligible_then_takes_newest() {
        let mut sel = AddressSelector::new(SelectionPolicy::GloballyRoutable);
        sel.upsert(on("eth0", 2, "2a01::1"));
        assert_eq!(sel.choose(IpFamily::V6), Some(ip("2a01::1")));
        sel.upsert(on("eth0", 2, "2a02::1"));
        assert_eq!(
            sel.choose(IpFamily::V6),
            Some(ip("2a01::1")),
            "current stays"
        );
        // A lifetime refresh of the old address is not a change.
        sel.upsert(on("eth0", 2, "2a01::1"));
        assert_eq!(sel.choose(IpFamily::V6), Some(ip("2a01::1")));
        let mut old = on("eth0", 2, "2a01::1");
        old.deprecated = true;
        sel.upsert(old);
        assert_eq!(sel.choose(IpFamily::V6), Some(ip("2a02::1")));
        sel.upsert(on("eth0", 2, "2a03::1"));
        sel.remove(2, ip("2a02::1"));
        assert_eq!(sel.choose(IpFamily::V6), Some(ip("2a03::1")));
    }

    #[test]
    fn never_chooses_temporary_tentative_or_failed_addresses() {
        let mut sel = AddressSelector::new(SelectionPolicy::GloballyRoutable);
        for flag in 0..3 {
            let mut c = on("eth0", 2, &format!("2a01::{}", flag + 1));
            match flag {
                0 => c.temporary = true,
                1 => c.tentative = true,
                _ => c.dad_failed = true,
            }
            sel.upsert(c);
        }
        assert_eq!(sel.choose(IpFamily::V6), None);
    }

    #[test]
    fn prefers_global_over_unique_local() {
        let mut sel = AddressSelector::new(SelectionPolicy::Interfaces(vec!["eth0".into()]));
        sel.upsert(on("eth0", 2, "fd00::1"));
        assert_eq!(sel.choose(IpFamily::V6), Some(ip("fd00::1")));
        sel.upsert(on("eth0", 2, "2a01::9"));
        assert_eq!(sel.choose(IpFamily::V6), Some(ip("2a01::9")));
    }

    #[test]
    fn resync_drops_unseen_and_keeps_age_of_seen() {
        let mut sel = AddressSelector::new(SelectionPolicy::GloballyRoutable);
        sel.upsert(on("eth0", 2, "81.2.69.1"));
        assert_eq!(sel.choose(IpFamily::V4), Some(ip("81.2.69.1")));
        sel.upsert(on("eth0", 2, "81.2.69.2"));
        sel.remove(2, ip("81.2.69.2"));
        sel.upsert(on("eth0", 2, "81.2.69.2"));
        assert_eq!(sel.choose(IpFamily::V4), Some(ip("81.2.69.1")));
        sel.begin_resync();
        sel.upsert(on("eth0", 2, "81.2.69.2"));
        sel.end_resync();
        assert_eq!(sel.len(), 1);
        assert_eq!(sel.choose(IpFamily::V4), Some(ip("81.2.69.2")));
    }

    #[test]
    fn removing_an_interface_drops_its_addresses() {
        let mut sel = AddressSelector::new(SelectionPolicy::GloballyRoutable);
        sel.upsert(on("eth0", 2, "81.2.69.1"));
        sel.upsert(on("eth1", 3, "81.2.69.2"));
        sel.remove_interface(2);
        assert_eq!(sel.choose(IpFamily::V4), Some(ip("81.2.69.2")));
    }
}
