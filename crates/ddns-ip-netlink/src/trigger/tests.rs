//! The trigger against a scripted kernel, on tokio's paused clock: delays
//! are exact and "nothing happens" is decided without waiting.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use netlink_packet_route::address::{AddressAttribute, CacheInfo};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, State, Stats};

use tokio::time::Instant;

use super::*;
use crate::follow::MAX_RETRY;
use crate::kernel::Notice;
use crate::testing::{
    FakeKernel, address_message, default_route, del_address, del_route, link_in_state,
    link_message, new_address, new_route, route_message, running, up_link,
};

type TriggerStream = BoxStream<'static, ()>;

const V0: u32 = 3;

fn base() -> Vec<RouteNetlinkMessage> {
    vec![
        up_link(1, "eth0"),
        up_link(V0, "v0"),
        new_address(V0, "192.0.2.2"),
        new_address(V0, "2001:db8::2"),
        new_route(default_route("192.0.2.1", V0)),
    ]
}

fn changes(kernel: &FakeKernel) -> TriggerStream {
    Changes::new(kernel.clone(), Network::new(Vec::new())).into_stream()
}

/// Subscribed, with the initial dump read and nothing yielded for it.
async fn started(state: Vec<RouteNetlinkMessage>) -> (FakeKernel, TriggerStream) {
    let kernel = FakeKernel::with_state(state);
    let mut changes = changes(&kernel);
    assert_quiet(&mut changes).await;
    assert_eq!(kernel.subscriptions().len(), 1);
    (kernel, changes)
}

async fn next(changes: &mut TriggerStream) {
    tokio::time::timeout(Duration::from_secs(3600), changes.next())
        .await
        .expect("a trigger within the hour")
        .expect("the stream never ends");
}

/// With the clock paused, the timeout fires as soon as the trigger is idle
/// (and the clock has moved on by an hour).
async fn assert_quiet(changes: &mut TriggerStream) {
    assert_quiet_for(changes, Duration::from_secs(3600)).await;
}

async fn assert_quiet_for(changes: &mut TriggerStream, period: Duration) {
    if tokio::time::timeout(period, changes.next()).await.is_ok() {
        panic!("expected no trigger");
    }
}

fn refresh(address: &str, preferred: u32, valid: u32) -> RouteNetlinkMessage {
    let mut message = address_message(V0, address);
    let mut info = CacheInfo::default();
    info.ifa_preferred = preferred;
    info.ifa_valid = valid;
    message.attributes.push(AddressAttribute::CacheInfo(info));
    RouteNetlinkMessage::NewAddress(message)
}

#[tokio::test(start_paused = true)]
async fn the_initial_dump_does_not_trigger() {
    let (kernel, _changes) = started(base()).await;
    assert_eq!(kernel.dumps(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_lifetime_refresh_does_not_trigger() {
    let (kernel, mut changes) = started(base()).await;
    for left in (1..50).rev() {
        kernel.send_messages([
            refresh("2001:db8::2", left, left + 100),
            refresh("192.0.2.2", left, left + 100),
        ]);
        assert_quiet(&mut changes).await;
    }
    kernel.send_messages([new_address(V0, "192.0.2.2")]);
    assert_quiet(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn a_new_address_triggers() {
    let (kernel, mut changes) = started(base()).await;
    kernel.send_messages([new_address(V0, "2001:db8::3")]);
    next(&mut changes).await;
    assert_quiet(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn a_removed_address_triggers() {
    let (kernel, mut changes) = started(base()).await;
    kernel.send_messages([del_address(V0, "2001:db8::2")]);
    next(&mut changes).await;
    assert_quiet(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn default_route_added_and_removed_trigger() {
    let (kernel, mut changes) = started(base()).await;
    kernel.send_messages([new_route(default_route("fe80::1", V0))]);
    next(&mut changes).await;
    kernel.send_messages([new_route(default_route("fe80::1", V0))]);
    assert_quiet(&mut changes).await;
    kernel.send_messages([del_route(default_route("192.0.2.1", V0))]);
    next(&mut changes).await;
    assert_quiet(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn a_replaced_default_route_triggers() {
    let (kernel, mut changes) = started(base()).await;
    let replacement = new_route(default_route("192.0.2.9", V0));
    kernel.send([Notice::Replacement(replacement)]);
    next(&mut changes).await;
    let back = new_route(default_route("192.0.2.1", V0));
    kernel.send([Notice::Replacement(back)]);
    next(&mut changes).await;
    assert_quiet(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn a_route_that_is_not_a_default_route_does_not_trigger() {
    let (kernel, mut changes) = started(base()).await;
    let prefix = route_message("198.51.100.0", 24, Some("192.0.2.1"), V0);
    kernel.send_messages([new_route(prefix.clone()), del_route(prefix)]);
    assert_quiet(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn link_down_and_up_trigger() {
    let (kernel, mut changes) = started(base()).await;
    kernel.send_messages([link_in_state(V0, "v0", LinkFlags::Broadcast, State::Down)]);
    next(&mut changes).await;
    assert_quiet(&mut changes).await;
    kernel.send_messages([up_link(V0, "v0")]);
    next(&mut changes).await;
    assert_quiet(&mut changes).await;
    kernel.send_messages([link_in_state(
        V0,
        "v0",
        LinkFlags::Up,
        State::LowerLayerDown,
    )]);
    next(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn a_statistics_only_link_message_does_not_trigger() {
    let (kernel, mut changes) = started(base()).await;
    for packets in 1..20 {
        let mut message = link_message(V0, "v0", running());
        message.attributes.push(LinkAttribute::OperState(State::Up));
        let mut stats = Stats::default();
        stats.rx_packets = packets;
        message.attributes.push(LinkAttribute::Stats(stats));
        kernel.send_messages([RouteNetlinkMessage::NewLink(message)]);
        assert_quiet(&mut changes).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_burst_yields_once() {
    let (kernel, mut changes) = started(base()).await;
    kernel.send_messages([
        link_in_state(V0, "v0", LinkFlags::Up, State::LowerLayerDown),
        del_address(V0, "192.0.2.2"),
        del_route(default_route("192.0.2.1", V0)),
        up_link(V0, "v0"),
        new_address(V0, "192.0.2.7"),
        new_route(default_route("192.0.2.254", V0)),
    ]);
    next(&mut changes).await;
    assert_quiet(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn an_overrun_triggers_once_and_resyncs() {
    let (kernel, mut changes) = started(base()).await;
    // Lost while the buffer overflowed: .2 replaced by .7.
    let mut state = base();
    state[2] = new_address(V0, "192.0.2.7");
    kernel.set_state(state);
    kernel.send([Notice::Overrun, Notice::Overrun]);
    next(&mut changes).await;
    assert_quiet(&mut changes).await;
    assert_eq!(kernel.dumps(), 2, "overruns in one batch cost one dump");
    assert_eq!(
        kernel.subscriptions().len(),
        2,
        "an overrun replaces the socket"
    );
    // The resynced state knows .7, so its refresh is no change; .2 is gone.
    kernel.send_messages([new_address(V0, "192.0.2.7"), del_address(V0, "192.0.2.2")]);
    assert_quiet(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn an_overrun_that_lost_nothing_still_triggers() {
    let (kernel, mut changes) = started(base()).await;
    kernel.send([Notice::Overrun]);
    next(&mut changes).await;
    assert_quiet(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_socket_is_resubscribed_with_a_growing_delay() {
    let (kernel, mut changes) = started(base()).await;
    let failed_at = Instant::now();
    kernel.fail_socket();
    kernel.fail_subscribes(3);
    assert_quiet(&mut changes).await;
    let after: Vec<Duration> = kernel.subscriptions()[1..]
        .iter()
        .map(|at| *at - failed_at)
        .collect();
    let expected: Vec<Duration> = [100, 300, 700, 1500]
        .into_iter()
        .map(Duration::from_millis)
        .collect();
    assert_eq!(after, expected, "100, 200, 400 then 800 ms apart");
    assert_eq!(kernel.dumps(), 2);
    // Still following after resubscribing, and the outage changed nothing.
    kernel.send_messages([del_address(V0, "192.0.2.2")]);
    next(&mut changes).await;
    assert_quiet(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn a_change_during_an_outage_triggers_after_resubscribing() {
    let (kernel, mut changes) = started(base()).await;
    kernel.fail_socket();
    let mut state = base();
    state.push(new_address(V0, "2001:db8::99"));
    kernel.set_state(state);
    next(&mut changes).await;
    assert_eq!(kernel.subscriptions().len(), 2);
    assert_quiet(&mut changes).await;
}

/// Fails the socket, stays quiet for `period`, and returns how long after
/// the failure the last subscription was made.
async fn fail_and_measure(
    kernel: &FakeKernel,
    changes: &mut TriggerStream,
    period: Duration,
) -> Duration {
    let failed_at = Instant::now();
    kernel.fail_socket();
    assert_quiet_for(changes, period).await;
    *kernel.subscriptions().last().expect("subscribed") - failed_at
}

#[tokio::test(start_paused = true)]
async fn the_retry_delay_starts_over_after_a_lasting_subscription() {
    let (kernel, mut changes) = started(base()).await;
    let second = Duration::from_secs(1);
    let mut delays = Vec::new();
    for period in [second, second, MAX_RETRY + second, second] {
        delays.push(fail_and_measure(&kernel, &mut changes, period).await);
    }
    let expected: Vec<Duration> = [100, 200, 400, 100]
        .into_iter()
        .map(Duration::from_millis)
        .collect();
    assert_eq!(delays, expected);
}

#[tokio::test(start_paused = true)]
async fn an_unchanged_network_after_an_outage_does_not_trigger() {
    let (kernel, mut changes) = started(base()).await;
    kernel.fail_socket();
    kernel.fail_dumps(2);
    assert_quiet(&mut changes).await;
    assert_eq!(kernel.subscriptions().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_late_first_subscription_triggers_once() {
    let kernel = FakeKernel::with_state(base());
    kernel.fail_subscribes(2);
    let mut changes = changes(&kernel);
    // What changed before the subscription worked is unknown.
    next(&mut changes).await;
    assert_eq!(kernel.subscriptions().len(), 3);
    assert_quiet(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn only_the_named_interfaces_trigger() {
    let kernel = FakeKernel::with_state(base());
    let network = Network::new(vec!["v0".into()]);
    let mut changes = Changes::new(kernel.clone(), network).into_stream();
    assert_quiet(&mut changes).await;
    kernel.send_messages([
        new_address(1, "198.51.100.1"),
        link_in_state(1, "eth0", LinkFlags::Broadcast, State::Down),
    ]);
    assert_quiet(&mut changes).await;
    kernel.send_messages([new_address(V0, "198.51.100.2")]);
    next(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn a_change_between_the_subscription_and_the_dump_triggers_once() {
    let kernel = FakeKernel::with_state(base());
    let early = Changes::new(kernel.clone(), Network::new(Vec::new())).subscribe_now();
    assert_eq!(
        kernel.subscriptions().len(),
        1,
        "subscribed before any poll"
    );
    // The address came before the dump, which therefore already holds it.
    let mut state = base();
    state.push(new_address(V0, "192.0.2.7"));
    kernel.set_state(state);
    kernel.send_messages([new_address(V0, "192.0.2.7")]);
    let mut changes = early.into_stream();
    next(&mut changes).await;
    assert_quiet(&mut changes).await;
    assert_eq!(kernel.subscriptions().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_unwatched_message_before_the_dump_does_not_trigger() {
    let kernel = FakeKernel::with_state(base());
    let early = Changes::new(kernel.clone(), Network::new(vec!["v0".into()])).subscribe_now();
    let prefix = route_message("198.51.100.0", 24, Some("192.0.2.1"), V0);
    kernel.send_messages([
        new_route(prefix),
        new_address(1, "198.51.100.1"),
        link_in_state(1, "eth0", LinkFlags::Broadcast, State::Down),
    ]);
    let mut changes = early.into_stream();
    assert_quiet(&mut changes).await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_early_subscription_is_retried_on_the_first_poll() {
    let kernel = FakeKernel::with_state(base());
    kernel.fail_subscribes(1);
    let mut changes = Changes::new(kernel.clone(), Network::new(Vec::new()))
        .subscribe_now()
        .into_stream();
    // What happened before the subscription worked is unknown.
    next(&mut changes).await;
    let at = kernel.subscriptions();
    assert_eq!(at.len(), 2);
    assert_eq!(at[1] - at[0], Duration::from_millis(100));
    assert_quiet(&mut changes).await;
}
