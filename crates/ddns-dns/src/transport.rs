//! Moving messages: UDP with a TCP retry on truncation, or TCP only.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::error::{Error, Result};

/// How messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// UDP, retried over TCP when the answer is truncated (the default).
    #[default]
    Udp,
    /// TCP only.
    Tcp,
}

impl std::str::FromStr for Transport {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "udp" => Ok(Transport::Udp),
            "tcp" => Ok(Transport::Tcp),
            other => Err(format!(
                "'{other}' is not a transport (expected udp or tcp)"
            )),
        }
    }
}

/// Messages larger than this go over TCP even in UDP mode: a bigger UDP
/// datagram risks fragmentation on real networks.
pub(crate) const MAX_UDP_REQUEST: usize = 1232;

/// The largest answer accepted over UDP.
const UDP_BUFFER: usize = 65_535;

fn classify(server: SocketAddr, error: std::io::Error) -> Error {
    use std::io::ErrorKind::*;
    match error.kind() {
        ConnectionRefused | ConnectionReset | HostUnreachable | NetworkUnreachable
        | AddrNotAvailable => Error::Unreachable {
            server,
            source: error,
        },
        _ => Error::Io {
            server,
            source: error,
        },
    }
}

fn is_answer_to(bytes: &[u8], id: u16) -> bool {
    bytes.len() >= 12 && u16::from_be_bytes([bytes[0], bytes[1]]) == id && bytes[2] & 0x80 != 0
}

/// Sends one UDP datagram and waits for the answer with the same ID.
/// Datagrams from other sources are dropped by the connected socket;
/// strays with another ID are skipped.
pub(crate) async fn udp(
    server: SocketAddr,
    request: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Vec<u8>> {
    let exchange = async {
        let local: SocketAddr = if server.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|e| classify(server, e))?;
        socket
            .connect(server)
            .await
            .map_err(|e| classify(server, e))?;
        socket
            .send(request)
            .await
            .map_err(|e| classify(server, e))?;
        let mut buffer = vec![0u8; UDP_BUFFER];
        loop {
            let n = socket
                .recv(&mut buffer)
                .await
                .map_err(|e| classify(server, e))?;
            if is_answer_to(&buffer[..n], id) {
                buffer.truncate(n);
                return Ok(buffer);
            }
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| Error::Timeout {
            server,
            timeout_ms: timeout.as_millis() as u64,
        })?
}

/// Sends one message over a new TCP connection (2-byte length prefix).
pub(crate) async fn tcp(
    server: SocketAddr,
    request: &[u8],
    id: u16,
    timeout: Duration,
) -> Result<Vec<u8>> {
    let length = u16::try_from(request.len()).map_err(|_| Error::Encode {
        reason: format!(
            "a {}-byte message does not fit in TCP framing",
            request.len()
        ),
    })?;
    let exchange = async {
        let mut stream = TcpStream::connect(server)
            .await
            .map_err(|e| classify(server, e))?;
        let mut framed = Vec::with_capacity(request.len() + 2);
        framed.extend_from_slice(&length.to_be_bytes());
        framed.extend_from_slice(request);
        stream
            .write_all(&framed)
            .await
            .map_err(|e| classify(server, e))?;
        loop {
            let length = stream.read_u16().await.map_err(|e| classify(server, e))?;
            let mut buffer = vec![0u8; usize::from(length)];
            stream
                .read_exact(&mut buffer)
                .await
                .map_err(|e| classify(server, e))?;
            if is_answer_to(&buffer, id) {
                return Ok(buffer);
            }
        }
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| Error::Timeout {
            server,
            timeout_ms: timeout.as_millis() as u64,
        })?
}
