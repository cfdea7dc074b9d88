//! The endpoints.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use serde_json::{Value, json};

use crate::envelope::{ApiError, ApiResult, ok, ok_list};
use crate::gate::Caller;
use crate::model::{DnsRecord, TokenOwner, ZoneStatus};
use crate::query::{self, Params, QuerySpec, TextOp};
use crate::records::{self, DOCUMENTED_TYPES, Mode, RecordInput};
use crate::state::{Inner, Shared, StoredRecord, ZoneEntry, lock, record_json, sort_default};

const NO_PARAMS: QuerySpec = QuerySpec {
    known: &[],
    unimplemented: &[],
};

const ACCOUNT_PARAMS: QuerySpec = QuerySpec {
    known: &["page", "per_page", "name", "direction"],
    unimplemented: &[],
};

const ZONE_PARAMS: QuerySpec = QuerySpec {
    known: &[
        "name",
        "status",
        "account.id",
        "account.name",
        "page",
        "per_page",
        "order",
        "direction",
        "match",
    ],
    unimplemented: &["type"],
};

const RECORD_PARAMS: QuerySpec = QuerySpec {
    known: &[
        "type",
        "name",
        "name.exact",
        "name.contains",
        "name.startswith",
        "name.endswith",
        "content",
        "content.exact",
        "content.contains",
        "content.startswith",
        "content.endswith",
        "comment.exact",
        "comment.contains",
        "comment.startswith",
        "comment.endswith",
        "comment.present",
        "comment.absent",
        "proxied",
        "match",
        "order",
        "direction",
        "page",
        "per_page",
    ],
    unimplemented: &[
        "search",
        "tag",
        "tag.exact",
        "tag.contains",
        "tag.startswith",
        "tag.endswith",
        "tag.present",
        "tag.absent",
        "tag_match",
    ],
};

// Tokens and accounts.

pub(crate) async fn verify_user(
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    query::parse(raw.as_deref(), &NO_PARAMS)?;
    match caller.spec.owner {
        TokenOwner::User => Ok(verified(&caller)),
        // The real API answers this for an account-owned token.
        TokenOwner::Account(_) => Err(ApiError::invalid_token()),
    }
}

pub(crate) async fn verify_account(
    Extension(caller): Extension<Caller>,
    Path(account_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    query::parse(raw.as_deref(), &NO_PARAMS)?;
    match &caller.spec.owner {
        TokenOwner::Account(owner) if *owner == account_id => Ok(verified(&caller)),
        _ => Err(ApiError::invalid_token()),
    }
}

fn verified(caller: &Caller) -> axum::response::Response {
    ok(json!({ "id": caller.token_id, "status": caller.spec.status.as_str() }))
}

pub(crate) async fn list_accounts(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let params = query::parse(raw.as_deref(), &ACCOUNT_PARAMS)?;
    let paging = params.paging(5, 50, 20)?;
    let descending = params.descending()?;
    let inner = lock(&shared);
    let mut accounts: Vec<_> = inner
        .accounts
        .iter()
        .filter(|a| match &caller.spec.owner {
            TokenOwner::User => true,
            TokenOwner::Account(id) => a.id == *id,
        })
        .filter(|a| params.get("name").is_none_or(|n| a.name == n))
        .collect();
    accounts.sort_by(|a, b| a.name.cmp(&b.name));
    if descending {
        accounts.reverse();
    }
    let (page, info) = paging.cut(accounts);
    Ok(ok_list(page.iter().map(|a| a.to_json()).collect(), info))
}

// Zones.

pub(crate) async fn list_zones(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let params = query::parse(raw.as_deref(), &ZONE_PARAMS)?;
    let paging = params.paging(5, 50, 20)?;
    let descending = params.descending()?;
    let any = params.match_any()?;
    if let Some(name) = params.get("name")
        && name.contains(':')
    {
        return Err(ApiError::invalid_query(format!(
            "Name filter `{name}`: operators (`contains:` …) are not implemented by the stand-in"
        )));
    }
    if let Some(status) = params.get("status")
        && !ZoneStatus::NAMES.contains(&status)
    {
        return Err(ApiError::invalid_query(format!(
            "Invalid status `{status}`"
        )));
    }
    let order = params.get("order");
    if let Some(order) = order
        && !["name", "status", "account.id", "account.name"].contains(&order)
    {
        return Err(ApiError::invalid_query(format!("Invalid order `{order}`")));
    }

    let inner = lock(&shared);
    let account_name = |zone: &ZoneEntry| {
        inner
            .account(&zone.account_id)
            .map(|a| a.name.clone())
            .unwrap_or_default()
    };
    let mut zones: Vec<&ZoneEntry> = inner
        .zones
        .iter()
        .filter(|z| caller.can_read(z))
        .filter(|z| {
            let tests: Vec<bool> = params
                .iter()
                .filter_map(|(param, value)| match param {
                    "name" => Some(z.name == value.to_ascii_lowercase()),
                    "status" => Some(z.status.as_str() == value),
                    "account.id" => Some(z.account_id == value),
                    "account.name" => Some(account_name(z) == value),
                    _ => None,
                })
                .collect();
            tests.is_empty()
                || if any {
                    tests.iter().any(|t| *t)
                } else {
                    tests.iter().all(|t| *t)
                }
        })
        .collect();
    zones.sort_by(|a, b| a.name.cmp(&b.name));
    match order {
        Some("status") => zones.sort_by_key(|z| z.status.as_str()),
        Some("account.id") => zones.sort_by(|a, b| a.account_id.cmp(&b.account_id)),
        Some("account.name") => zones.sort_by_key(|z| account_name(z)),
        _ => {}
    }
    if descending {
        zones.reverse();
    }
    let (page, info) = paging.cut(zones);
    Ok(ok_list(
        page.iter().map(|z| inner.zone_json(z)).collect(),
        info,
    ))
}

pub(crate) async fn get_zone(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(zone_id): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    query::parse(raw.as_deref(), &NO_PARAMS)?;
    let inner = lock(&shared);
    let zone = zone_for(&inner, &caller, &zone_id, &uri, false)?;
    Ok(ok(inner.zone_json(&zone)))
}

/// The zone of a request, if the caller may read (or edit) it.
fn zone_for(
    inner: &Inner,
    caller: &Caller,
    zone_id: &str,
    uri: &Uri,
    edit: bool,
) -> Result<ZoneEntry, ApiError> {
    let zone = inner
        .zone(zone_id)
        .ok_or_else(|| ApiError::could_not_route(uri.path()))?;
    let allowed = if edit {
        caller.can_edit(zone)
    } else {
        caller.can_read(zone)
    };
    if allowed {
        Ok(zone.clone())
    } else {
        Err(ApiError::authentication_error())
    }
}

/// The JSON body of a write, which must be declared `application/json`.
fn json_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::bad_request(6003, "Invalid request headers").chain(
            6105,
            "Invalid Content-Type header, valid values are application/json,multipart/form-data",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|_| ApiError::bad_request(6007, "Malformed JSON in request body"))
}

// DNS records.

pub(crate) async fn list_records(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(zone_id): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let params = query::parse(raw.as_deref(), &RECORD_PARAMS)?;
    let paging = params.paging(5, 5_000_000, 100)?;
    let descending = params.descending()?;
    let any = params.match_any()?;
    let filters = record_filters(&params)?;
    let order = params.get("order");
    if let Some(order) = order
        && !["type", "name", "content", "ttl", "proxied"].contains(&order)
    {
        return Err(ApiError::invalid_query(format!("Invalid order `{order}`")));
    }

    let inner = lock(&shared);
    zone_for(&inner, &caller, &zone_id, &uri, false)?;
    let mut records: Vec<&StoredRecord> = inner
        .records
        .iter()
        .filter(|s| s.record.zone_id == zone_id)
        .filter(|s| {
            filters.is_empty()
                || if any {
                    filters.iter().any(|f| f.test(&s.record))
                } else {
                    filters.iter().all(|f| f.test(&s.record))
                }
        })
        .collect();
    sort_default(&mut records);
    match order {
        Some("type") => records.sort_by(|a, b| a.record.record_type.cmp(&b.record.record_type)),
        Some("name") => records.sort_by(|a, b| a.record.name.cmp(&b.record.name)),
        Some("content") => records.sort_by(|a, b| a.record.content.cmp(&b.record.content)),
        Some("ttl") => records.sort_by_key(|s| s.record.ttl),
        Some("proxied") => records.sort_by_key(|s| s.record.proxied),
        _ => {}
    }
    if descending {
        records.reverse();
    }
    let (page, info) = paging.cut(records);
    Ok(ok_list(
        page.iter().map(|s| record_json(&s.record)).collect(),
        info,
    ))
}

/// One filter of the record list.
enum Filter {
    Type(String),
    Name(TextOp, String),
    Content(TextOp, String),
    Comment(TextOp, String),
    CommentPresent(bool),
    Proxied(bool),
}

impl Filter {
    fn test(&self, record: &DnsRecord) -> bool {
        match self {
            Filter::Type(t) => record.record_type == *t,
            Filter::Name(op, v) => op.test(&record.name, v),
            Filter::Content(op, v) => op.test(&record.content, v),
            Filter::Comment(op, v) => record.comment.as_deref().is_some_and(|c| op.test(c, v)),
            Filter::CommentPresent(present) => record.comment.is_some() == *present,
            Filter::Proxied(p) => record.proxied == *p,
        }
    }
}

fn record_filters(params: &Params) -> Result<Vec<Filter>, ApiError> {
    let mut filters = Vec::new();
    for (param, value) in params.iter() {
        let filter = match param {
            "type" if DOCUMENTED_TYPES.contains(&value) => Filter::Type(value.to_owned()),
            "type" => return Err(ApiError::invalid_query(format!("Invalid type `{value}`"))),
            "proxied" => match value {
                "true" => Filter::Proxied(true),
                "false" => Filter::Proxied(false),
                _ => {
                    return Err(ApiError::invalid_query(format!(
                        "Invalid proxied value `{value}`: must be true or false"
                    )));
                }
            },
            "comment.present" => Filter::CommentPresent(true),
            "comment.absent" => Filter::CommentPresent(false),
            _ => {
                if let Some(op) = TextOp::of(param, "name") {
                    Filter::Name(op, value.to_ascii_lowercase())
                } else if let Some(op) = TextOp::of(param, "content") {
                    Filter::Content(op, value.to_owned())
                } else if let Some(op) = TextOp::of(param, "comment") {
                    Filter::Comment(op, value.to_owned())
                } else {
                    continue;
                }
            }
        };
        filters.push(filter);
    }
    Ok(filters)
}

pub(crate) async fn get_record(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((zone_id, record_id)): Path<(String, String)>,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    query::parse(raw.as_deref(), &NO_PARAMS)?;
    let inner = lock(&shared);
    zone_for(&inner, &caller, &zone_id, &uri, false)?;
    inner
        .records
        .iter()
        .find(|s| s.record.id == record_id && s.record.zone_id == zone_id)
        .map(|s| ok(record_json(&s.record)))
        .ok_or_else(ApiError::record_not_found)
}

pub(crate) async fn create_record(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(zone_id): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    query::parse(raw.as_deref(), &NO_PARAMS)?;
    let mut guard = lock(&shared);
    let inner = &mut *guard;
    let zone = zone_for(inner, &caller, &zone_id, &uri, true)?;
    let (_, input) = records::parse_input(&json_body(&headers, &body)?, false)?;
    let record = records::create(
        &mut inner.records,
        &mut inner.next_record_seq,
        &zone,
        &input,
    )?;
    Ok(ok(record_json(&record)))
}

pub(crate) async fn patch_record(
    state: State<Shared>,
    caller: Extension<Caller>,
    ids: Path<(String, String)>,
    uri: Uri,
    raw: RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    update_record(state, caller, ids, uri, raw, headers, body, Mode::Patch)
}

pub(crate) async fn put_record(
    state: State<Shared>,
    caller: Extension<Caller>,
    ids: Path<(String, String)>,
    uri: Uri,
    raw: RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    update_record(state, caller, ids, uri, raw, headers, body, Mode::Put)
}

#[expect(
    clippy::too_many_arguments,
    reason = "the extractors of the two handlers sharing it"
)]
fn update_record(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((zone_id, record_id)): Path<(String, String)>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
    mode: Mode,
) -> ApiResult {
    query::parse(raw.as_deref(), &NO_PARAMS)?;
    let mut guard = lock(&shared);
    let inner = &mut *guard;
    let zone = zone_for(inner, &caller, &zone_id, &uri, true)?;
    if !inner
        .records
        .iter()
        .any(|s| s.record.id == record_id && s.record.zone_id == zone_id)
    {
        return Err(ApiError::record_not_found());
    }
    let (_, input) = records::parse_input(&json_body(&headers, &body)?, false)?;
    let record = records::update(&mut inner.records, &zone, &record_id, &input, mode)?;
    Ok(ok(record_json(&record)))
}

pub(crate) async fn delete_record(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path((zone_id, record_id)): Path<(String, String)>,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    query::parse(raw.as_deref(), &NO_PARAMS)?;
    let mut inner = lock(&shared);
    zone_for(&inner, &caller, &zone_id, &uri, true)?;
    let deleted = records::delete(&mut inner.records, &zone_id, &record_id)?;
    Ok(ok(json!({ "id": deleted.id })))
}

// Batch.

/// The parsed operations of a batch.
#[derive(Default)]
struct Batch {
    deletes: Vec<String>,
    patches: Vec<(String, RecordInput)>,
    puts: Vec<(String, RecordInput)>,
    posts: Vec<RecordInput>,
}

impl Batch {
    fn len(&self) -> usize {
        self.deletes.len() + self.patches.len() + self.puts.len() + self.posts.len()
    }
}

fn parse_batch(body: &Value) -> Result<Batch, ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::invalid_body("expected a JSON object", ""));
    };
    let mut batch = Batch::default();
    for (key, value) in object {
        if !["deletes", "patches", "puts", "posts"].contains(&key.as_str()) {
            return Err(ApiError::invalid_body(
                format!("unknown field `{key}`"),
                &format!("/{key}"),
            ));
        }
        let Some(items) = value.as_array() else {
            return Err(ApiError::invalid_body(
                format!("`{key}` must be an array"),
                &format!("/{key}"),
            ));
        };
        for (index, item) in items.iter().enumerate() {
            let at = format!("/{key}/{index}");
            let in_item = |e: ApiError| e.within(&at);
            match key.as_str() {
                "deletes" => {
                    let id = item
                        .as_object()
                        .filter(|o| o.len() == 1)
                        .and_then(|o| o.get("id"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            ApiError::invalid_body("a delete is exactly `{\"id\": \"…\"}`", &at)
                        })?;
                    batch.deletes.push(id.to_owned());
                }
                "patches" | "puts" => {
                    let (id, input) = records::parse_input(item, true).map_err(in_item)?;
                    let list = if key == "patches" {
                        &mut batch.patches
                    } else {
                        &mut batch.puts
                    };
                    list.push((id.unwrap_or_default(), input));
                }
                _ => batch
                    .posts
                    .push(records::parse_input(item, false).map_err(in_item)?.1),
            }
        }
    }
    Ok(batch)
}

pub(crate) async fn batch(
    State(shared): State<Shared>,
    Extension(caller): Extension<Caller>,
    Path(zone_id): Path<String>,
    uri: Uri,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    query::parse(raw.as_deref(), &NO_PARAMS)?;
    let mut guard = lock(&shared);
    let inner = &mut *guard;
    let zone = zone_for(inner, &caller, &zone_id, &uri, true)?;
    let batch = parse_batch(&json_body(&headers, &body)?)?;
    let max = zone.plan.max_batch_operations();
    if batch.len() > max {
        return Err(ApiError::bad_request(
            81070,
            format!(
                "Batch has {} operations, more than the {max} allowed for this zone's plan.",
                batch.len()
            ),
        ));
    }

    // Everything happens on a copy, which replaces the records only when every
    // operation succeeded: a batch is all or nothing.
    let mut records = inner.records.clone();
    let mut next_seq = inner.next_record_seq;
    let failed = |at: String| move |e: ApiError| e.with_status(StatusCode::BAD_REQUEST).within(&at);
    let mut deleted = Vec::new();
    for (i, id) in batch.deletes.iter().enumerate() {
        let record =
            records::delete(&mut records, &zone.id, id).map_err(failed(format!("/deletes/{i}")))?;
        deleted.push(record_json(&record));
    }
    let mut patched = Vec::new();
    for (i, (id, input)) in batch.patches.iter().enumerate() {
        let record = records::update(&mut records, &zone, id, input, Mode::Patch)
            .map_err(failed(format!("/patches/{i}")))?;
        patched.push(record_json(&record));
    }
    let mut put = Vec::new();
    for (i, (id, input)) in batch.puts.iter().enumerate() {
        let record = records::update(&mut records, &zone, id, input, Mode::Put)
            .map_err(failed(format!("/puts/{i}")))?;
        put.push(record_json(&record));
    }
    let mut posted = Vec::new();
    for (i, input) in batch.posts.iter().enumerate() {
        let record = records::create(&mut records, &mut next_seq, &zone, input)
            .map_err(failed(format!("/posts/{i}")))?;
        posted.push(record_json(&record));
    }
    inner.records = records;
    inner.next_record_seq = next_seq;
    Ok(ok(json!({
        "deletes": deleted,
        "patches": patched,
        "puts": put,
        "posts": posted,
    })))
}

// Everything else.

pub(crate) async fn no_route() -> ApiError {
    ApiError::no_route()
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
