//! Moving one recursive question and its answer: UDP from a socket of the
//! server's family, TCP when the answer is truncated.
//!
//! `ddns_dns::Client` asks without recursion and in class IN only (it
//! talks to authoritative servers), so the few lines that move bytes live
//! here. Messages come from hickory-proto and answers are checked by
//! `ddns_dns::parse_response`; nothing here touches the wire format.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ddns_dns::Error as DnsError;
use ddns_dns::hickory_proto::op::Message;
use ddns_dns::parse_response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, UdpSocket};
use tracing::debug;

/// One question over UDP, asked again over TCP when the answer is cut short.
pub(super) async fn exchange(
    server: SocketAddr,
    request: &Message,
    timeout: Duration,
) -> Result<Message, DnsError> {
    let bytes = request.to_vec().map_err(|e| DnsError::Encode {
        reason: e.to_string(),
    })?;
    let id = request.metadata.id;
    let parse = |answer: &[u8]| {
        parse_response(answer, request).map_err(|reason| DnsError::Malformed { server, reason })
    };
    let response = parse(&within(server, timeout, udp(server, &bytes, id)).await?)?;
    if !response.metadata.truncation {
        return Ok(response);
    }
    debug!(server = %server, "answer truncated; asking again over TCP");
    parse(&within(server, timeout, tcp(server, &bytes, id)).await?)
}

async fn within(
    server: SocketAddr,
    timeout: Duration,
    exchange: impl Future<Output = Result<Vec<u8>, DnsError>>,
) -> Result<Vec<u8>, DnsError> {
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| DnsError::Timeout {
            server,
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
        })?
}

fn io_error(server: SocketAddr, error: std::io::Error) -> DnsError {
    use std::io::ErrorKind::*;
    match error.kind() {
        ConnectionRefused | ConnectionReset | HostUnreachable | NetworkUnreachable
        | AddrNotAvailable => DnsError::Unreachable {
            server,
            source: error,
        },
        _ => DnsError::Io {
            server,
            source: error,
        },
    }
}

/// The unspecified address of the server's family, so that the server
/// sees us from an address of the family asked.
fn local_for(server: SocketAddr) -> SocketAddr {
    if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    }
}

fn is_answer_to(bytes: &[u8], id: u16) -> bool {
    bytes.len() >= 12 && u16::from_be_bytes([bytes[0], bytes[1]]) == id && bytes[2] & 0x80 != 0
}

/// Datagrams from elsewhere are dropped by the connected socket; strays
/// with another ID are skipped.
async fn udp(server: SocketAddr, request: &[u8], id: u16) -> Result<Vec<u8>, DnsError> {
    let socket = UdpSocket::bind(local_for(server))
        .await
        .map_err(|e| io_error(server, e))?;
    socket
        .connect(server)
        .await
        .map_err(|e| io_error(server, e))?;
    socket
        .send(request)
        .await
        .map_err(|e| io_error(server, e))?;
    let mut buffer = vec![0u8; 65_535];
    loop {
        let n = socket
            .recv(&mut buffer)
            .await
            .map_err(|e| io_error(server, e))?;
        if is_answer_to(&buffer[..n], id) {
            buffer.truncate(n);
            return Ok(buffer);
        }
    }
}

async fn tcp(server: SocketAddr, request: &[u8], id: u16) -> Result<Vec<u8>, DnsError> {
    let length = u16::try_from(request.len()).map_err(|_| DnsError::Encode {
        reason: format!(
            "a {}-byte question does not fit in TCP framing",
            request.len()
        ),
    })?;
    let socket = if server.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| io_error(server, e))?;
    socket
        .bind(local_for(server))
        .map_err(|e| io_error(server, e))?;
    let mut stream = socket
        .connect(server)
        .await
        .map_err(|e| io_error(server, e))?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(request);
    stream
        .write_all(&framed)
        .await
        .map_err(|e| io_error(server, e))?;
    loop {
        let length = stream.read_u16().await.map_err(|e| io_error(server, e))?;
        let mut buffer = vec![0u8; usize::from(length)];
        stream
            .read_exact(&mut buffer)
            .await
            .map_err(|e| io_error(server, e))?;
        if is_answer_to(&buffer, id) {
            return Ok(buffer);
        }
    }
}
