//! The gateway probe: does each default route lead to a gateway that
//! answers? Read from the kernel's neighbour entries (see
//! [`ddns_ip_netlink::default_gateway`]).

use std::time::Duration;

use ddns_core::IpFamily;
use ddns_ip_netlink::{GatewayStatus, default_gateway};
use tracing::debug;

use crate::error::{Error, Result};

/// Checks the IPv4 and the IPv6 default gateway.
#[derive(Debug, Clone)]
pub struct GatewayProbe {
    wait: Duration,
}

impl GatewayProbe {
    /// A probe that waits at most `wait` for a gateway to answer.
    pub fn new(wait: Duration) -> Self {
        Self { wait }
    }

    /// Looks at both families at once.
    ///
    /// # Errors
    ///
    /// [`Error::NoDefaultRoute`] when neither family has a default route;
    /// [`Error::GatewayUnreachable`] when a family has one whose gateway
    /// does not answer (or whose link is down); [`Error::GatewayLookupFailed`]
    /// when netlink cannot be read.
    pub async fn check(&self) -> Result<()> {
        let (v4, v6) = tokio::join!(
            default_gateway(IpFamily::V4, self.wait),
            default_gateway(IpFamily::V6, self.wait),
        );
        let statuses = [v4, v6]
            .into_iter()
            .map(|status| status.map_err(|source| Error::GatewayLookupFailed { source }))
            .collect::<Result<Vec<_>>>()?;
        for status in &statuses {
            debug!(family = %status.family(), status = %status, "default gateway");
        }
        verdict(statuses)
    }
}

/// The network is up when some family has a default route and every
/// family that has one reaches its gateway: a dual-stack host whose IPv6
/// gateway went silent cannot update its AAAA records.
fn verdict(statuses: Vec<GatewayStatus>) -> Result<()> {
    let routed: Vec<GatewayStatus> = statuses
        .into_iter()
        .filter(|status| !matches!(status, GatewayStatus::NoDefaultRoute { .. }))
        .collect();
    if routed.is_empty() {
        return Err(Error::NoDefaultRoute);
    }
    match routed.into_iter().find(|status| !status.is_reachable()) {
        Some(status) => Err(Error::GatewayUnreachable { status }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn none(family: IpFamily) -> GatewayStatus {
        GatewayStatus::NoDefaultRoute { family }
    }

    fn link(family: IpFamily, up: bool) -> GatewayStatus {
        GatewayStatus::OnLink {
            family,
            interface: "ppp0".into(),
            up,
        }
    }

    #[test]
    fn no_route_in_either_family_is_its_own_failure() {
        let error = verdict(vec![none(IpFamily::V4), none(IpFamily::V6)]).unwrap_err();
        assert!(matches!(error, Error::NoDefaultRoute));
        assert_eq!(
            error.to_string(),
            "gateway: no default route (neither IPv4 nor IPv6)"
        );
    }

    #[test]
    fn one_family_routed_and_reachable_is_enough() {
        verdict(vec![link(IpFamily::V4, true), none(IpFamily::V6)]).unwrap();
    }

    #[test]
    fn any_routed_family_that_does_not_reach_fails() {
        let error = verdict(vec![link(IpFamily::V4, true), link(IpFamily::V6, false)]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "gateway: IPv6 default route on ppp0 without a gateway, link down"
        );
    }
}
