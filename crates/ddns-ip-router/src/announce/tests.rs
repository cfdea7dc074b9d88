use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use tokio::net::UdpSocket;

use super::*;

fn announcement(epoch: u32, address: [u8; 4]) -> Vec<u8> {
    let mut packet = vec![0, 128, 0, 0];
    packet.extend_from_slice(&epoch.to_be_bytes());
    packet.extend_from_slice(&address);
    packet
}

/// A gateway socket on its own loopback address, sending from port 5351
/// as gateways do.
async fn gateway(last_octet: u8) -> UdpSocket {
    UdpSocket::bind((Ipv4Addr::new(127, 0, 88, last_octet), 5351))
        .await
        .unwrap()
}

async fn next(stream: &mut BoxStream<'static, Announcement>) -> Announcement {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an announcement")
        .expect("the stream does not end")
}

#[tokio::test]
async fn new_addresses_are_reported_once_and_everything_else_is_ignored() {
    let listen = SocketAddrV4::new(Ipv4Addr::new(127, 0, 88, 1), 5350);
    let router = gateway(2).await;
    let stranger = gateway(3).await;
    let announcements =
        NatPmpAnnouncements::new(Some(Ipv4Addr::new(127, 0, 88, 2))).listening_on(listen);
    let mut stream = announcements.announcements();
    // The socket opens when the stream is first polled.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), stream.next())
            .await
            .is_err()
    );

    let a = [198, 51, 100, 1];
    let b = [198, 51, 100, 2];
    let send = async |socket: &UdpSocket, packet: Vec<u8>| {
        socket.send_to(&packet, listen).await.unwrap();
    };
    send(&router, announcement(1, a)).await;
    assert_eq!(
        next(&mut stream).await,
        Announcement {
            gateway: Ipv4Addr::new(127, 0, 88, 2),
            address: Ipv4Addr::from(a)
        }
    );
    // Repeats (with a growing epoch), a stranger, a PCP ANNOUNCE, junk, an
    // error result: none of them is reported; the next new address is.
    send(&router, announcement(1, a)).await;
    send(&router, announcement(2, a)).await;
    send(&stranger, announcement(2, [203, 0, 113, 9])).await;
    let mut pcp_announce = vec![2, 0x80, 0, 0];
    pcp_announce.extend_from_slice(&[0; 20]);
    send(&router, pcp_announce).await;
    send(&router, vec![0, 128, 0]).await;
    send(&router, vec![0, 128, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]).await;
    send(&router, announcement(3, b)).await;
    assert_eq!(next(&mut stream).await.address, Ipv4Addr::from(b));
    // Back to the first address is a change again.
    send(&router, announcement(4, a)).await;
    assert_eq!(next(&mut stream).await.address, Ipv4Addr::from(a));
}

#[tokio::test]
async fn the_trigger_yields_one_item_per_new_address() {
    let listen = SocketAddrV4::new(Ipv4Addr::new(127, 0, 88, 11), 5350);
    let router = gateway(12).await;
    let trigger: std::sync::Arc<dyn Trigger> = std::sync::Arc::new(
        NatPmpAnnouncements::new(Some(Ipv4Addr::new(127, 0, 88, 12))).listening_on(listen),
    );
    let mut changes = trigger.changes();
    assert!(
        tokio::time::timeout(Duration::from_millis(50), changes.next())
            .await
            .is_err()
    );
    for packet in [
        announcement(1, [198, 51, 100, 1]),
        announcement(1, [198, 51, 100, 1]),
        announcement(2, [198, 51, 100, 2]),
    ] {
        router.send_to(&packet, listen).await.unwrap();
    }
    for _ in 0..2 {
        tokio::time::timeout(Duration::from_secs(10), changes.next())
            .await
            .expect("a change")
            .expect("the stream does not end");
    }
    // The repeat gave no third item; a last new address gives the next one.
    router
        .send_to(&announcement(3, [198, 51, 100, 3]), listen)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), changes.next())
        .await
        .expect("a change")
        .expect("the stream does not end");
    assert!(changes.next().now_or_never().is_none());
}

#[tokio::test]
async fn listeners_share_the_port() {
    let listen = SocketAddrV4::new(Ipv4Addr::new(127, 0, 88, 21), 5350);
    let first = open(listen).unwrap();
    let second = open(listen).unwrap();
    assert_eq!(first.local_addr().unwrap(), second.local_addr().unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_socket_that_cannot_open_is_retried_and_the_stream_does_not_end() {
    // Not an address of this host: bind fails with EADDRNOTAVAIL.
    let listen = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 5350);
    let mut stream = NatPmpAnnouncements::new(None)
        .listening_on(listen)
        .announcements();
    let waited = tokio::time::timeout(Duration::from_secs(600), stream.next()).await;
    assert!(waited.is_err(), "neither an item nor the end: {waited:?}");
}
