//! Watch responses: a body that streams newline-delimited watch events.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::fake::{Shared, Signal};
use crate::service::ResponseBody;
use crate::state::Filter;
use crate::status::ApiError;

/// A watch as set up under the state lock.
#[derive(Debug)]
pub(crate) struct WatchStart {
    pub(crate) filter: Filter,
    pub(crate) kind: String,
    pub(crate) cursor: u64,
    pub(crate) queued: VecDeque<Value>,
    pub(crate) bookmarks: bool,
    pub(crate) timeout: Duration,
    /// Ends the stream once `queued` is sent (a `410` at the start).
    pub(crate) done: bool,
    /// Sends objects as `PartialObjectMetadata`.
    pub(crate) metadata_only: bool,
}

struct Watching {
    shared: Arc<Shared>,
    signals: watch::Receiver<Signal>,
    seen: Signal,
    start: WatchStart,
    deadline: Instant,
    _open: OpenGuard,
}

/// Counts open watch streams, for `FakeApi::open_watches`.
struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open_watches.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A `BOOKMARK` event at `rv`.
pub(crate) fn bookmark(filter: &Filter, kind: &str, rv: u64, initial_end: bool) -> Value {
    let mut metadata = json!({ "resourceVersion": rv.to_string() });
    if initial_end && let Some(map) = metadata.as_object_mut() {
        map.insert(
            "annotations".into(),
            json!({ "k8s.io/initial-events-end": "true" }),
        );
    }
    json!({
        "type": "BOOKMARK",
        "object": { "kind": kind, "apiVersion": filter.api_version, "metadata": metadata },
    })
}

/// An `ERROR` event carrying a `Status`.
pub(crate) fn error_event(error: &ApiError) -> Value {
    json!({ "type": "ERROR", "object": error.to_status() })
}

/// The streaming body of a watch.
pub(crate) fn body(shared: Arc<Shared>, start: WatchStart) -> ResponseBody {
    shared.open_watches.fetch_add(1, Ordering::SeqCst);
    let mut signals = shared.signal.subscribe();
    let seen = *signals.borrow_and_update();
    let deadline = Instant::now() + start.timeout;
    let watching = Watching {
        _open: OpenGuard(Arc::clone(&shared)),
        shared,
        signals,
        seen,
        start,
        deadline,
    };
    let events = stream::unfold(watching, |mut w| async move {
        let mut event = next_event(&mut w).await?;
        if w.start.metadata_only
            && matches!(
                event.get("type").and_then(Value::as_str),
                Some("ADDED" | "MODIFIED" | "DELETED")
            )
            && let Some(object) = event.get_mut("object")
        {
            *object = crate::service::partial_metadata(object.take());
        }
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, Infallible>(Frame::data(Bytes::from(line))), w))
    });
    StreamBody::new(events).boxed_unsync()
}

async fn next_event(w: &mut Watching) -> Option<Value> {
    loop {
        if let Some(event) = w.start.queued.pop_front() {
            return Some(event);
        }
        if w.start.done {
            return None;
        }
        let signal = *w.signals.borrow_and_update();
        if signal.closes != w.seen.closes {
            return None;
        }
        let bookmark_asked = signal.bookmarks != w.seen.bookmarks;
        w.seen = signal;
        {
            let state = w.shared.lock();
            if w.start.cursor < state.oldest_valid() {
                let error = ApiError::expired(w.start.cursor, state.oldest_valid());
                w.start.queued.push_back(error_event(&error));
                w.start.done = true;
                continue;
            }
            let (events, cursor) = state.events_since(&w.start.filter, w.start.cursor);
            w.start.cursor = cursor;
            w.start.queued.extend(events);
            if bookmark_asked && w.start.bookmarks {
                w.start
                    .queued
                    .push_back(bookmark(&w.start.filter, &w.start.kind, cursor, false));
            }
        }
        if !w.start.queued.is_empty() {
            continue;
        }
        match tokio::time::timeout_at(w.deadline, w.signals.changed()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return None,
            Err(_elapsed) => {
                // The real server ends a watch at timeoutSeconds; a last
                // bookmark lets the client resume from the newest version.
                if w.start.bookmarks {
                    let rv = w.start.cursor;
                    w.start
                        .queued
                        .push_back(bookmark(&w.start.filter, &w.start.kind, rv, false));
                }
                w.start.done = true;
            }
        }
    }
}
