//! The `tower::Service`: reads a request, routes it to the store, and
//! answers JSON or a watch stream.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use crate::fake::Shared;
use crate::log::{RecordedRequest, Verb};
use crate::patch::PatchType;
use crate::path::{self, Target};
use crate::resource::ResourceKind;
use crate::selector::{FieldSelector, LabelSelector};
use crate::state::{ChangeType, Filter, State, watch_event};
use crate::status::ApiError;
use crate::watch::{self, WatchStart};
use crate::write::DEFAULT_MANAGER;

/// The body of the fake's responses.
pub type ResponseBody = UnsyncBoxBody<Bytes, Infallible>;

/// The fake API server as a `tower::Service`; cheap to clone.
///
/// Build a client with `kube::Client::new(fake.service(), "default")`.
#[derive(Debug, Clone)]
pub struct FakeService {
    shared: Arc<Shared>,
}

impl FakeService {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl<B> tower::Service<Request<B>> for FakeService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Display,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let shared = Arc::clone(&self.shared);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = match body.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(e) => {
                    let error =
                        ApiError::bad_request(format!("reading the request body failed: {e}"));
                    return Ok(json_response(error.code, &error.to_status()));
                }
            };
            Ok(handle(&shared, &parts, &bytes))
        })
    }
}

/// What a handled request answers.
enum Outcome {
    Json(u16, Value),
    Watch(WatchStart),
}

impl From<ApiError> for Outcome {
    fn from(error: ApiError) -> Self {
        Self::Json(error.code, error.to_status())
    }
}

/// A request, decoded once.
struct Incoming<'a> {
    query: Vec<(String, String)>,
    content_type: Option<String>,
    body: Option<Value>,
    raw_body: &'a [u8],
}

impl Incoming<'_> {
    fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.param(key), Some("true" | "1"))
    }

    /// The body as JSON, or a `400` like the server's decoding error.
    fn json_body(&self) -> Result<Value, ApiError> {
        self.body.clone().ok_or_else(|| {
            let text = String::from_utf8_lossy(self.raw_body);
            ApiError::bad_request(format!(
                "the request body is not JSON (ddns-kube-fake reads JSON only): {}",
                text.chars().take(200).collect::<String>()
            ))
        })
    }
}

fn handle(
    shared: &Arc<Shared>,
    parts: &http::request::Parts,
    raw_body: &[u8],
) -> Response<ResponseBody> {
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let metadata_only = parts
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=PartialObjectMetadata"));
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = if raw_body.is_empty() {
        None
    } else {
        serde_json::from_slice(raw_body).ok()
    };
    let incoming = Incoming {
        query,
        content_type,
        body,
        raw_body,
    };

    let mut state = shared.lock();
    let target = path::parse(parts.uri.path(), &state.registry);
    let verb = target
        .as_ref()
        .and_then(|t| verb_of(&parts.method, t, &incoming));
    let mut record = RecordedRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: incoming.query.clone(),
        content_type: incoming.content_type.clone(),
        accept: parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: incoming.body.clone(),
        verb,
        api_version: target.as_ref().map(|t| t.api_version.clone()),
        resource: target.as_ref().map(|t| t.plural.clone()),
        namespace: target.as_ref().and_then(|t| t.namespace.clone()),
        name: target.as_ref().and_then(|t| t.name.clone()),
        subresource: target.as_ref().and_then(|t| t.subresource.clone()),
        status: 0,
    };
    let before = state.resource_version();
    let outcome = match state.log.take_fault(&record) {
        Some(code) => Outcome::from(ApiError::injected(code)),
        None => match (target, verb) {
            (Some(target), Some(verb)) => dispatch(&mut state, &target, verb, &incoming),
            (Some(_), None) => ApiError::method_not_allowed(parts.method.as_str()).into(),
            (None, _) => ApiError::no_route().into(),
        },
    };
    record.status = match &outcome {
        Outcome::Json(code, _) => *code,
        Outcome::Watch(_) => 200,
    };
    state.log.requests.push(record);
    let after = state.resource_version();
    drop(state);
    if after != before {
        shared.notify(after);
    }
    match outcome {
        Outcome::Json(code, value) if metadata_only && code < 300 => {
            json_response(code, &partial_metadata(value))
        }
        Outcome::Json(code, value) => json_response(code, &value),
        Outcome::Watch(mut start) => {
            start.metadata_only = metadata_only;
            let mut response = Response::new(watch::body(Arc::clone(shared), start));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            response
        }
    }
}

/// An object (or list) as `PartialObjectMetadata`, for clients that ask
/// with `Accept: application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1`
/// (kube's `get_metadata`, `list_metadata`, `metadata_watcher`).
pub(crate) fn partial_metadata(value: Value) -> Value {
    let Value::Object(mut map) = value else {
        return value;
    };
    match map.get("kind").and_then(Value::as_str) {
        Some("Status") => Value::Object(map),
        Some(kind) if kind.ends_with("List") => {
            let items = match map.remove("items") {
                Some(Value::Array(items)) => items.into_iter().map(partial_metadata).collect(),
                _ => Vec::new(),
            };
            json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": map.remove("metadata").unwrap_or_else(|| json!({})),
                "items": items,
            })
        }
        _ => json!({
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": map.remove("metadata").unwrap_or_else(|| json!({})),
        }),
    }
}

fn json_response(code: u16, value: &Value) -> Response<ResponseBody> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut response = Response::new(
        Full::new(Bytes::from(bytes))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn verb_of(method: &Method, target: &Target, incoming: &Incoming<'_>) -> Option<Verb> {
    let named = target.name.is_some();
    Some(match *method {
        Method::GET if named => Verb::Get,
        Method::GET if incoming.flag("watch") => Verb::Watch,
        Method::GET => Verb::List,
        Method::POST if !named => Verb::Create,
        Method::PUT if named => Verb::Update,
        Method::PATCH if named => Verb::Patch,
        Method::DELETE if named => Verb::Delete,
        Method::DELETE => Verb::DeleteCollection,
        _ => return None,
    })
}

fn dispatch(state: &mut State, target: &Target, verb: Verb, incoming: &Incoming<'_>) -> Outcome {
    match route(state, target, verb, incoming) {
        Ok(outcome) => outcome,
        Err(error) => error.into(),
    }
}

fn route(
    state: &mut State,
    target: &Target,
    verb: Verb,
    incoming: &Incoming<'_>,
) -> Result<Outcome, ApiError> {
    let kind = state
        .registry
        .by_plural(&target.api_version, &target.plural)
        .cloned()
        .ok_or_else(ApiError::no_route)?;
    let status_only = match target.subresource.as_deref() {
        None => false,
        Some("status") if kind.has_status_subresource() => true,
        Some(_) => return Err(ApiError::no_route()),
    };
    // A namespaced object is addressed in its namespace; only collections
    // may be read across all namespaces.
    if kind.is_namespaced()
        && target.namespace.is_none()
        && !matches!(verb, Verb::List | Verb::Watch)
    {
        return Err(ApiError::no_route());
    }
    if verb.is_write() && incoming.param("dryRun").is_some() {
        return Err(ApiError::bad_request(
            "dryRun is not implemented by ddns-kube-fake",
        ));
    }
    let namespace = target.namespace.as_deref();
    let name = target.name.as_deref().unwrap_or_default();
    let manager = incoming.param("fieldManager");
    let ok = |value: Value| Outcome::Json(200, value);
    match verb {
        Verb::Get => state.get(&kind, namespace, name).map(ok),
        Verb::List => {
            let filter = filter(&kind, namespace, incoming)?;
            let items = state.select(&filter);
            Ok(ok(state.list_body(&kind, items)))
        }
        Verb::Watch => watch_start(state, &kind, namespace, incoming).map(Outcome::Watch),
        Verb::Create => state
            .create(
                &kind,
                namespace,
                incoming.json_body()?,
                manager.unwrap_or(DEFAULT_MANAGER),
            )
            .map(|v| Outcome::Json(201, v)),
        Verb::Update => state
            .replace(
                &kind,
                namespace,
                name,
                status_only,
                incoming.json_body()?,
                manager.unwrap_or(DEFAULT_MANAGER),
            )
            .map(ok),
        Verb::Patch => {
            let patch_type = PatchType::from_content_type(incoming.content_type.as_deref())?;
            let body = incoming.json_body().map_err(|e| {
                if patch_type == PatchType::Apply {
                    ApiError::unsupported_media_type(
                        "ddns-kube-fake reads apply patches as JSON only (kube sends JSON)",
                    )
                } else {
                    e
                }
            })?;
            state
                .patch(
                    &kind,
                    namespace,
                    name,
                    status_only,
                    patch_type,
                    &body,
                    manager,
                    incoming.flag("force"),
                )
                .map(ok)
        }
        Verb::Delete => state
            .delete(&kind, namespace, name, incoming.body.as_ref())
            .map(ok),
        Verb::DeleteCollection => {
            let filter = filter(&kind, namespace, incoming)?;
            state
                .delete_collection(&kind, &filter, incoming.body.as_ref())
                .map(ok)
        }
    }
}

fn filter(
    kind: &ResourceKind,
    namespace: Option<&str>,
    incoming: &Incoming<'_>,
) -> Result<Filter, ApiError> {
    let labels = LabelSelector::parse(incoming.param("labelSelector").unwrap_or_default())
        .map_err(|e| ApiError::bad_request(format!("unable to parse labelSelector: {e}")))?;
    let fields = FieldSelector::parse(incoming.param("fieldSelector").unwrap_or_default())
        .map_err(|e| ApiError::bad_request(format!("unable to parse fieldSelector: {e}")))?;
    Ok(Filter {
        api_version: kind.api_version().to_owned(),
        plural: kind.plural().to_owned(),
        namespace: namespace.map(str::to_owned),
        labels,
        fields,
    })
}

/// Sets up a watch: from a given resourceVersion, events after it; from
/// none or `0`, synthetic `ADDED` events for what exists now first (and with
/// `sendInitialEvents=true`, a bookmark marking their end).
fn watch_start(
    state: &State,
    kind: &ResourceKind,
    namespace: Option<&str>,
    incoming: &Incoming<'_>,
) -> Result<WatchStart, ApiError> {
    let filter = filter(kind, namespace, incoming)?;
    let bookmarks = incoming.flag("allowWatchBookmarks");
    let timeout = incoming
        .param("timeoutSeconds")
        .map(|t| {
            t.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds: {t:?}")))
        })
        .transpose()?
        .unwrap_or(1800);
    let mut start = WatchStart {
        kind: kind.kind().to_owned(),
        cursor: state.resource_version(),
        queued: VecDeque::new(),
        bookmarks,
        timeout: Duration::from_secs(timeout),
        done: false,
        metadata_only: false,
        filter,
    };
    match incoming.param("resourceVersion").unwrap_or_default() {
        "" | "0" => {
            for object in state.select(&start.filter) {
                start
                    .queued
                    .push_back(watch_event(ChangeType::Added, &object));
            }
            if incoming.flag("sendInitialEvents") {
                let rv = start.cursor;
                start
                    .queued
                    .push_back(watch::bookmark(&start.filter, &start.kind, rv, true));
            }
        }
        rv => {
            let rv: u64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?;
            if rv < state.oldest_valid() {
                let error = ApiError::expired(rv, state.oldest_valid());
                start.queued.push_back(watch::error_event(&error));
                start.done = true;
            } else {
                start.cursor = rv;
            }
        }
    }
    Ok(start)
}
