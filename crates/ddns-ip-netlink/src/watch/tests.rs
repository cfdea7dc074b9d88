//! The watch state machine against a scripted kernel, on tokio's paused
//! clock: delays are exact and "nothing happens" is decided without waiting.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ddns_core::SelectionPolicy;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, CacheInfo};

use super::*;
use crate::follow::MAX_RETRY;
use crate::kernel::Notice;
use crate::testing::{FakeKernel, address_message, del_address, ip, new_address, new_link};

type EventStream = BoxStream<'static, Result<IpEvent, SourceError>>;

fn watch(kernel: &FakeKernel, families: &[IpFamily]) -> EventStream {
    let tracker = Tracker::new(SelectionPolicy::Interfaces(vec!["v0".into()]));
    Watcher::new(kernel.clone(), tracker, families.to_vec()).into_stream()
}

fn watch_both(kernel: &FakeKernel) -> EventStream {
    watch(kernel, &IpFamily::ALL)
}

async fn next(events: &mut EventStream) -> Result<IpEvent, SourceError> {
    tokio::time::timeout(Duration::from_secs(3600), events.next())
        .await
        .expect("an item within the hour")
        .expect("the stream never ends")
}

async fn next_event(events: &mut EventStream) -> IpEvent {
    next(events).await.expect("an event, not an error")
}

async fn next_error(events: &mut EventStream) -> String {
    match next(events).await {
        Ok(event) => panic!("expected an error, got {event:?}"),
        Err(error) => error.to_string(),
    }
}

/// With the clock paused, the timeout fires as soon as the watcher is idle
/// (and the clock has moved on by an hour).
async fn assert_quiet(events: &mut EventStream) {
    assert_quiet_for(events, Duration::from_secs(3600)).await;
}

async fn assert_quiet_for(events: &mut EventStream, period: Duration) {
    if let Ok(item) = tokio::time::timeout(period, events.next()).await {
        panic!("expected nothing, got {item:?}");
    }
}

fn observed(address: &str) -> IpEvent {
    IpEvent::Observed(ip(address))
}

fn refresh(address: &str, preferred: u32, valid: u32) -> RouteNetlinkMessage {
    let mut message = address_message(3, address);
    let mut info = CacheInfo::default();
    info.ifa_preferred = preferred;
    info.ifa_valid = valid;
    message.attributes.push(AddressAttribute::CacheInfo(info));
    RouteNetlinkMessage::NewAddress(message)
}

#[tokio::test(start_paused = true)]
async fn the_first_events_report_the_dump() {
    let kernel = FakeKernel::with_state(vec![
        new_link(3, "v0"),
        new_link(4, "v1"),
        new_address(4, "192.0.2.99"),
        new_address(3, "192.0.2.1"),
        new_address(3, "2001:db8::1"),
    ]);
    let mut events = watch_both(&kernel);
    assert_eq!(next_event(&mut events).await, observed("192.0.2.1"));
    assert_eq!(next_event(&mut events).await, observed("2001:db8::1"));
    assert_quiet(&mut events).await;
    assert_eq!(kernel.subscriptions().len(), 1);
    assert_eq!(kernel.dumps(), 1);
}

#[tokio::test(start_paused = true)]
async fn nothing_is_reported_until_an_address_appears() {
    let kernel = FakeKernel::with_state(vec![new_link(3, "v0")]);
    let mut events = watch_both(&kernel);
    assert_quiet(&mut events).await;
    kernel.send_messages([new_address(3, "2001:db8::1")]);
    assert_eq!(next_event(&mut events).await, observed("2001:db8::1"));
}

#[tokio::test(start_paused = true)]
async fn the_current_address_stays_until_removed_then_the_family_is_lost() {
    let kernel = FakeKernel::with_state(vec![new_link(3, "v0"), new_address(3, "192.0.2.1")]);
    let mut events = watch_both(&kernel);
    assert_eq!(next_event(&mut events).await, observed("192.0.2.1"));
    kernel.send_messages([new_address(3, "198.51.100.1")]);
    assert_quiet(&mut events).await;
    kernel.send_messages([del_address(3, "192.0.2.1")]);
    assert_eq!(next_event(&mut events).await, observed("198.51.100.1"));
    kernel.send_messages([del_address(3, "198.51.100.1")]);
    assert_eq!(next_event(&mut events).await, IpEvent::Lost(IpFamily::V4));
    assert_quiet(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn a_burst_costs_one_choice() {
    let kernel = FakeKernel::with_state(vec![new_link(3, "v0"), new_address(3, "192.0.2.1")]);
    let mut events = watch_both(&kernel);
    assert_eq!(next_event(&mut events).await, observed("192.0.2.1"));
    kernel.send_messages([
        del_address(3, "192.0.2.1"),
        new_address(3, "192.0.2.2"),
        del_address(3, "192.0.2.2"),
        new_address(3, "192.0.2.3"),
    ]);
    // Neither Lost nor the short-lived 192.0.2.2.
    assert_eq!(next_event(&mut events).await, observed("192.0.2.3"));
    assert_quiet(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn lifetime_refreshes_are_not_changes() {
    let kernel = FakeKernel::with_state(vec![new_link(3, "v0"), refresh("2001:db8::1", 100, 200)]);
    let mut events = watch_both(&kernel);
    assert_eq!(next_event(&mut events).await, observed("2001:db8::1"));
    kernel.send_messages([new_address(3, "2001:db8::2")]);
    for left in (1..100).rev() {
        kernel.send_messages([refresh("2001:db8::1", left, left + 100)]);
        assert_quiet(&mut events).await;
    }
    // The refreshed address is the old one: removing the newer one changes nothing.
    kernel.send_messages([del_address(3, "2001:db8::2")]);
    assert_quiet(&mut events).await;
    kernel.send_messages([refresh("2001:db8::1", 0, 100)]);
    assert_eq!(next_event(&mut events).await, IpEvent::Lost(IpFamily::V6));
}

#[tokio::test(start_paused = true)]
async fn an_overrun_resynchronises_from_a_dump() {
    let kernel = FakeKernel::with_state(vec![new_link(3, "v0"), new_address(3, "192.0.2.1")]);
    let mut events = watch_both(&kernel);
    assert_eq!(next_event(&mut events).await, observed("192.0.2.1"));
    // The messages that removed .1 and added .2 were lost.
    kernel.set_state(vec![new_link(3, "v0"), new_address(3, "192.0.2.2")]);
    kernel.send([Notice::Overrun]);
    assert_eq!(next_event(&mut events).await, observed("192.0.2.2"));
    assert_quiet(&mut events).await;
    assert_eq!(kernel.dumps(), 2);
    assert_eq!(
        kernel.subscriptions().len(),
        2,
        "an overrun replaces the subscription"
    );
}

#[tokio::test(start_paused = true)]
async fn regression_messages_queued_before_an_overrun_do_not_undo_the_resync() {
    let kernel = FakeKernel::with_state(vec![new_link(3, "v0"), new_address(3, "192.0.2.1")]);
    let mut events = watch_both(&kernel);
    assert_eq!(next_event(&mut events).await, observed("192.0.2.1"));
    // The socket reports the overflow before the messages it still holds:
    // here an old refresh of .1, whose removal was among the lost messages.
    kernel.set_state(vec![new_link(3, "v0")]);
    kernel.send([
        Notice::Overrun,
        Notice::Route(refresh("192.0.2.1", 50, 100)),
    ]);
    assert_eq!(next_event(&mut events).await, IpEvent::Lost(IpFamily::V4));
    assert_quiet(&mut events).await;
}

/// Found by the event-storm test (crates/ddnsd/tests/reliability_load.rs):
/// under a storm the follower dumped while the socket still held messages
/// from before the loss (tokio's cooperative budget made a read return
/// `Pending` after 128 messages), applied them on top of the dump, and an
/// address added there, whose removal was lost, stayed chosen for good.
#[tokio::test(start_paused = true)]
async fn regression_messages_older_than_an_overrun_read_during_the_dump_are_dropped() {
    let kernel = FakeKernel::with_state(vec![new_link(3, "v0"), new_address(3, "192.0.2.1")]);
    let mut events = watch_both(&kernel);
    assert_eq!(next_event(&mut events).await, observed("192.0.2.1"));
    // Lost: .1 removed, .5 removed, .9 added. Still queued, unread when the
    // dump starts: the addition of .5.
    kernel.set_state(vec![new_link(3, "v0"), new_address(3, "192.0.2.9")]);
    kernel.send_during_next_dump([Notice::Route(new_address(3, "192.0.2.5"))]);
    kernel.send([Notice::Overrun]);
    assert_eq!(next_event(&mut events).await, observed("192.0.2.9"));
    assert_quiet(&mut events).await;
    // .5 is not known: once .9 goes, nothing is left.
    kernel.send_messages([del_address(3, "192.0.2.9")]);
    assert_eq!(next_event(&mut events).await, IpEvent::Lost(IpFamily::V4));
    assert_quiet(&mut events).await;
}

#[tokio::test(start_paused = true)]
async fn an_overrun_that_lost_nothing_reports_nothing() {
    let state = vec![
        new_link(3, "v0"),
        new_address(3, "192.0.2.1"),
        new_address(3, "192.0.2.2"),
    ];
    let kernel = FakeKernel::with_state(state);
    let mut events = watch_both(&kernel);
    // Both come in one dump: the newer one wins.
    assert_eq!(next_event(&mut events).await, observed("192.0.2.2"));
    kernel.send([Notice::Overrun, Notice::Overrun]);
    assert_quiet(&mut events).await;
    assert_eq!(kernel.dumps(), 2, "overruns in one batch cost one dump");
}

#[tokio::test(start_paused = true)]
async fn a_failed_socket_is_reported_then_resubscribed_without_repeating_events() {
    let kernel = FakeKernel::with_state(vec![new_link(3, "v0"), new_address(3, "192.0.2.1")]);
    let mut events = watch_both(&kernel);
    assert_eq!(next_event(&mut events).await, observed("192.0.2.1"));
    kernel.fail_socket();
    assert_eq!(
        next_error(&mut events).await,
        "the netlink subscription socket failed; resubscribing in 100 ms"
    );
    assert_quiet(&mut events).await;
    let subscriptions = kernel.subscriptions();
    assert_eq!(subscriptions.len(), 2);
    assert_eq!(
        subscriptions[1] - subscriptions[0],
        Duration::from_millis(100)
    );
    assert_eq!(kernel.dumps(), 2);
    kernel.send_messages([del_address(3, "192.0.2.1")]);
    assert_eq!(next_event(&mut events).await, IpEvent::Lost(IpFamily::V4));
}

#[tokio::test(start_paused = true)]
async fn a_change_during_an_outage_is_reported_after_resubscribing() {
    let kernel = FakeKernel::with_state(vec![new_link(3, "v0"), new_address(3, "192.0.2.1")]);
    let mut events = watch_both(&kernel);
    assert_eq!(next_event(&mut events).await, observed("192.0.2.1"));
    kernel.fail_socket();
    kernel.set_state(vec![new_link(3, "v0"), new_address(3, "198.51.100.7")]);
    next_error(&mut events).await;
    assert_eq!(next_event(&mut events).await, observed("198.51.100.7"));
}

#[tokio::test(start_paused = true)]
async fn the_retry_delay_doubles_up_to_thirty_seconds() {
    let kernel = FakeKernel::with_state(vec![new_link(3, "v0"), new_address(3, "192.0.2.1")]);
    kernel.fail_subscribes(11);
    let mut events = watch_both(&kernel);
    let mut announced = Vec::new();
    for _ in 0..11 {
        let error = next_error(&mut events).await;
        assert!(
            error.starts_with("cannot subscribe; resubscribing in "),
            "{error}"
        );
        announced.push(
            error
                .trim_start_matches("cannot subscribe; resubscribing in ")
                .to_string(),
        );
    }
    assert_eq!(next_event(&mut events).await, observed("192.0.2.1"));
    let expected_ms = [
        100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000,
    ];
    let expected: Vec<String> = expected_ms.iter().map(|ms| format!("{ms} ms")).collect();
    assert_eq!(announced, expected);
    let at = kernel.subscriptions();
    let gaps: Vec<Duration> = at.windows(2).map(|w| w[1] - w[0]).collect();
    let expected: Vec<Duration> = expected_ms
        .iter()
        .map(|ms| Duration::from_millis(*ms))
        .collect();
    assert_eq!(gaps, expected);
}

#[tokio::test(start_paused = true)]
async fn the_retry_delay_starts_over_after_a_lasting_subscription() {
    let kernel = FakeKernel::with_state(vec![new_link(3, "v0")]);
    let mut events = watch_both(&kernel);
    assert_quiet_for(&mut events, Duration::from_secs(1)).await;
    kernel.fail_socket();
    assert!(next_error(&mut events).await.ends_with("in 100 ms"));
    assert_quiet_for(&mut events, Duration::from_secs(1)).await;
    kernel.fail_socket();
    assert!(next_error(&mut events).await.ends_with("in 200 ms"));
    assert_quiet_for(&mut events, MAX_RETRY + Duration::from_secs(1)).await;
    kernel.fail_socket();
    assert!(next_error(&mut events).await.ends_with("in 100 ms"));
    assert_eq!(kernel.subscriptions().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_failed_dump_is_reported_and_retried() {
    let kernel = FakeKernel::with_state(vec![new_link(3, "v0"), new_address(3, "192.0.2.1")]);
    kernel.fail_dumps(1);
    let mut events = watch_both(&kernel);
    assert_eq!(
        next_error(&mut events).await,
        "cannot list addresses; resubscribing in 100 ms"
    );
    assert_eq!(next_event(&mut events).await, observed("192.0.2.1"));
}

#[tokio::test(start_paused = true)]
async fn a_failed_resync_dump_resubscribes() {
    let kernel = FakeKernel::with_state(vec![new_link(3, "v0"), new_address(3, "192.0.2.1")]);
    let mut events = watch_both(&kernel);
    assert_eq!(next_event(&mut events).await, observed("192.0.2.1"));
    kernel.fail_dumps(1);
    kernel.set_state(vec![new_link(3, "v0")]);
    kernel.send([Notice::Overrun]);
    next_error(&mut events).await;
    assert_eq!(next_event(&mut events).await, IpEvent::Lost(IpFamily::V4));
    // The first, the one opened for the resync, and the retry.
    assert_eq!(kernel.subscriptions().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn only_the_configured_families_are_reported() {
    let kernel = FakeKernel::with_state(vec![
        new_link(3, "v0"),
        new_address(3, "192.0.2.1"),
        new_address(3, "2001:db8::1"),
    ]);
    let mut events = watch(&kernel, &[IpFamily::V6]);
    assert_eq!(next_event(&mut events).await, observed("2001:db8::1"));
    kernel.send_messages([del_address(3, "192.0.2.1")]);
    assert_quiet(&mut events).await;
}
