//! `Bind9Instance`: a BIND9 server the operator delivers zones to.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A BIND9 server: where it listens, its role, and the TSIG key that signs
/// updates to it. Zones select instances by their labels.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "ddns.dev",
    version = "v1alpha1",
    kind = "Bind9Instance",
    doc = "A BIND9 server that ddns-operator delivers zones to: its address, role and TSIG key.",
    namespaced,
    shortname = "bind9",
    category = "ddns",
    printcolumn(name = "Address", type_ = "string", json_path = ".spec.address"),
    printcolumn(name = "Port", type_ = "integer", json_path = ".spec.port"),
    printcolumn(name = "Role", type_ = "string", json_path = ".spec.role"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = super::schema::kubernetes_integers)]
pub struct Bind9InstanceSpec {
    /// The server's IP address or host name.
    #[schemars(length(min = 1, max = 253))]
    pub address: String,
    /// The DNS port.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
    /// `primary` receives updates; `secondary` is never written to.
    #[serde(default)]
    pub role: Role,
    /// The Secret holding the base64 TSIG secret.
    pub tsig_key_secret_ref: SecretKeyRef,
    /// The TSIG key's name as the server knows it.
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[A-Za-z0-9._-]+$"))]
    pub tsig_key_name: String,
    /// The TSIG algorithm.
    #[serde(default)]
    pub tsig_algorithm: TsigAlgorithmName,
}

fn default_port() -> u16 {
    53
}

/// A server's role.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Receives updates.
    #[default]
    Primary,
    /// Transfers from a primary; never written to.
    Secondary,
}

/// A TSIG algorithm.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum TsigAlgorithmName {
    /// HMAC-SHA256.
    #[default]
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    /// HMAC-SHA384.
    #[serde(rename = "hmac-sha384")]
    HmacSha384,
    /// HMAC-SHA512.
    #[serde(rename = "hmac-sha512")]
    HmacSha512,
}

impl TsigAlgorithmName {
    /// The name as BIND writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            TsigAlgorithmName::HmacSha256 => "hmac-sha256",
            TsigAlgorithmName::HmacSha384 => "hmac-sha384",
            TsigAlgorithmName::HmacSha512 => "hmac-sha512",
        }
    }
}

/// A key in a Secret of the same namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct SecretKeyRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The data key holding the value.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}
