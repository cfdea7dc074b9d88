//! One request to the gateway over UDP, retransmitted until an answer
//! arrives.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::Instant;
use tracing::debug;

use crate::error::{Error, Result};

/// When to send again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// The wait after the first request.
    pub(crate) initial: Duration,
    /// The longest wait between two requests.
    pub(crate) max_interval: Duration,
    /// How many requests at most.
    pub(crate) attempts: u32,
    /// Each wait is scaled by a random factor in `1 ± jitter`.
    pub(crate) jitter: f64,
}

impl Schedule {
    /// RFC 6886 §3.1: 250 ms, doubling, nine requests (about 64 s in all).
    pub(crate) const NATPMP: Schedule = Schedule {
        initial: Duration::from_millis(250),
        max_interval: Duration::from_secs(64),
        attempts: 9,
        jitter: 0.0,
    };

    /// RFC 6887 §8.1.1: 3 s (±10 %), doubling up to 1024 s. A detection
    /// is one-shot, so the attempts are bounded; the caller's timeout
    /// usually ends it first.
    pub(crate) const PCP: Schedule = Schedule {
        initial: Duration::from_secs(3),
        max_interval: Duration::from_secs(1024),
        attempts: 9,
        jitter: 0.1,
    };

    fn wait(&self, attempt: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_interval);
        if self.jitter == 0.0 {
            return base;
        }
        let factor = 1.0 + self.jitter * (fastrand::f64() * 2.0 - 1.0);
        base.mul_f64(factor)
    }
}

/// A UDP socket of the gateway's family connected to it: the kernel then
/// drops datagrams from anyone else.
pub(crate) async fn connect(gateway: SocketAddr) -> Result<UdpSocket> {
    let local: SocketAddr = match gateway {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let fail = |source| Error::SendFailed { gateway, source };
    let socket = UdpSocket::bind(local).await.map_err(fail)?;
    socket.connect(gateway).await.map_err(fail)?;
    Ok(socket)
}

/// Sends `request` on the `schedule` until `answer` accepts a datagram.
///
/// `answer` returns the result for a datagram that answers the request, or
/// a "stray" error (see [`Error::is_stray`]) for one to ignore: a late
/// answer to an earlier request, a multicast announcement, garbage.
pub(crate) async fn exchange<T>(
    socket: &UdpSocket,
    gateway: SocketAddr,
    request: &[u8],
    schedule: Schedule,
    mut answer: impl FnMut(&[u8]) -> Result<T>,
) -> Result<T> {
    // Large enough for any PCP message (RFC 6887 §7: at most 1100 bytes);
    // a longer datagram is truncated and then fails the length check.
    let mut buffer = [0u8; 1100 + 1];
    for attempt in 0..schedule.attempts {
        socket
            .send(request)
            .await
            .map_err(|source| Error::SendFailed { gateway, source })?;
        let deadline = Instant::now() + schedule.wait(attempt);
        loop {
            let received = tokio::select! {
                () = tokio::time::sleep_until(deadline) => break,
                received = socket.recv(&mut buffer) => received,
            };
            let len = match received {
                Ok(len) => len,
                // An ICMP port unreachable from an earlier request: the
                // gateway may not run the service yet; keep trying.
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                    debug!(gateway = %gateway, "gateway port unreachable");
                    continue;
                }
                Err(source) => return Err(Error::ReceiveFailed { gateway, source }),
            };
            match answer(&buffer[..len]) {
                Err(error) if error.is_stray() => {
                    debug!(gateway = %gateway, len, reason = %error, "ignored a datagram that is not the answer");
                }
                result => return result,
            }
        }
        debug!(gateway = %gateway, attempt = attempt + 1, "no answer yet; sending again");
    }
    Err(Error::NoAnswer {
        gateway,
        attempts: schedule.attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natpmp_waits_double_from_250_ms() {
        let waits: Vec<u128> = (0..9)
            .map(|a| Schedule::NATPMP.wait(a).as_millis())
            .collect();
        assert_eq!(
            waits,
            [250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000]
        );
    }

    #[test]
    fn pcp_waits_start_near_3_s_and_stay_within_10_percent() {
        for attempt in 0..12 {
            let base = Duration::from_secs(3)
                .saturating_mul(1 << attempt)
                .min(Duration::from_secs(1024));
            let wait = Schedule::PCP.wait(attempt);
            assert!(
                wait >= base.mul_f64(0.9) && wait <= base.mul_f64(1.1),
                "{attempt}: {wait:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn stray_datagrams_are_skipped_and_silence_is_retransmitted() {
        let gateway = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let gateway_address = gateway.local_addr().unwrap();
        let client = connect(gateway_address).await.unwrap();
        let server = async {
            let mut buffer = [0u8; 16];
            // Ignore the first request: the client must send again.
            let (_, peer) = gateway.recv_from(&mut buffer).await.unwrap();
            let (_, peer2) = gateway.recv_from(&mut buffer).await.unwrap();
            assert_eq!(peer, peer2);
            gateway.send_to(b"junk", peer).await.unwrap();
            gateway.send_to(b"answer", peer).await.unwrap();
        };
        let exchange = exchange(&client, gateway_address, b"ask", Schedule::NATPMP, |d| {
            if d == b"answer" {
                Ok(d.len())
            } else {
                Err(Error::Truncated {
                    len: d.len(),
                    needed: 6,
                })
            }
        });
        let (result, ()) = tokio::join!(exchange, server);
        assert_eq!(result.unwrap(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_gateway_gives_no_answer_after_all_attempts() {
        let gateway = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let gateway_address = gateway.local_addr().unwrap();
        let client = connect(gateway_address).await.unwrap();
        let schedule = Schedule {
            attempts: 3,
            ..Schedule::NATPMP
        };
        let error = exchange(&client, gateway_address, b"ask", schedule, |_| Ok(()))
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!("no answer from the gateway {gateway_address} after 3 requests")
        );
        let mut buffer = [0u8; 8];
        for _ in 0..3 {
            let (len, _) = gateway.recv_from(&mut buffer).await.unwrap();
            assert_eq!(&buffer[..len], b"ask");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_definitive_error_answer_ends_the_exchange() {
        let gateway = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let gateway_address = gateway.local_addr().unwrap();
        let client = connect(gateway_address).await.unwrap();
        let server = async {
            let mut buffer = [0u8; 16];
            let (_, peer) = gateway.recv_from(&mut buffer).await.unwrap();
            gateway.send_to(b"no", peer).await.unwrap();
        };
        let exchange = exchange(&client, gateway_address, b"ask", Schedule::NATPMP, |_| {
            Err::<(), _>(Error::PcpUnsupported)
        });
        let (result, ()) = tokio::join!(exchange, server);
        assert!(matches!(result, Err(Error::PcpUnsupported)));
    }
}
