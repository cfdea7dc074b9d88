//! The engine with a verifier: skipping writes on authoritative answers
//! only, and confirming writes in DNS with a bounded wait.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use tokio::time::sleep;

use super::fake::{FakeProvider, ip, record, settings, settle};
use crate::engine::{DdnsEngine, SourceBinding};
use crate::provider::ProviderError;
use crate::record::IpFamily::V4;
use crate::record::Record;
use crate::source::{AddressSnapshot, IpEvent, IpSource, SourceError};
use crate::state::MemoryStateStore;
use crate::verify::{Observation, Verifier};

/// Answers from a script, then repeats the last answer.
#[derive(Default)]
struct ScriptedDns {
    answers: Mutex<VecDeque<Observation>>,
    last: Mutex<Option<Observation>>,
    asked: Mutex<u32>,
}

impl ScriptedDns {
    fn new(answers: Vec<(Vec<&str>, bool)>) -> Arc<Self> {
        let dns = Self::default();
        for (values, authoritative) in answers {
            dns.answers.lock().unwrap().push_back(Observation {
                values: values.iter().map(|v| ip(v)).collect(),
                authoritative,
            });
        }
        Arc::new(dns)
    }

    fn asked(&self) -> u32 {
        *self.asked.lock().unwrap()
    }
}

#[async_trait]
impl Verifier for ScriptedDns {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn observe(&self, _record: &Record) -> Result<Observation, ProviderError> {
        *self.asked.lock().unwrap() += 1;
        let next = self.answers.lock().unwrap().pop_front();
        let mut last = self.last.lock().unwrap();
        if let Some(answer) = next {
            *last = Some(answer);
        }
        last.clone()
            .ok_or_else(|| ProviderError::transient("no answer scripted"))
    }
}

struct OneShotSource(Mutex<Option<mpsc::UnboundedReceiver<IpEvent>>>);

#[async_trait]
impl IpSource for OneShotSource {
    fn name(&self) -> &str {
        "test"
    }

    async fn current(&self) -> Result<AddressSnapshot, SourceError> {
        Ok(AddressSnapshot::default())
    }

    fn watch(&self) -> futures_util::stream::BoxStream<'static, Result<IpEvent, SourceError>> {
        use futures_util::StreamExt;
        match self.0.lock().unwrap().take() {
            Some(mut rx) => futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
                .map(Ok)
                .boxed(),
            None => futures_util::stream::pending().boxed(),
        }
    }
}

async fn run_with(provider: Arc<FakeProvider>, dns: Arc<ScriptedDns>, address: IpAddr, secs: u64) {
    let (tx, rx) = mpsc::unbounded_channel();
    let source = Arc::new(OneShotSource(Mutex::new(Some(rx))));
    let engine = DdnsEngine::new(
        settings(vec![record("a.example.com", V4)]),
        provider,
        Arc::new(MemoryStateStore::default()),
    )
    .with_verifier(dns);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        engine
            .run(vec![SourceBinding::new(source, vec![V4])], async {
                let _ = stopped.await;
            })
            .await
    });
    settle().await;
    tx.send(IpEvent::Observed(address)).unwrap();
    sleep(Duration::from_secs(secs)).await;
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_authoritative_answer_holding_the_address_skips_the_write() {
    let provider = FakeProvider::new(false);
    let dns = ScriptedDns::new(vec![(vec!["192.0.2.1"], true)]);
    run_with(provider.clone(), dns.clone(), ip("192.0.2.1"), 5).await;
    assert!(provider.writes().is_empty());
    assert_eq!(dns.asked(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_non_authoritative_answer_never_justifies_skipping() {
    let provider = FakeProvider::new(false);
    let dns = ScriptedDns::new(vec![(vec!["192.0.2.1"], false), (vec!["192.0.2.1"], true)]);
    run_with(provider.clone(), dns, ip("192.0.2.1"), 5).await;
    assert_eq!(provider.writes().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_write_is_confirmed_once_dns_catches_up() {
    let provider = FakeProvider::new(false);
    // Before the write: nothing. After: stale twice, then the new value.
    let dns = ScriptedDns::new(vec![
        (vec![], true),
        (vec!["198.51.100.7"], true),
        (vec!["198.51.100.7"], true),
        (vec!["192.0.2.1"], true),
    ]);
    run_with(provider.clone(), dns.clone(), ip("192.0.2.1"), 30).await;
    assert_eq!(provider.writes().len(), 1);
    assert_eq!(dns.asked(), 4, "asked until it matched, then stopped");
}

#[tokio::test(start_paused = true)]
async fn confirmation_gives_up_after_the_bounded_wait() {
    let provider = FakeProvider::new(false);
    let dns = ScriptedDns::new(vec![(vec![], true)]);
    run_with(provider.clone(), dns.clone(), ip("192.0.2.1"), 3600).await;
    assert_eq!(provider.writes().len(), 1);
    // 100 ms doubling within 10 s: a handful of checks, then silence.
    let asked = dns.asked();
    assert!((5..=10).contains(&asked), "asked {asked} times");
}
