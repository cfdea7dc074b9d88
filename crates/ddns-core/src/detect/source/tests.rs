use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::mpsc;

use super::*;

/// Answers from a script (the last one repeats), counting calls.
struct Scripted {
    name: String,
    answers: Mutex<VecDeque<Result<&'static str, &'static str>>>,
    last: Mutex<Result<&'static str, &'static str>>,
    calls: Mutex<Vec<Instant>>,
}

impl Scripted {
    fn new(name: &str, answers: &[Result<&'static str, &'static str>]) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            answers: Mutex::new(answers.iter().copied().collect()),
            last: Mutex::new(Err("no answer scripted")),
            calls: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

#[async_trait]
impl Detector for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, family: IpFamily) -> bool {
        family == IpFamily::V4
    }

    async fn detect(&self, _family: IpFamily) -> Result<IpAddr, SourceError> {
        self.calls.lock().unwrap().push(Instant::now());
        if let Some(next) = self.answers.lock().unwrap().pop_front() {
            *self.last.lock().unwrap() = next;
        }
        match *self.last.lock().unwrap() {
            Ok(address) => Ok(address.parse().unwrap()),
            Err(message) => Err(SourceError::new(message)),
        }
    }
}

struct ChannelTrigger(Mutex<Option<mpsc::UnboundedReceiver<()>>>);

impl Trigger for ChannelTrigger {
    fn changes(&self) -> BoxStream<'static, ()> {
        match self.0.lock().unwrap().take() {
            Some(mut rx) => stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed(),
            None => stream::pending().boxed(),
        }
    }
}

fn source(detectors: &[&Arc<Scripted>], trigger: Option<Arc<dyn Trigger>>) -> DetectingSource {
    let detectors = detectors
        .iter()
        .map(|d| (*d).clone() as Arc<dyn Detector>)
        .collect();
    DetectingSource::new(
        "http",
        detectors,
        trigger,
        DetectionSettings::new(vec![IpFamily::V4]),
    )
}

fn observed(address: &str) -> IpEvent {
    IpEvent::Observed(address.parse().unwrap())
}

/// The next event, or `None` if there is none within `wait` (paused
/// clock). Errors (a detection without a trusted answer) are skipped.
async fn next_within(
    stream: &mut BoxStream<'static, Result<IpEvent, SourceError>>,
    wait: Duration,
) -> Option<IpEvent> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(event))) => return Some(event),
            Ok(Some(Err(_))) => continue,
            Ok(None) | Err(_) => return None,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_split_is_reported_once_through_the_stream() {
    let a = Scripted::new("a", &[Ok("81.2.69.160")]);
    let b = Scripted::new("b", &[Ok("81.2.69.161")]);
    let mut events = source(&[&a, &b], None).watch();
    let first = tokio::time::timeout(Duration::from_secs(1), events.next())
        .await
        .expect("an item")
        .expect("not ended")
        .expect_err("a split is an error");
    assert_eq!(
        first.to_string(),
        "no trusted address; nothing is published until enough sources agree (ipv4: sources disagree: a says 81.2.69.160, b says 81.2.69.161)"
    );
    let later = tokio::time::timeout(Duration::from_secs(3600), events.next()).await;
    assert!(
        later.is_err(),
        "the same split is not reported again: {later:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn two_agreeing_detectors_make_an_event_and_polls_repeat_nothing() {
    let a = Scripted::new("a", &[Ok("81.2.69.160")]);
    let b = Scripted::new("b", &[Ok("81.2.69.160")]);
    let c = Scripted::new("c", &[Ok("81.2.69.9")]);
    let mut events = source(&[&a, &b, &c], None).watch();
    assert_eq!(
        next_within(&mut events, Duration::from_secs(1)).await,
        Some(observed("81.2.69.160"))
    );
    assert_eq!(
        next_within(&mut events, Duration::from_secs(1000)).await,
        None,
        "unchanged: nothing new"
    );
    assert_eq!(a.calls(), 4, "asked at 0, 300, 600 and 900 s");
}

#[tokio::test(start_paused = true)]
async fn a_split_publishes_nothing_until_they_agree() {
    let a = Scripted::new("a", &[Ok("81.2.69.160"), Ok("81.2.69.161")]);
    let b = Scripted::new("b", &[Ok("81.2.69.161")]);
    let mut events = source(&[&a, &b], None).watch();
    assert_eq!(
        next_within(&mut events, Duration::from_secs(299)).await,
        None
    );
    assert_eq!(
        next_within(&mut events, Duration::from_secs(2)).await,
        Some(observed("81.2.69.161"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_trigger_detects_at_once_and_a_burst_costs_one_round() {
    let a = Scripted::new("a", &[Ok("81.2.69.160"), Ok("81.2.69.170")]);
    let (tx, rx) = mpsc::unbounded_channel();
    let trigger: Arc<dyn Trigger> = Arc::new(ChannelTrigger(Mutex::new(Some(rx))));
    let mut events = source(&[&a], Some(trigger)).watch();
    assert_eq!(
        next_within(&mut events, Duration::from_secs(1)).await,
        Some(observed("81.2.69.160"))
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    for _ in 0..10 {
        tx.send(()).unwrap();
    }
    let start = Instant::now();
    assert_eq!(
        next_within(&mut events, Duration::from_secs(1)).await,
        Some(observed("81.2.69.170"))
    );
    assert!(
        Instant::now() - start < Duration::from_millis(300),
        "after the debounce, not the poll"
    );
    assert_eq!(a.calls(), 2, "ten triggers, one detection");
}

#[tokio::test(start_paused = true)]
async fn a_failing_detector_is_paused_while_the_others_carry_on() {
    let good = Scripted::new("good", &[Ok("81.2.69.160")]);
    let bad = Scripted::new("bad", &[Err("HTTP 503")]);
    let source = DetectingSource::new(
        "http",
        vec![
            good.clone() as Arc<dyn Detector>,
            bad.clone() as Arc<dyn Detector>,
        ],
        None,
        DetectionSettings {
            poll_interval: Duration::from_secs(10),
            ..DetectionSettings::new(vec![IpFamily::V4])
        },
    );
    let mut events = source.watch();
    // One of two answers: below the quorum of two, nothing is published.
    assert_eq!(
        next_within(&mut events, Duration::from_secs(3600)).await,
        None
    );
    assert_eq!(good.calls(), 361);
    assert!(bad.calls() <= 8, "30 s doubling to 1 h: {}", bad.calls());
}

#[tokio::test(start_paused = true)]
async fn failures_never_report_a_lost_address() {
    let a = Scripted::new("a", &[Ok("81.2.69.160"), Err("connection reset")]);
    let mut events = source(&[&a], None).watch();
    assert_eq!(
        next_within(&mut events, Duration::from_secs(1)).await,
        Some(observed("81.2.69.160"))
    );
    assert_eq!(
        next_within(&mut events, Duration::from_secs(7200)).await,
        None
    );
}

#[tokio::test(start_paused = true)]
async fn non_public_answers_are_refused_unless_allowed() {
    let a = Scripted::new("a", &[Ok("192.168.1.20")]);
    let mut events = source(&[&a], None).watch();
    assert_eq!(next_within(&mut events, Duration::from_secs(1)).await, None);
    let b = Scripted::new("b", &[Ok("192.168.1.20")]);
    let allowing = DetectingSource::new(
        "http",
        vec![b as Arc<dyn Detector>],
        None,
        DetectionSettings {
            allow_nonglobal: true,
            ..DetectionSettings::new(vec![IpFamily::V4])
        },
    );
    let mut events = allowing.watch();
    assert_eq!(
        next_within(&mut events, Duration::from_secs(1)).await,
        Some(observed("192.168.1.20"))
    );
}

#[tokio::test(start_paused = true)]
async fn current_asks_once_and_explains_a_failure() {
    let a = Scripted::new("a", &[Ok("81.2.69.160")]);
    let b = Scripted::new("b", &[Ok("81.2.69.161")]);
    let err = source(&[&a, &b], None).current().await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "no trusted address (ipv4: sources disagree: a says 81.2.69.160, b says 81.2.69.161)"
    );
}

/// A trigger whose stream ends at once.
struct EndedTrigger;

impl Trigger for EndedTrigger {
    fn changes(&self) -> BoxStream<'static, ()> {
        stream::empty().boxed()
    }
}

#[tokio::test(start_paused = true)]
async fn an_ended_trigger_falls_back_to_polling_without_spinning() {
    // Regression: a finished trigger stream made the watch loop spin.
    let a = Scripted::new("a", &[Ok("81.2.69.160")]);
    let mut events = source(&[&a], Some(Arc::new(EndedTrigger))).watch();
    assert_eq!(
        next_within(&mut events, Duration::from_secs(1)).await,
        Some(observed("81.2.69.160"))
    );
    assert_eq!(
        next_within(&mut events, Duration::from_secs(900)).await,
        None
    );
    assert_eq!(
        a.calls(),
        4,
        "asked at 0, 300, 600 and 900 s, not in a loop"
    );
}

/// A reconnect: the trigger fires while the link is down (every service
/// unreachable, so all are paused), then again when it is back: the second
/// round must ask them, not wait out their pauses until the next poll.
#[tokio::test(start_paused = true)]
async fn a_network_change_lifts_the_pauses_of_failed_detectors() {
    let a = Scripted::new(
        "a",
        &[
            Ok("81.2.69.160"),
            Err("network unreachable"),
            Ok("81.2.69.161"),
        ],
    );
    let b = Scripted::new(
        "b",
        &[
            Ok("81.2.69.160"),
            Err("network unreachable"),
            Ok("81.2.69.161"),
        ],
    );
    let (tx, rx) = mpsc::unbounded_channel();
    let trigger: Arc<dyn Trigger> = Arc::new(ChannelTrigger(Mutex::new(Some(rx))));
    let mut events = source(&[&a, &b], Some(trigger)).watch();
    assert_eq!(
        next_within(&mut events, Duration::from_secs(1)).await,
        Some(observed("81.2.69.160"))
    );
    // Link down: a triggered round where both fail (each paused 30 s).
    tx.send(()).unwrap();
    assert_eq!(next_within(&mut events, Duration::from_secs(2)).await, None);
    assert_eq!((a.calls(), b.calls()), (2, 2));
    // Link back 2 s later: asked again at once, the new address follows.
    tx.send(()).unwrap();
    assert_eq!(
        next_within(&mut events, Duration::from_secs(1)).await,
        Some(observed("81.2.69.161")),
        "the pauses of the outage must not hold the reconnect back"
    );
}

/// After a round without a trusted answer (reported through the stream),
/// the same address agreed on again is said again: that ends the failure
/// for the engine. Without a failure in between, it is not repeated.
#[tokio::test(start_paused = true)]
async fn the_same_address_after_a_failure_is_said_again() {
    let a = Scripted::new(
        "a",
        &[Ok("81.2.69.160"), Ok("81.2.69.161"), Ok("81.2.69.160")],
    );
    let b = Scripted::new("b", &[Ok("81.2.69.160")]);
    let mut events = source(&[&a, &b], None).watch();
    assert_eq!(
        next_item(&mut events, 1).await.unwrap().unwrap(),
        observed("81.2.69.160")
    );
    let split = next_item(&mut events, 301)
        .await
        .unwrap()
        .expect_err("a split");
    assert!(split.to_string().contains("sources disagree"), "{split}");
    assert_eq!(
        next_item(&mut events, 301).await.unwrap().unwrap(),
        observed("81.2.69.160"),
        "agreed again on the address already reported"
    );
    assert!(
        next_item(&mut events, 1000).await.is_none(),
        "and not again after that"
    );
}

/// The next item, errors included, within `wait` seconds (paused clock).
async fn next_item(
    stream: &mut BoxStream<'static, Result<IpEvent, SourceError>>,
    wait: u64,
) -> Option<Result<IpEvent, SourceError>> {
    tokio::time::timeout(Duration::from_secs(wait), stream.next())
        .await
        .ok()
        .flatten()
}
