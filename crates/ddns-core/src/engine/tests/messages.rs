//! What an operator reads in the logs for the engine's rules.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::sleep;
use tracing_subscriber::fmt::MakeWriter;

use super::fake::{FakeProvider, Harness, ip, record, settings};
use crate::record::IpFamily::V4;
use crate::source::IpEvent;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn capture() -> (Buffer, tracing::subscriber::DefaultGuard) {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(buffer.clone())
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (buffer, guard)
}

#[tokio::test(start_paused = true)]
async fn deferral_replacement_and_removal_are_logged_once_each() {
    let (logs, _guard) = capture();
    let provider = FakeProvider::new(true);
    provider.publish("a.example.com/A", &["192.0.2.1", "198.51.100.9"]);
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    h.observe("192.0.2.1").await;
    h.observe("192.0.2.2").await;
    h.observe("192.0.2.2").await;
    sleep(Duration::from_secs(61)).await;
    h.stop().await.expect("stop");
    let text = logs.text();
    assert!(
        text.contains("INFO managing record record=a.example.com A provider=fake"),
        "{text}"
    );
    assert!(
        text.contains("INFO record updated record=a.example.com A address=192.0.2.1 previous=192.0.2.1, 198.51.100.9"),
        "{text}"
    );
    assert!(
        text.contains("INFO extra value removed; ddns owns this name and type record=a.example.com A removed=198.51.100.9"),
        "{text}"
    );
    assert_eq!(
        text.matches("update held back by the minimum update interval; it will be written when the interval ends").count(),
        1,
        "logged once, not on every wakeup:\n{text}"
    );
    assert!(
        text.contains(
            "INFO record updated record=a.example.com A address=192.0.2.2 previous=192.0.2.1"
        ),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_burst_logs_one_warning_and_one_summary() {
    let (logs, _guard) = capture();
    let provider = FakeProvider::new(true);
    provider.set_write_delay(Duration::from_secs(1));
    let mut s = settings(vec![record("a.example.com", V4)]);
    s.event_capacity = 2;
    s.min_update_interval = Duration::ZERO;
    let h = Harness::start(s, provider.clone()).await;
    h.observe("192.0.2.1").await;
    for i in 0..1000u32 {
        h.send(IpEvent::Observed(
            std::net::Ipv4Addr::from(0xC633_6400 + (i % 200)).into(),
        ));
    }
    h.send(IpEvent::Observed(ip("203.0.113.5")));
    sleep(Duration::from_secs(10)).await;
    h.stop().await.expect("stop");
    let text = logs.text();
    assert_eq!(
        text.matches("address events arrive faster than they are handled; coalescing them, the latest address of each family is kept").count(),
        1,
        "{text}"
    );
    let summaries: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("event burst over"))
        .collect();
    assert_eq!(summaries.len(), 1, "{text}");
    assert!(summaries[0].starts_with(" WARN event burst over; coalesced events were folded into the latest address coalesced="), "{}", summaries[0]);
    assert_eq!(
        provider.published("a.example.com/A"),
        vec![ip("203.0.113.5")]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failure_warns_once_then_recovery_is_reported() {
    let (logs, _guard) = capture();
    let provider = FakeProvider::new(true);
    for _ in 0..3 {
        provider.fail_next(super::fake::Op::Write, false, || {
            crate::ProviderError::transient("SERVFAIL from 192.0.2.53")
        });
    }
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(60)).await;
    h.stop().await.expect("stop");
    let text = logs.text();
    assert_eq!(
        text.matches("provider request failed; retrying with back-off")
            .count(),
        1,
        "{text}"
    );
    assert!(text.contains("error=SERVFAIL from 192.0.2.53"), "{text}");
    assert!(
        text.contains("INFO record recovered record=a.example.com A attempts=3"),
        "{text}"
    );
}

/// Thousands of records must not flood the journal at info level: past 20,
/// records are named at debug level and one line counts them.
#[tokio::test(start_paused = true)]
async fn many_records_are_summed_up_not_named_one_by_one() {
    let (logs, _guard) = capture();
    let provider = FakeProvider::new(true);
    let names: Vec<String> = (0..25).map(|i| format!("h{i}.example.com")).collect();
    let records = names.iter().map(|n| record(n, V4)).collect();
    let h = Harness::start(settings(records), provider.clone()).await;
    h.observe("192.0.2.1").await;
    h.stop().await.expect("stop");
    assert_eq!(provider.writes().len(), 25, "every record is written");
    let text = logs.text();
    assert!(
        text.contains(
            "INFO managing records; each is named at debug level records=25 provider=fake"
        ),
        "{text}"
    );
    assert!(!text.contains("managing record record="), "{text}");
    assert_eq!(
        text.matches("INFO record updated record=").count(),
        20,
        "{text}"
    );
    assert!(
        text.contains("INFO records updated in this pass; those not named above are at debug level updated=25 named=20"),
        "{text}"
    );
}
