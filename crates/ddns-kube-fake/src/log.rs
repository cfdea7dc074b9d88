//! The request log and injected failures.

use serde_json::Value;

/// The API verb of a request, as in Kubernetes audit logs and RBAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verb {
    /// `GET` of one object (or its `/status`).
    Get,
    /// `GET` of a collection.
    List,
    /// `GET` of a collection with `watch=true`.
    Watch,
    /// `POST` to a collection.
    Create,
    /// `PUT` of one object (or its `/status`).
    Update,
    /// `PATCH` of one object (or its `/status`).
    Patch,
    /// `DELETE` of one object.
    Delete,
    /// `DELETE` of a collection.
    DeleteCollection,
}

impl Verb {
    /// The lower-case name used in audit logs: `get`, `list`, `watch`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::List => "list",
            Self::Watch => "watch",
            Self::Create => "create",
            Self::Update => "update",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::DeleteCollection => "deletecollection",
        }
    }

    /// Whether the verb may change stored objects.
    pub fn is_write(self) -> bool {
        !matches!(self, Self::Get | Self::List | Self::Watch)
    }
}

/// One request as the fake received it, with the status code it answered.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// HTTP method: `GET`, `POST`, `PUT`, `PATCH`, `DELETE`.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// Decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The `Accept` header (metadata-only requests ask for
    /// `application/json;as=PartialObjectMetadata;...`).
    pub accept: Option<String>,
    /// The body parsed as JSON, or `None` when empty or not JSON.
    pub body: Option<Value>,
    /// The API verb, when the path names a resource.
    pub verb: Option<Verb>,
    /// `v1` or `group/version`, when the path names a resource.
    pub api_version: Option<String>,
    /// The plural resource name, such as `configmaps`.
    pub resource: Option<String>,
    /// The namespace in the path.
    pub namespace: Option<String>,
    /// The object name in the path.
    pub name: Option<String>,
    /// The subresource in the path, such as `status`.
    pub subresource: Option<String>,
    /// The HTTP status code of the answer (`200` for a watch that started).
    pub status: u16,
}

impl RecordedRequest {
    /// The first value of a query parameter.
    pub fn query_param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `verb path`, such as
    /// `patch /apis/ddns.dev/v1alpha1/namespaces/default/dnszones/a/status`,
    /// for exact request-order assertions; the method stands in for the verb
    /// on paths that name no resource.
    pub fn summary(&self) -> String {
        let verb = self
            .verb
            .map_or_else(|| self.method.to_lowercase(), |v| v.as_str().to_owned());
        format!("{verb} {}", self.path)
    }

    /// Whether this is a `PATCH` with the given `Content-Type` media type,
    /// such as `application/json-patch+json`.
    pub fn is_patch_of_type(&self, media_type: &str) -> bool {
        self.verb == Some(Verb::Patch)
            && self
                .content_type
                .as_deref()
                .and_then(|c| c.split(';').next())
                .is_some_and(|c| c.trim() == media_type)
    }
}

/// Selects requests by verb, resource, namespace, name and subresource; an
/// unset field matches anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMatcher {
    verb: Option<Verb>,
    resource: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<Option<String>>,
}

impl RequestMatcher {
    /// Matches every request.
    pub fn any() -> Self {
        Self::default()
    }

    /// Matches requests with this verb.
    pub fn verb(verb: Verb) -> Self {
        Self {
            verb: Some(verb),
            ..Self::default()
        }
    }

    /// Only requests for this plural resource (`configmaps`, `dnszones`).
    #[must_use]
    pub fn resource(mut self, plural: impl Into<String>) -> Self {
        self.resource = Some(plural.into());
        self
    }

    /// Only requests in this namespace.
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Only requests for this object name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Only requests for this subresource (`status`).
    #[must_use]
    pub fn subresource(mut self, subresource: impl Into<String>) -> Self {
        self.subresource = Some(Some(subresource.into()));
        self
    }

    /// Only requests for the main resource, not a subresource.
    #[must_use]
    pub fn main_resource(mut self) -> Self {
        self.subresource = Some(None);
        self
    }

    /// Whether a recorded request is selected.
    pub fn matches(&self, request: &RecordedRequest) -> bool {
        fn field(want: Option<&String>, got: Option<&String>) -> bool {
            want.is_none_or(|w| got == Some(w))
        }
        self.verb.is_none_or(|v| request.verb == Some(v))
            && field(self.resource.as_ref(), request.resource.as_ref())
            && field(self.namespace.as_ref(), request.namespace.as_ref())
            && field(self.name.as_ref(), request.name.as_ref())
            && self
                .subresource
                .as_ref()
                .is_none_or(|s| *s == request.subresource)
    }
}

/// A failure to inject into the next matching requests.
#[derive(Debug, Clone)]
struct Fault {
    matcher: RequestMatcher,
    code: u16,
    remaining: usize,
}

/// Requests received and failures waiting to be injected.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    pub(crate) requests: Vec<RecordedRequest>,
    faults: Vec<Fault>,
}

impl RequestLog {
    pub(crate) fn add_fault(&mut self, matcher: RequestMatcher, code: u16, times: usize) {
        if times > 0 {
            self.faults.push(Fault {
                matcher,
                code,
                remaining: times,
            });
        }
    }

    /// The code to fail this request with, if a fault matches; faults are
    /// used up in the order they were added.
    pub(crate) fn take_fault(&mut self, request: &RecordedRequest) -> Option<u16> {
        let index = self
            .faults
            .iter()
            .position(|f| f.matcher.matches(request))?;
        let fault = self.faults.get_mut(index)?;
        fault.remaining -= 1;
        let code = fault.code;
        if fault.remaining == 0 {
            self.faults.remove(index);
        }
        Some(code)
    }
}
