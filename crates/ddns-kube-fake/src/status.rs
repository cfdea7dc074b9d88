//! `metav1.Status` failure answers, shaped like the real API server's so that
//! kube parses them into `kube::Error::Api` with the same code, reason and
//! message a controller would see from a cluster.

use serde_json::{Value, json};

/// A failed request, answered as a `Status` object with an HTTP error code.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The `Status` object the server sends.
    pub(crate) fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let (Some(details), Some(map)) = (&self.details, status.as_object_mut()) {
            map.insert("details".into(), details.clone());
        }
        status
    }

    /// An error for an injected fault: the reason the API server uses for the code.
    pub(crate) fn injected(code: u16) -> Self {
        let reason = reason_for(code);
        Self::new(
            code,
            reason,
            format!("injected failure ({code} {reason}) by ddns-kube-fake"),
        )
    }

    /// `404` for a path the server does not serve (an unregistered resource,
    /// an unknown subresource): the real server's wording for a missing CRD.
    pub(crate) fn no_route() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({ "causes": [{ "reason": "UnexpectedServerResponse", "message": "404 page not found" }] }))
    }

    pub(crate) fn not_found(resource: &GroupResource<'_>, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", resource.qualified()),
        )
        .with_details(resource.details(name))
    }

    pub(crate) fn already_exists(resource: &GroupResource<'_>, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", resource.qualified()),
        )
        .with_details(resource.details(name))
    }

    /// `409 Conflict` for a stale `resourceVersion` (optimistic concurrency).
    pub(crate) fn stale(resource: &GroupResource<'_>, name: &str) -> Self {
        Self::conflict(
            resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    pub(crate) fn conflict(resource: &GroupResource<'_>, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                resource.qualified()
            ),
        )
        .with_details(resource.details(name))
    }

    /// `409 Conflict` from server-side apply, one cause per contested field.
    pub(crate) fn apply_conflicts(conflicts: &[(String, String)], api_version: &str) -> Self {
        let plural = if conflicts.len() == 1 { "" } else { "s" };
        let mut message = format!("Apply failed with {} conflict{plural}:", conflicts.len());
        let mut causes = Vec::new();
        for (manager, field) in conflicts {
            message.push_str(&format!(
                " conflict with \"{manager}\" using {api_version}: {field}"
            ));
            causes.push(json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with \"{manager}\" using {api_version}"),
                "field": field,
            }));
        }
        Self::new(409, "Conflict", message).with_details(json!({ "causes": causes }))
    }

    /// `410 Gone` / `Expired`: a resourceVersion older than the last compaction.
    pub(crate) fn expired(requested: u64, oldest: u64) -> Self {
        Self::new(
            410,
            "Expired",
            format!("too old resource version: {requested} ({oldest})"),
        )
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// `422` as the server answers a JSON patch that cannot be applied
    /// (a failed `test` operation, a missing path).
    pub(crate) fn patch_rejected(cause: &str) -> Self {
        Self::new(
            422,
            "Invalid",
            "the server rejected our request due to an error in our request",
        )
        .with_details(
            json!({ "causes": [{ "reason": "UnexpectedServerResponse", "message": cause }] }),
        )
    }

    /// `422 Invalid` for a field that fails validation.
    pub(crate) fn invalid(
        resource: &GroupResource<'_>,
        name: &str,
        field: &str,
        reason: &'static str,
        detail: &str,
    ) -> Self {
        let kind = resource.kind;
        Self::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {field}: {detail}"),
        )
        .with_details(json!({
            "name": name,
            "group": resource.group,
            "kind": kind,
            "causes": [{ "reason": reason, "message": detail, "field": field }],
        }))
    }

    pub(crate) fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
    }

    pub(crate) fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }
}

/// The reason string the API server pairs with an HTTP status code.
pub(crate) fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Expired",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    }
}

/// The group, plural and kind that messages and `details` name.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GroupResource<'a> {
    pub(crate) group: &'a str,
    pub(crate) plural: &'a str,
    pub(crate) kind: &'a str,
}

impl GroupResource<'_> {
    /// `configmaps` or `dnszones.ddns.dev`, as in the server's messages.
    fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    fn details(&self, name: &str) -> Value {
        json!({ "name": name, "group": self.group, "kind": self.plural })
    }
}
