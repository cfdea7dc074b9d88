//! A provider and a source that tests drive by hand.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::engine::{DdnsEngine, EngineSettings, SourceBinding};
use crate::error::Result;
use crate::provider::{DnsProvider, ProviderError, RecordChange};
use crate::record::{IpFamily, Record};
use crate::source::{AddressSnapshot, IpEvent, IpSource, SourceError};
use crate::state::{MemoryStateStore, StateStore};

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

pub(super) fn record(name: &str, family: IpFamily) -> Record {
    Record::new(name.parse().expect("test name"), family)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Read,
    Write,
    Batch,
}

#[derive(Debug, Clone)]
pub(super) struct Call {
    pub(super) op: Op,
    pub(super) key: String,
    pub(super) address: Option<IpAddr>,
    pub(super) at: Instant,
}

type MakeError = Box<dyn Fn() -> ProviderError + Send>;
/// A scripted failure: which operation, which record (any when `None`), the
/// error, and whether a failed write lands anyway.
type Scripted = (Op, Option<String>, MakeError, bool);

/// A provider whose published values live in a map, with scripted failures.
pub(super) struct FakeProvider {
    readable: bool,
    batch: usize,
    published: Mutex<BTreeMap<String, Vec<IpAddr>>>,
    calls: Mutex<Vec<Call>>,
    successes: Mutex<Vec<Call>>,
    redundant: Mutex<u32>,
    failures: Mutex<VecDeque<Scripted>>,
    credentials: Mutex<Option<MakeError>>,
    write_delay: Mutex<Duration>,
    check_delay: Mutex<Duration>,
}

impl FakeProvider {
    pub(super) fn new(readable: bool) -> Arc<Self> {
        Self::with_batch(readable, 1)
    }

    pub(super) fn with_batch(readable: bool, batch: usize) -> Arc<Self> {
        Arc::new(Self {
            readable,
            batch,
            published: Mutex::new(BTreeMap::new()),
            calls: Mutex::new(Vec::new()),
            successes: Mutex::new(Vec::new()),
            redundant: Mutex::new(0),
            failures: Mutex::new(VecDeque::new()),
            credentials: Mutex::new(None),
            write_delay: Mutex::new(Duration::ZERO),
            check_delay: Mutex::new(Duration::ZERO),
        })
    }

    /// The next `op` call fails with the error; `apply` makes a failed
    /// write land anyway (a timeout whose write went through).
    pub(super) fn fail_next(
        &self,
        op: Op,
        apply: bool,
        error: impl Fn() -> ProviderError + Send + 'static,
    ) {
        self.failures
            .lock()
            .unwrap()
            .push_back((op, None, Box::new(error), apply));
    }

    /// The next write of the record with this key fails with the error.
    pub(super) fn fail_next_for(
        &self,
        key: &str,
        error: impl Fn() -> ProviderError + Send + 'static,
    ) {
        self.failures.lock().unwrap().push_back((
            Op::Write,
            Some(key.to_string()),
            Box::new(error),
            false,
        ));
    }

    pub(super) fn fail_credential_check(&self, error: impl Fn() -> ProviderError + Send + 'static) {
        *self.credentials.lock().unwrap() = Some(Box::new(error));
    }

    pub(super) fn set_write_delay(&self, delay: Duration) {
        *self.write_delay.lock().unwrap() = delay;
    }

    /// The credential check at start takes this long (the engine is still
    /// starting meanwhile).
    pub(super) fn set_check_delay(&self, delay: Duration) {
        *self.check_delay.lock().unwrap() = delay;
    }

    pub(super) fn publish(&self, key: &str, values: &[&str]) {
        self.published
            .lock()
            .unwrap()
            .insert(key.to_string(), values.iter().map(|v| ip(v)).collect());
    }

    pub(super) fn published(&self, key: &str) -> Vec<IpAddr> {
        self.published
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .unwrap_or_default()
    }

    pub(super) fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub(super) fn writes(&self) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.op == Op::Write)
            .collect()
    }

    /// How many writes were attempted for one record.
    pub(super) fn writes_for(&self, key: &str) -> usize {
        self.writes().iter().filter(|c| c.key == key).count()
    }

    /// Writes that were acknowledged as successful, for one record.
    pub(super) fn successes_of(&self, key: &str) -> Vec<Call> {
        self.successes
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.key == key)
            .cloned()
            .collect()
    }

    /// Writes of an address the record already held.
    pub(super) fn redundant_writes(&self) -> u32 {
        *self.redundant.lock().unwrap()
    }

    fn take_failure(&self, op: Op, key: &str) -> Option<(ProviderError, bool)> {
        let mut failures = self.failures.lock().unwrap();
        let position = failures
            .iter()
            .position(|(o, k, _, _)| *o == op && k.as_deref().is_none_or(|k| k == key))?;
        let (_, _, make, apply) = failures.remove(position)?;
        Some((make(), apply))
    }

    fn log(&self, op: Op, key: String, address: Option<IpAddr>) {
        self.calls.lock().unwrap().push(Call {
            op,
            key,
            address,
            at: Instant::now(),
        });
    }
}

#[async_trait]
impl DnsProvider for FakeProvider {
    fn name(&self) -> &str {
        "fake"
    }

    fn max_batch(&self) -> usize {
        self.batch
    }

    async fn check_credentials(&self) -> Result<(), ProviderError> {
        let delay = *self.check_delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match self.credentials.lock().unwrap().as_ref() {
            Some(make) => Err(make()),
            None => Ok(()),
        }
    }

    async fn read(&self, record: &Record) -> Result<Option<Vec<IpAddr>>, ProviderError> {
        self.log(Op::Read, record.key(), None);
        if let Some((error, _)) = self.take_failure(Op::Read, &record.key()) {
            return Err(error);
        }
        if !self.readable {
            return Ok(None);
        }
        Ok(Some(self.published(&record.key())))
    }

    async fn update(&self, change: &RecordChange) -> Result<(), ProviderError> {
        let (record, address) = (&change.record, change.address);
        self.log(Op::Write, record.key(), Some(address));
        if self.published(&record.key()) == vec![address] {
            *self.redundant.lock().unwrap() += 1;
        }
        let delay = *self.write_delay.lock().unwrap();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Some((error, apply)) = self.take_failure(Op::Write, &record.key()) {
            if apply {
                self.published
                    .lock()
                    .unwrap()
                    .insert(record.key(), vec![address]);
            }
            return Err(error);
        }
        self.published
            .lock()
            .unwrap()
            .insert(record.key(), vec![address]);
        self.successes.lock().unwrap().push(Call {
            op: Op::Write,
            key: record.key(),
            address: Some(address),
            at: Instant::now(),
        });
        Ok(())
    }

    async fn update_many(&self, changes: &[RecordChange]) -> Vec<Result<(), ProviderError>> {
        self.log(Op::Batch, format!("{} changes", changes.len()), None);
        let mut results = Vec::new();
        for change in changes {
            results.push(self.update(change).await);
        }
        results
    }
}

/// A source fed by the test through a channel.
pub(super) struct ChannelSource {
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Result<IpEvent, SourceError>>>>,
}

#[async_trait]
impl IpSource for ChannelSource {
    fn name(&self) -> &str {
        "test"
    }

    async fn current(&self) -> Result<AddressSnapshot, SourceError> {
        Ok(AddressSnapshot::default())
    }

    fn watch(&self) -> BoxStream<'static, Result<IpEvent, SourceError>> {
        match self.receiver.lock().unwrap().take() {
            Some(receiver) => tokio_stream(receiver),
            None => futures_util::stream::pending().boxed(),
        }
    }
}

fn tokio_stream<T: Send + 'static>(
    mut receiver: mpsc::UnboundedReceiver<T>,
) -> BoxStream<'static, T> {
    futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx)).boxed()
}

/// A running engine with its provider, store and event feed.
pub(super) struct Harness {
    pub(super) engine: Arc<DdnsEngine>,
    events: mpsc::UnboundedSender<Result<IpEvent, SourceError>>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<()>>>,
}

impl Harness {
    pub(super) async fn start(settings: EngineSettings, provider: Arc<FakeProvider>) -> Self {
        Self::start_with_store(settings, provider, Arc::new(MemoryStateStore::default())).await
    }

    pub(super) async fn start_with_store(
        settings: EngineSettings,
        provider: Arc<FakeProvider>,
        store: Arc<MemoryStateStore>,
    ) -> Self {
        Self::start_engine(DdnsEngine::new(
            settings,
            provider,
            store as Arc<dyn StateStore>,
        ))
        .await
    }

    /// Runs an engine built by the test (with observers, contributors).
    pub(super) async fn start_engine(engine: DdnsEngine) -> Self {
        let (events, receiver) = mpsc::unbounded_channel();
        let source = Arc::new(ChannelSource {
            receiver: Mutex::new(Some(receiver)),
        });
        let engine = Arc::new(engine);
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn({
            let engine = engine.clone();
            async move {
                let binding = SourceBinding::new(source, vec![IpFamily::V4, IpFamily::V6]);
                engine
                    .run(vec![binding], async {
                        let _ = stopped.await;
                    })
                    .await
            }
        });
        let harness = Self {
            engine,
            events,
            stop: Some(stop),
            handle: Some(handle),
        };
        settle().await;
        harness
    }

    pub(super) fn send(&self, event: IpEvent) {
        self.events.send(Ok(event)).expect("engine alive");
    }

    /// The source reports an error, as a detector round without a trusted
    /// answer does.
    pub(super) async fn source_fails(&self, message: &str) {
        self.events
            .send(Err(SourceError::new(message)))
            .expect("engine alive");
        settle().await;
    }

    pub(super) async fn observe(&self, address: &str) {
        self.send(IpEvent::Observed(ip(address)));
        settle().await;
    }

    /// Stops the engine and returns how `run` ended.
    pub(super) async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.handle
            .take()
            .expect("running")
            .await
            .expect("engine task")
    }

    /// Whether `run` has returned on its own.
    pub(super) fn finished(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    pub(super) async fn result(mut self) -> Result<()> {
        self.handle
            .take()
            .expect("running")
            .await
            .expect("engine task")
    }
}

/// Lets every ready task run, without letting the paused clock move much.
pub(super) async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

pub(super) fn settings(records: Vec<Record>) -> EngineSettings {
    let mut settings = EngineSettings::new(records);
    settings.recheck_interval = None;
    settings
}
