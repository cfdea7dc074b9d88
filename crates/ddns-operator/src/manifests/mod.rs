//! Manifests read without a cluster, for `ddns-operator render`.
//!
//! [`read`] takes YAML or JSON text (several documents each, `v1` `List`s
//! unpacked) and keeps the `ddns.dev/v1alpha1` objects; objects of other
//! API groups (a Secret, a Deployment) are counted and left alone.
//! [`zones`] then groups the records by namespace and zone and assembles
//! each zone with [`crate::model`], as the controller does.
//!
//! # Guarantees
//!
//! - A `ddns.dev` object is checked the way the API server checks it
//!   before storing it: against its CRD's schema (types, required fields,
//!   ranges, lengths, patterns, enums, IP address formats) with strict
//!   field validation (an unknown field is an error), and its
//!   `metadata.name` and `metadata.namespace` must be valid names.
//! - Every problem is reported, not only the first, each naming the file,
//!   line and document, the object (`Kind/name`) and the field.
//! - Without a creation time (objects not yet created), claims are
//!   ordered by their place in the input: file order, then document order.
//!
//! # Caveats
//!
//! - A missing `metadata.namespace` means `default`, as with `kubectl
//!   apply` without `-n`.
//! - YAML is read as YAML 1.2 with the usual Kubernetes habits (`yes` is
//!   `true`); anchors and aliases are expanded.

mod error;
mod metadata;
mod schema;
mod zones;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::crd::{self, Bind9Instance, DNSZone};
use crate::model::{HasRecordSpec, RecordObject};

pub use error::ManifestError;
pub use zones::{ZonePreview, distinct_files, zones};

/// The API group of the operator's resources.
pub const GROUP: &str = "ddns.dev";
/// The version served.
pub const VERSION: &str = "v1alpha1";
/// `GROUP/VERSION`.
pub const API_VERSION: &str = "ddns.dev/v1alpha1";
/// The namespace of an object whose manifest names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Text to read, with the name messages give it (a path, `<stdin>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// How messages name the source.
    pub name: String,
    /// The YAML or JSON text.
    pub text: String,
}

impl Source {
    /// A source named `name` holding `text`.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// Where an object was read: `records.yaml:12: document 3`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Origin {
    /// The source's name.
    pub source: String,
    /// The line the document starts on (1-based).
    pub line: usize,
    /// The document's number in the source (1-based; empty documents are
    /// not counted).
    pub document: usize,
    /// The item's number (1-based) inside a `List` document.
    pub item: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: document {}",
            self.source, self.line, self.document
        )?;
        if let Some(item) = self.item {
            write!(f, ", item {item}")?;
        }
        Ok(())
    }
}

/// A `ddns.dev` resource, typed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Resource {
    /// A `Bind9Instance` (checked, not used for rendering).
    Instance(Box<Bind9Instance>),
    /// A `DNSZone`.
    Zone(Box<DNSZone>),
    /// A record of any kind.
    Record(Box<RecordObject>),
}

/// A `ddns.dev` object read from a manifest.
#[derive(Debug, Clone)]
pub struct Object {
    /// Where it was read.
    pub origin: Origin,
    /// Its kind (`DNSZone`).
    pub kind: &'static str,
    /// `metadata.namespace`, or `default`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// The typed resource.
    pub resource: Resource,
}

impl Object {
    /// `Kind/name`, as messages name the object.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// Everything [`read`] kept.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    /// The `ddns.dev` objects, in input order.
    pub objects: Vec<Object>,
    /// How many objects of other API groups were skipped.
    pub ignored: usize,
}

/// Reads every source; returns the `ddns.dev` objects, or every problem
/// found.
pub fn read(sources: &[Source]) -> Result<Manifests, Vec<ManifestError>> {
    let mut reader = Reader {
        schemas: schemas(),
        checker: schema::Checker::default(),
        manifests: Manifests::default(),
        errors: Vec::new(),
    };
    for source in sources {
        reader.source(source);
    }
    if reader.errors.is_empty() {
        Ok(reader.manifests)
    } else {
        Err(reader.errors)
    }
}

/// The kinds of `ddns.dev/v1alpha1`, in the order `crd::all` lists them.
pub fn kinds() -> Vec<String> {
    crd::all()
        .into_iter()
        .map(|crd| crd.spec.names.kind)
        .collect()
}

/// Each kind's `openAPIV3Schema`.
fn schemas() -> BTreeMap<String, Rc<JSONSchemaProps>> {
    crd::all()
        .into_iter()
        .filter_map(|crd| {
            let kind = crd.spec.names.kind;
            crd.spec
                .versions
                .into_iter()
                .find(|version| version.name == VERSION)
                .and_then(|version| version.schema)
                .and_then(|schema| schema.open_api_v3_schema)
                .map(|schema| (kind, Rc::new(schema)))
        })
        .collect()
}

struct Reader {
    schemas: BTreeMap<String, Rc<JSONSchemaProps>>,
    checker: schema::Checker,
    manifests: Manifests,
    errors: Vec<ManifestError>,
}

impl Reader {
    fn source(&mut self, source: &Source) {
        let documents: Vec<serde_saphyr::Spanned<Value>> =
            match serde_saphyr::from_multiple_with_options(&source.text, yaml_options()) {
                Ok(documents) => documents,
                Err(error) => {
                    let line = error.location().map_or(1, |l| l.line());
                    self.errors.push(ManifestError::Syntax {
                        input: source.name.clone(),
                        line: line.try_into().unwrap_or(usize::MAX),
                        message: syntax_message(&error),
                    });
                    return;
                }
            };
        for (index, document) in documents.into_iter().enumerate() {
            let origin = Origin {
                source: source.name.clone(),
                line: document.referenced.line().try_into().unwrap_or(usize::MAX),
                document: index + 1,
                item: None,
            };
            self.document(document.value, origin);
        }
    }

    fn invalid(&mut self, origin: &Origin, object: &str, field: &str, reason: impl Into<String>) {
        self.errors.push(ManifestError::Invalid {
            origin: origin.clone(),
            object: object.to_string(),
            field: field.to_string(),
            reason: reason.into(),
        });
    }

    fn document(&mut self, value: Value, origin: Origin) {
        let Value::Object(object) = value else {
            let what = schema::type_name(&value);
            return self.invalid(
                &origin,
                "",
                "",
                format!("not a Kubernetes object (a mapping with apiVersion and kind), but {what}"),
            );
        };
        let api_version = object.get("apiVersion").and_then(Value::as_str);
        let kind = object.get("kind").and_then(Value::as_str);
        let (Some(api_version), Some(kind)) = (api_version, kind) else {
            let object_name = describe(&object);
            let missing = if api_version.is_none() {
                "apiVersion"
            } else {
                "kind"
            };
            return self.invalid(
                &origin,
                &object_name,
                missing,
                "Required value: every Kubernetes object names its apiVersion and kind",
            );
        };
        if api_version == "v1" && kind == "List" {
            return self.list(object, origin);
        }
        let group = api_version.split_once('/').map_or(api_version, |(g, _)| g);
        if group != GROUP {
            self.manifests.ignored += 1;
            return;
        }
        let kind = kind.to_string();
        let name = describe(&object);
        if api_version != API_VERSION {
            return self.invalid(
                &origin,
                &name,
                "apiVersion",
                format!("Unsupported value: \"{api_version}\": this operator serves {API_VERSION}"),
            );
        }
        let Some(schema) = self.schemas.get(&kind).cloned() else {
            return self.invalid(
                &origin,
                &name,
                "kind",
                format!(
                    "Unsupported value: \"{kind}\": {API_VERSION} has the kinds {}",
                    kinds().join(", ")
                ),
            );
        };
        self.resource(object, &kind, &schema, origin);
    }

    fn list(&mut self, mut object: Map<String, Value>, origin: Origin) {
        match object.remove("items") {
            Some(Value::Array(items)) => {
                for (index, item) in items.into_iter().enumerate() {
                    let origin = Origin {
                        item: Some(index + 1),
                        ..origin.clone()
                    };
                    if let Value::Object(inner) = &item
                        && inner.get("kind").and_then(Value::as_str) == Some("List")
                    {
                        self.invalid(&origin, "List", "", "a List inside a List is not read");
                        continue;
                    }
                    self.document(item, origin);
                }
            }
            Some(Value::Null) | None => {}
            Some(other) => {
                let what = schema::type_name(&other);
                self.invalid(
                    &origin,
                    "List",
                    "items",
                    format!("must be a list, not {what}"),
                );
            }
        }
    }

    fn resource(
        &mut self,
        mut object: Map<String, Value>,
        kind: &str,
        schema: &JSONSchemaProps,
        origin: Origin,
    ) {
        let id = describe(&object);
        let mut violations = Vec::new();
        let metadata = object.remove("metadata");
        let (name, namespace) = metadata::check_metadata(metadata.as_ref(), &mut violations);
        // The schema covers spec and status; apiVersion and kind are known.
        let mut body = object.clone();
        body.remove("apiVersion");
        body.remove("kind");
        self.checker
            .check(&Value::Object(body), schema, "", &mut violations);
        if !violations.is_empty() {
            for violation in violations {
                self.invalid(&origin, &id, &violation.field, violation.reason);
            }
            return;
        }
        let (Some(name), Some(namespace)) = (name, namespace) else {
            return;
        };
        let mut metadata = match metadata {
            Some(Value::Object(metadata)) => metadata,
            _ => Map::new(),
        };
        metadata.insert("namespace".into(), Value::from(namespace.clone()));
        object.insert("metadata".into(), Value::Object(metadata));
        let value = Value::Object(object);
        let order = self.manifests.objects.len() as u64;
        let typed = match kind {
            "Bind9Instance" => {
                typed::<Bind9Instance>(value).map(|o| Resource::Instance(Box::new(o)))
            }
            "DNSZone" => typed::<DNSZone>(value).map(|o| Resource::Zone(Box::new(o))),
            "ARecord" => record::<crd::ARecord>(value, order),
            "AAAARecord" => record::<crd::AAAARecord>(value, order),
            "CNAMERecord" => record::<crd::CNAMERecord>(value, order),
            "TXTRecord" => record::<crd::TXTRecord>(value, order),
            "MXRecord" => record::<crd::MXRecord>(value, order),
            "NSRecord" => record::<crd::NSRecord>(value, order),
            "SRVRecord" => record::<crd::SRVRecord>(value, order),
            "CAARecord" => record::<crd::CAARecord>(value, order),
            _ => Err(format!("no type for the kind {kind}")),
        };
        match typed {
            Ok(resource) => {
                let kind = kind_name(kind);
                self.manifests.objects.push(Object {
                    origin,
                    kind,
                    namespace,
                    name,
                    resource,
                });
            }
            Err(reason) => self.invalid(&origin, &id, "", reason),
        }
    }
}

/// The kind's name as a `'static` string (every kind is one of the CRDs').
fn kind_name(kind: &str) -> &'static str {
    const KINDS: [&str; 10] = [
        "Bind9Instance",
        "DNSZone",
        "ARecord",
        "AAAARecord",
        "CNAMERecord",
        "TXTRecord",
        "MXRecord",
        "NSRecord",
        "SRVRecord",
        "CAARecord",
    ];
    KINDS.into_iter().find(|k| *k == kind).unwrap_or("Unknown")
}

fn typed<K: DeserializeOwned>(value: Value) -> Result<K, String> {
    serde_json::from_value(value).map_err(|e| format!("cannot be read: {e}"))
}

fn record<K>(value: Value, order: u64) -> Result<Resource, String>
where
    K: DeserializeOwned + kube::Resource + HasRecordSpec,
{
    let object = typed::<K>(value)?;
    Ok(Resource::Record(Box::new(
        RecordObject::of(&object).with_order(order),
    )))
}

/// `Kind/name` as far as the object tells.
fn describe(object: &Map<String, Value>) -> String {
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("object");
    match object
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
    {
        Some(name) => format!("{kind}/{name}"),
        None => format!("{kind} without a name"),
    }
}

/// The parser's limits, raised for manifests of many records (the default
/// stops at 1,024 documents); the limits on aliases stay, and the events
/// copied for anchors are cut from 1,000,000 to 100,000, so a small file
/// cannot expand into a huge one nor into much work: a 342-byte alias bomb
/// took 0.9 s to refuse at the default (found by the `operator_manifests`
/// fuzz target), a tenth of that now. 100,000 still leaves room for 20,000
/// aliases of a five-field `spec`.
fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_documents = 1_000_000;
    budget.max_nodes = 50_000_000;
    budget.max_events = 100_000_000;
    budget.max_total_scalar_bytes = 1 << 30;
    budget.max_recorded_anchor_events = 100_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// The parser's message with its location, without the source snippet.
fn syntax_message(error: &serde_saphyr::Error) -> String {
    let plain = error.without_snippet().to_string();
    plain.strip_prefix("error: ").unwrap_or(&plain).to_string()
}
