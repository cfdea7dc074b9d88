//! The operator's `/metrics`, `/healthz` and `/readyz` over HTTP, and what
//! Prometheus's `promtool check metrics` says of the exposition (skipped
//! without promtool unless `DDNS_REQUIRE_SYSTEM_TESTS=1`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use ddns_operator::metrics::OperatorMetrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let code = answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

fn promtool_accepts(text: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                !ddns_testkit::require_system_tests(),
                "promtool is not installed (Debian package prometheus) and DDNS_REQUIRE_SYSTEM_TESTS=1"
            );
            eprintln!("SKIPPED promtool check: promtool is not installed");
            return;
        }
        Err(e) => panic!("promtool: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim().is_empty() && stderr.trim().is_empty(),
        "promtool: {}\n{stdout}\n{stderr}\n{text}",
        output.status
    );
}

#[tokio::test]
async fn endpoints_answer_and_promtool_accepts_the_metrics() {
    let metrics = Arc::new(OperatorMetrics::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let endpoints: Arc<dyn ddns_metrics::Endpoints> = metrics.clone();
    let server = tokio::spawn(ddns_metrics::serve_endpoints(
        listener,
        endpoints,
        async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        },
    ));

    assert_eq!(get(addr, "/healthz").await, (200, "ok\n".to_string()));
    assert_eq!(
        get(addr, "/readyz").await,
        (503, "starting: reading resources\n".to_string())
    );

    metrics.reconciled("DNSZone", Ok(()), Duration::from_millis(12));
    metrics.reconciled("DNSZone", Err("delivery"), Duration::from_millis(40));
    metrics.zone_records("dns/example", 25);
    metrics.changed(3);
    metrics.set_leader(true);
    metrics.set_synced();
    assert_eq!(
        get(addr, "/readyz").await,
        (200, "ready: leading\n".to_string())
    );

    let (code, text) = get(addr, "/metrics").await;
    assert_eq!(code, 200);
    for line in [
        "# TYPE ddns_operator_reconciles_total counter",
        "ddns_operator_reconciles_total{kind=\"DNSZone\",result=\"error\"} 1",
        "ddns_operator_reconcile_errors_total{kind=\"DNSZone\",reason=\"delivery\"} 1",
        "ddns_operator_records_managed 25",
        "ddns_operator_leader 1",
        "ddns_operator_rrset_changes_total 3",
    ] {
        assert!(text.contains(line), "missing {line}:\n{text}");
    }
    promtool_accepts(&text);

    stop_tx.send_replace(true);
    server.await.unwrap();
}
