//! `DDNS_VERIFY_*`: validated without I/O (except reading the CA file),
//! then built (resolving server names, reading resolv.conf, loading the
//! system's root certificates).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use ddns_core::config::{ConfigError, Env, validate_url};
use ddns_core::{Setting, Verifier, VerifierFactory, VerifierPlan};
use ddns_tls::CaFile;
use reqwest::Url;

use crate::dns::DnsVerifier;
use crate::doh::{DohVerifier, origin};
use crate::resolv::RESOLV_CONF;
use crate::server::ServerAddress;
use crate::{DNS, DOH};

const DNS_SERVER: &str = "DDNS_VERIFY_DNS_SERVER";
const DOH_URL: &str = "DDNS_VERIFY_DOH_URL";
const DOH_URL_FILE: &str = "DDNS_VERIFY_DOH_URL_FILE";
const CA_FILE: &str = "DDNS_VERIFY_CA_FILE";
const ALLOW_HTTP: &str = "DDNS_ALLOW_HTTP";

/// Makes [`DnsVerifier`]s from `DDNS_VERIFY_DNS_SERVER` (`DDNS_VERIFY=dns`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsVerifierFactory;

/// Makes [`DohVerifier`]s from `DDNS_VERIFY_DOH_URL` and
/// `DDNS_VERIFY_CA_FILE` (`DDNS_VERIFY=doh`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DohVerifierFactory;

/// A variable of the other kind is most likely left over from it.
fn refuse_other_kind(env: &Env, variables: &[&str], kind: &str) -> Result<(), ConfigError> {
    match variables.iter().find(|v| env.is_set(v)) {
        Some(variable) => Err(ConfigError::new(
            *variable,
            format!("is not used with DDNS_VERIFY={kind}; unset it"),
        )),
        None => Ok(()),
    }
}

fn startup(kind: &str, message: String) -> ddns_core::Error {
    ddns_core::Error::Startup {
        component: format!("verifier {kind}"),
        message,
    }
}

impl VerifierFactory for DnsVerifierFactory {
    fn name(&self) -> &'static str {
        DNS
    }

    fn variables(&self) -> &'static [&'static str] {
        &[DNS_SERVER]
    }

    fn configure(&self, env: &Env) -> Result<Box<dyn VerifierPlan>, ConfigError> {
        refuse_other_kind(env, &[DOH_URL, DOH_URL_FILE, CA_FILE], DNS)?;
        let servers = env
            .list(DNS_SERVER)?
            .map(|items| {
                ServerAddress::parse_list(&items)
                    .map_err(|reason| ConfigError::new(DNS_SERVER, reason))
            })
            .transpose()?;
        Ok(Box::new(DnsPlan {
            servers,
            resolv_conf: PathBuf::from(RESOLV_CONF),
        }))
    }
}

struct DnsPlan {
    /// `None`: the zone's authoritative servers.
    servers: Option<Vec<ServerAddress>>,
    resolv_conf: PathBuf,
}

#[async_trait]
impl VerifierPlan for DnsPlan {
    fn settings(&self) -> Vec<Setting> {
        let value = match &self.servers {
            Some(servers) => servers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            None => format!(
                "(the zone's authoritative servers, found through the resolvers of {})",
                self.resolv_conf.display()
            ),
        };
        vec![Setting::new(DNS_SERVER, value)]
    }

    async fn build(self: Box<Self>) -> ddns_core::Result<Arc<dyn Verifier>> {
        let verifier = match self.servers {
            Some(servers) => {
                let mut addresses = Vec::with_capacity(servers.len());
                for server in &servers {
                    let address = server
                        .resolve()
                        .await
                        .map_err(|reason| startup(DNS, format!("{reason} ({DNS_SERVER})")))?;
                    addresses.push(address);
                }
                DnsVerifier::new(addresses)
            }
            None => DnsVerifier::from_resolv_conf(&self.resolv_conf).map_err(|error| {
                startup(
                    DNS,
                    format!("{error}; set {DNS_SERVER} to the servers to ask"),
                )
            })?,
        };
        tracing::debug!(servers = %verifier.describe(), "DNS verifier ready");
        Ok(Arc::new(verifier))
    }
}

impl VerifierFactory for DohVerifierFactory {
    fn name(&self) -> &'static str {
        DOH
    }

    fn variables(&self) -> &'static [&'static str] {
        &[DOH_URL, DOH_URL_FILE, CA_FILE, ALLOW_HTTP]
    }

    fn configure(&self, env: &Env) -> Result<Box<dyn VerifierPlan>, ConfigError> {
        refuse_other_kind(env, &[DNS_SERVER], DOH)?;
        let raw = env.secret(DOH_URL)?.ok_or_else(|| {
            ConfigError::new(
                DOH_URL,
                "is required with DDNS_VERIFY=doh: the DNS-over-HTTPS endpoint, such as https://dns.example/dns-query",
            )
        })?;
        let allow_http = env.flag(ALLOW_HTTP, false)?;
        let url = validate_url(DOH_URL, raw.expose(), allow_http)?;
        let ca = env
            .get(CA_FILE)?
            .map(|path| CaFile::read(CA_FILE, Path::new(&path)))
            .transpose()?;
        Ok(Box::new(DohPlan { url, ca }))
    }
}

/// Holds the endpoint URL, which may carry a credential: no `Debug`.
struct DohPlan {
    url: Url,
    ca: Option<CaFile>,
}

#[async_trait]
impl VerifierPlan for DohPlan {
    fn settings(&self) -> Vec<Setting> {
        vec![
            Setting::new(
                DOH_URL,
                format!("{}/{}", origin(&self.url), ddns_core::REDACTED),
            ),
            Setting::new(
                CA_FILE,
                match &self.ca {
                    Some(ca) => ca.shown(),
                    None => "(the system's root certificates)".to_string(),
                },
            ),
        ]
    }

    async fn build(self: Box<Self>) -> ddns_core::Result<Arc<dyn Verifier>> {
        let verifier = DohVerifier::new(self.url, self.ca.as_ref().map(|ca| ca.pem.as_slice()))
            .map_err(|e| startup(DOH, e.to_string()))?;
        Ok(Arc::new(verifier))
    }
}

#[cfg(test)]
mod tests;
