//! Leader election with a `coordination.k8s.io/v1` Lease, so several
//! replicas can run and only one reconciles.
//!
//! Taking and renewing the Lease are plain reads and replaces guarded by
//! the object's `resourceVersion`: of two replicas writing at once the API
//! server accepts one and refuses the other with a conflict. No
//! server-side apply is used.
//!
//! A leader renews every third of the Lease's duration. It gives up
//! leadership itself when it has not renewed for the duration minus a
//! margin, before another replica may take the Lease over, so two leaders
//! never act at once as long as clocks agree within that margin.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tracing::{debug, info, warn};

/// Lease settings.
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// The Lease's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// This replica's identity.
    pub identity: String,
    /// How long a Lease holds without renewal.
    pub duration: Duration,
}

/// What to do with the Lease as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// We hold it: renew.
    Renew,
    /// Free or expired: take it.
    Acquire,
    /// Another replica holds it until at least this long from now.
    Wait(Duration),
}

/// Decides from the Lease's spec, our identity and the time.
pub fn decide(spec: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> Decision {
    let Some(spec) = spec else {
        return Decision::Acquire;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder == identity {
        return Decision::Renew;
    }
    if holder.is_empty() {
        return Decision::Acquire;
    }
    let seconds = i64::from(spec.lease_duration_seconds.unwrap_or(0).max(0));
    let Some(renewed) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else {
        return Decision::Acquire;
    };
    let expires = renewed
        .0
        .checked_add(SignedDuration::from_secs(seconds))
        .unwrap_or(renewed.0);
    if expires <= now {
        return Decision::Acquire;
    }
    let left = now.duration_until(expires).unsigned_abs();
    Decision::Wait(left)
}

fn lease_spec(previous: Option<&LeaseSpec>, settings: &LeaseSettings, now: Timestamp) -> LeaseSpec {
    let taking_over = previous
        .and_then(|s| s.holder_identity.as_deref())
        .is_none_or(|holder| holder != settings.identity);
    let transitions = previous.and_then(|s| s.lease_transitions).unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(settings.identity.clone()),
        lease_duration_seconds: Some(
            i32::try_from(settings.duration.as_secs()).unwrap_or(i32::MAX),
        ),
        acquire_time: if taking_over {
            Some(MicroTime(now))
        } else {
            previous.and_then(|s| s.acquire_time.clone())
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(if taking_over && previous.is_some() {
            transitions.saturating_add(1)
        } else {
            transitions
        }),
        ..LeaseSpec::default()
    }
}

/// One round: read the Lease, take or renew it if we may. Returns whether
/// we hold it afterwards and how long to wait before the next round.
async fn round(
    api: &Api<Lease>,
    settings: &LeaseSettings,
) -> Result<(bool, Duration), kube::Error> {
    let now = Timestamp::now();
    let renew_every = settings.duration / 3;
    let current = api.get_opt(&settings.name).await?;
    let decision = decide(
        current.as_ref().and_then(|l| l.spec.as_ref()),
        &settings.identity,
        now,
    );
    match (decision, current) {
        (Decision::Wait(left), _) => Ok((false, left.min(settings.duration))),
        (_, None) => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(settings.name.clone()),
                    namespace: Some(settings.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(lease_spec(None, settings, now)),
            };
            match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok((true, renew_every)),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok((false, renew_every)),
                Err(e) => Err(e),
            }
        }
        (_, Some(mut lease)) => {
            lease.spec = Some(lease_spec(lease.spec.as_ref(), settings, now));
            match api
                .replace(&settings.name, &PostParams::default(), &lease)
                .await
            {
                Ok(_) => Ok((true, renew_every)),
                Err(kube::Error::Api(status)) if status.code == 409 => Ok((false, renew_every)),
                Err(e) => Err(e),
            }
        }
    }
}

/// Keeps trying to hold the Lease until `shutdown`, publishing whether we
/// lead on `leading`. On shutdown a held Lease is released so another
/// replica takes over at once.
pub async fn run(
    client: Client,
    settings: LeaseSettings,
    leading: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) {
    let api: Api<Lease> = Api::namespaced(client, &settings.namespace);
    // Give leadership up a little before the Lease could be taken over.
    let margin = settings.duration / 5;
    let mut last_renewal: Option<tokio::time::Instant> = None;
    loop {
        let wait = match round(&api, &settings).await {
            Ok((true, wait)) => {
                if !*leading.borrow() {
                    info!(lease = %settings.name, identity = %settings.identity, "leading");
                }
                last_renewal = Some(tokio::time::Instant::now());
                leading.send_replace(true);
                wait
            }
            Ok((false, wait)) => {
                if *leading.borrow() {
                    warn!(lease = %settings.name, "another replica holds the lease; standing by");
                }
                leading.send_replace(false);
                last_renewal = None;
                wait
            }
            Err(error) => {
                debug!(%error, lease = %settings.name, "lease round failed");
                let expired =
                    last_renewal.is_some_and(|at| at.elapsed() + margin >= settings.duration);
                if expired && *leading.borrow() {
                    warn!(%error, lease = %settings.name, "cannot renew the lease; standing down");
                    leading.send_replace(false);
                    last_renewal = None;
                }
                (settings.duration / 5).max(Duration::from_secs(1))
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
    }
    if *leading.borrow() {
        leading.send_replace(false);
        if let Ok(Some(mut lease)) = api.get_opt(&settings.name).await {
            if let Some(spec) = lease.spec.as_mut() {
                spec.holder_identity = None;
                spec.renew_time = None;
                spec.acquire_time = None;
            }
            match api
                .replace(&settings.name, &PostParams::default(), &lease)
                .await
            {
                Ok(_) => info!(lease = %settings.name, "lease released"),
                Err(error) => debug!(%error, "lease not released"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn held(by: &str, renewed: i64, duration: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(by.into()),
            renew_time: Some(MicroTime(at(renewed))),
            lease_duration_seconds: Some(duration),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn decisions() {
        assert_eq!(decide(None, "a", at(100)), Decision::Acquire);
        assert_eq!(
            decide(Some(&held("a", 90, 15)), "a", at(100)),
            Decision::Renew
        );
        assert_eq!(
            decide(Some(&held("b", 90, 15)), "a", at(100)),
            Decision::Wait(Duration::from_secs(5))
        );
        assert_eq!(
            decide(Some(&held("b", 80, 15)), "a", at(100)),
            Decision::Acquire
        );
        assert_eq!(
            decide(Some(&held("", 99, 15)), "a", at(100)),
            Decision::Acquire
        );
        assert_eq!(
            decide(Some(&LeaseSpec::default()), "a", at(100)),
            Decision::Acquire
        );
    }

    #[test]
    fn taking_over_counts_a_transition() {
        let settings = LeaseSettings {
            name: "l".into(),
            namespace: "n".into(),
            identity: "a".into(),
            duration: Duration::from_secs(15),
        };
        let mut old = held("b", 10, 15);
        old.lease_transitions = Some(3);
        let taken = lease_spec(Some(&old), &settings, at(50));
        assert_eq!(taken.lease_transitions, Some(4));
        assert_eq!(taken.acquire_time, Some(MicroTime(at(50))));
        let renewed = lease_spec(Some(&taken), &settings, at(55));
        assert_eq!(renewed.lease_transitions, Some(4));
        assert_eq!(renewed.acquire_time, Some(MicroTime(at(50))));
        assert_eq!(renewed.renew_time, Some(MicroTime(at(55))));
        assert_eq!(renewed.lease_duration_seconds, Some(15));
    }
}
