//! The `netlink` source type: its variable, validation and plan.

use std::sync::Arc;

use async_trait::async_trait;
use ddns_core::config::{ConfigError, Env, interface_names};
use ddns_core::{IpFamily, IpSource, SelectionPolicy, Setting, SourceFactory, SourcePlan};

use crate::NetlinkSource;

/// The variable naming the interfaces to watch (comma-separated).
pub const INTERFACE_VARIABLE: &str = "DDNS_IP_SOURCE_INTERFACE";

/// What `ddnsd check` shows when no interface is named.
const ALL_INTERFACES: &str = "(all interfaces, globally routable addresses only)";

/// Registers the `netlink` source type.
///
/// Reads `DDNS_IP_SOURCE_INTERFACE`: with interface names, every
/// global-scope address on them is a candidate whatever its range; without
/// it, only globally routable addresses on non-loopback interfaces are.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetlinkSourceFactory;

impl SourceFactory for NetlinkSourceFactory {
    fn name(&self) -> &'static str {
        "netlink"
    }

    fn variables(&self) -> &'static [&'static str] {
        &[INTERFACE_VARIABLE]
    }

    fn configure(
        &self,
        env: &Env,
        families: &[IpFamily],
    ) -> Result<Box<dyn SourcePlan>, ConfigError> {
        // The rules are the core's: the http and dns types read this
        // variable too, for their trigger.
        let policy = match interface_names(env, INTERFACE_VARIABLE)? {
            Some(names) => SelectionPolicy::Interfaces(names),
            None => SelectionPolicy::GloballyRoutable,
        };
        Ok(Box::new(NetlinkPlan {
            policy,
            families: families.to_vec(),
        }))
    }
}

/// A validated `netlink` source configuration.
#[derive(Debug)]
struct NetlinkPlan {
    policy: SelectionPolicy,
    families: Vec<IpFamily>,
}

#[async_trait]
impl SourcePlan for NetlinkPlan {
    fn settings(&self) -> Vec<Setting> {
        let value = match &self.policy {
            SelectionPolicy::Interfaces(names) => names.join(","),
            SelectionPolicy::GloballyRoutable => ALL_INTERFACES.to_string(),
        };
        vec![Setting::new(INTERFACE_VARIABLE, value)]
    }

    async fn build(self: Box<Self>) -> ddns_core::Result<Arc<dyn IpSource>> {
        // Fail at startup, not in the first watch, where netlink is
        // unavailable (another OS, a seccomp filter). Addresses may come later.
        rtnetlink::sys::Socket::new(rtnetlink::sys::protocols::NETLINK_ROUTE).map_err(|e| {
            ddns_core::Error::Startup {
                component: "source netlink".into(),
                message: format!("cannot open a netlink route socket: {e}"),
            }
        })?;
        let source = NetlinkSource::new(self.policy).with_families(&self.families);
        Ok(Arc::new(source))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn plan(value: Option<&str>) -> Result<Box<dyn SourcePlan>, ConfigError> {
        let env = Env::from_pairs(value.map(|v| (INTERFACE_VARIABLE, v)));
        NetlinkSourceFactory.configure(&env, &[IpFamily::V4, IpFamily::V6])
    }

    fn error(value: &str) -> String {
        match plan(Some(value)) {
            Ok(_) => panic!("'{value}' was accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn the_factory_is_called_netlink() {
        assert_eq!(NetlinkSourceFactory.name(), "netlink");
    }

    #[test]
    fn without_interfaces_only_globally_routable_addresses_count() {
        let settings = plan(None).expect("valid").settings();
        assert_eq!(
            settings,
            vec![Setting::new(
                "DDNS_IP_SOURCE_INTERFACE",
                "(all interfaces, globally routable addresses only)"
            )]
        );
    }

    #[test]
    fn interfaces_are_trimmed_and_listed_in_order() {
        let settings = plan(Some(" eth0, wg-home ,ppp0"))
            .expect("valid")
            .settings();
        assert_eq!(
            settings,
            vec![Setting::new(
                "DDNS_IP_SOURCE_INTERFACE",
                "eth0,wg-home,ppp0"
            )]
        );
        assert!(
            plan(Some("abcdefghijklmno")).is_ok(),
            "15 bytes is the limit"
        );
    }

    #[test]
    fn invalid_interface_names_are_rejected_with_the_reason() {
        // The rules live in ddns-core (the http and dns types share them);
        // these show that the factory applies them.
        assert_eq!(
            error("eth0,abcdefghijklmnop"),
            "DDNS_IP_SOURCE_INTERFACE: 'abcdefghijklmnop' is not a valid interface name: it is longer than 15 bytes"
        );
        assert_eq!(
            error("eth0:1"),
            "DDNS_IP_SOURCE_INTERFACE: 'eth0:1' is not a valid interface name: it contains ':' (an alias label; give the interface itself, such as eth0)"
        );
        assert_eq!(
            error("eth0,eth0"),
            "DDNS_IP_SOURCE_INTERFACE: interface 'eth0' is listed twice"
        );
    }

    #[tokio::test]
    async fn build_needs_no_address() {
        let source = plan(Some("v0"))
            .expect("valid")
            .build()
            .await
            .expect("built");
        assert_eq!(source.name(), "netlink");
    }
}
