//! The fake served over plain HTTP/1.1, for a client in another process
//! (a real `ddns-operator run`) that finds it through a kubeconfig
//! ([`kubeconfig`]).

use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::FakeApi;

/// The fake served on a listener, until dropped.
///
/// Dropping it stops accepting connections; a connection already open
/// (a client's watch, say) ends when its client goes.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl HttpServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A kubeconfig naming this server, with `namespace` as the default
    /// namespace ([`kubeconfig`]).
    pub fn kubeconfig(&self, namespace: &str) -> String {
        kubeconfig(self.addr, namespace)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// A kubeconfig naming the server at `addr`: plain HTTP, no credentials,
/// `namespace` as the default namespace.
pub fn kubeconfig(addr: SocketAddr, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{addr}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {namespace}\ncurrent-context: fake\nusers:\n- name: fake\n  user: {{}}\n"
    )
}

impl FakeApi {
    /// Serves the fake over HTTP/1.1 on `listener`, from a task of the
    /// current Tokio runtime (so it must be called inside one).
    ///
    /// # Errors
    ///
    /// When the listener's address cannot be read.
    pub fn serve_http(&self, listener: TcpListener) -> std::io::Result<HttpServer> {
        self.serve_http_with(listener, |_| Duration::ZERO)
    }

    /// [`FakeApi::serve_http`], calling `before` with the head of each
    /// request as it arrives, and answering the request the returned time
    /// later: a log of arrivals, or a stand-in for a real server's latency.
    ///
    /// # Errors
    ///
    /// When the listener's address cannot be read.
    pub fn serve_http_with<F>(
        &self,
        listener: TcpListener,
        before: F,
    ) -> std::io::Result<HttpServer>
    where
        F: Fn(&http::request::Parts) -> Duration + Clone + Send + Sync + 'static,
    {
        let addr = listener.local_addr()?;
        let service = self.service();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of descriptors, say: wait instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let service = service.clone();
                let before = before.clone();
                tokio::spawn(async move {
                    let handler = service_fn(move |request: http::Request<Incoming>| {
                        let (parts, body) = request.into_parts();
                        let delay = before(&parts);
                        let request = http::Request::from_parts(parts, body);
                        let mut service = service.clone();
                        async move {
                            if !delay.is_zero() {
                                tokio::time::sleep(delay).await;
                            }
                            tower::Service::call(&mut service, request).await
                        }
                    });
                    // A connection ends with an error when the client stops
                    // in the middle of a watch; nothing to report.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), handler)
                        .await;
                });
            }
        });
        Ok(HttpServer { addr, accept })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, PostParams};
    use kube::config::{KubeConfigOptions, Kubeconfig};

    use super::*;

    #[tokio::test]
    async fn a_kube_client_reaches_the_fake_over_http_through_the_kubeconfig() {
        let fake = FakeApi::new();
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&seen);
        let server = fake
            .serve_http_with(listener, move |parts| {
                assert_eq!(parts.uri.path(), "/api/v1/namespaces/dns/configmaps");
                counter.fetch_add(1, Ordering::SeqCst);
                Duration::ZERO
            })
            .unwrap();
        let text = server.kubeconfig("dns");
        assert!(
            text.contains(&format!("    server: http://{}\n", server.addr())),
            "{text}"
        );
        let kubeconfig = Kubeconfig::from_yaml(&text).unwrap();
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        // The kubeconfig's namespace is the client's default.
        let maps: Api<ConfigMap> = Api::default_namespaced(client);
        let mut map = ConfigMap::default();
        map.metadata.name = Some("over-http".into());
        maps.create(&PostParams::default(), &map).await.unwrap();
        assert!(
            fake.get::<ConfigMap>(Some("dns"), "over-http")
                .unwrap()
                .is_some()
        );
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }
}
