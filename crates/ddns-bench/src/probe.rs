//! A provider and observer that only note what the engine does, and the
//! receiving end that waits for it.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ddns_core::{DnsProvider, EngineEvent, EngineObserver, ProviderError, Record, RecordChange};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use crate::BoxError;

/// How long one change may take before the run is abandoned: far above any
/// plausible latency, it only stops a broken run.
const GIVE_UP: Duration = Duration::from_secs(5);

/// What the engine did.
#[derive(Debug)]
enum Notice {
    /// The provider's `update` was called with this address at this instant.
    Called(IpAddr, Instant),
    /// The engine learned that the family has no address any more.
    Lost,
}

/// The bench's provider (it writes nothing) and engine observer.
pub(crate) struct Probe {
    notices: UnboundedSender<Notice>,
}

/// The notices of a [`Probe`].
pub(crate) struct Seen {
    notices: UnboundedReceiver<Notice>,
}

impl Probe {
    pub(crate) fn new() -> (Self, Seen) {
        let (sender, receiver) = unbounded_channel();
        (Self { notices: sender }, Seen { notices: receiver })
    }
}

#[async_trait]
impl DnsProvider for Probe {
    fn name(&self) -> &str {
        "bench-probe"
    }

    async fn read(&self, _record: &Record) -> Result<Option<Vec<IpAddr>>, ProviderError> {
        Ok(None)
    }

    async fn update(&self, change: &RecordChange) -> Result<(), ProviderError> {
        let address = change.address;
        // The instant first: it is the figure being measured.
        let at = Instant::now();
        // A closed channel means the measurement is over; nothing to report.
        let _ = self.notices.send(Notice::Called(address, at));
        Ok(())
    }
}

impl EngineObserver for Probe {
    fn observe(&self, event: &EngineEvent<'_>) {
        if let EngineEvent::AddressLost { .. } = event {
            let _ = self.notices.send(Notice::Lost);
        }
    }
}

impl Seen {
    async fn next(&mut self) -> Result<Notice, BoxError> {
        match tokio::time::timeout(GIVE_UP, self.notices.recv()).await {
            Ok(Some(notice)) => Ok(notice),
            Ok(None) => Err("the engine dropped its provider".into()),
            Err(_) => Err(format!(
                "nothing happened within {}s; is the interface up?",
                GIVE_UP.as_secs()
            )
            .into()),
        }
    }

    /// Waits for the provider to be called with `address`; returns when.
    pub(crate) async fn called(&mut self, address: Ipv4Addr) -> Result<Instant, BoxError> {
        loop {
            match self.next().await? {
                Notice::Called(got, at) if got == IpAddr::V4(address) => return Ok(at),
                Notice::Called(got, _) => {
                    return Err(format!("the provider was called with {got}, not {address}").into());
                }
                Notice::Lost => {}
            }
        }
    }

    /// Waits for the engine to see the family lost.
    pub(crate) async fn lost(&mut self) -> Result<(), BoxError> {
        match self.next().await? {
            Notice::Lost => Ok(()),
            Notice::Called(got, _) => {
                Err(format!("the provider was called with {got} while the family was lost").into())
            }
        }
    }
}
