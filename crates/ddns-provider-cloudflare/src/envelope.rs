//! The shapes of API v4 answers, parsed strictly: every answer is an
//! envelope with `success`, `errors` and `result` (and `result_info` on
//! lists). A body that is not one is an error, never a panic.

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// One entry of `errors` (or of an error's `error_chain`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct ApiMessage {
    pub(crate) code: u32,
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) error_chain: Vec<ApiMessage>,
}

impl ApiMessage {
    /// This message's code and those of its chain.
    pub(crate) fn codes(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::once(self.code).chain(self.error_chain.iter().map(|c| c.code))
    }
}

/// Paging of a list answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) struct ResultInfo {
    pub(crate) page: u32,
    pub(crate) per_page: u32,
    #[serde(default)]
    pub(crate) count: u32,
    #[serde(default)]
    pub(crate) total_count: u32,
    #[serde(default)]
    pub(crate) total_pages: Option<u32>,
}

impl ResultInfo {
    /// Whether a page follows this one.
    pub(crate) fn has_more(&self) -> bool {
        match self.total_pages {
            Some(total) => self.page < total,
            None => u64::from(self.page) * u64::from(self.per_page) < u64::from(self.total_count),
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawEnvelope {
    success: bool,
    errors: Vec<ApiMessage>,
    #[serde(default)]
    result: serde_json::Value,
    #[serde(default)]
    result_info: Option<ResultInfo>,
}

/// A parsed envelope whose `result` is still to be typed.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub(crate) success: bool,
    pub(crate) errors: Vec<ApiMessage>,
    result: serde_json::Value,
    pub(crate) result_info: Option<ResultInfo>,
}

impl Envelope {
    /// Parses a body; `Err` says why it is not an envelope.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, String> {
        let raw: RawEnvelope = serde_json::from_slice(body).map_err(|e| {
            if e.is_syntax() || e.is_eof() {
                "the body is not JSON".to_string()
            } else {
                format!("the body is not an API envelope: {e}")
            }
        })?;
        Ok(Self {
            success: raw.success,
            errors: raw.errors,
            result: raw.result,
            result_info: raw.result_info,
        })
    }

    /// Whether `result` is a list (a list call's answer).
    pub(crate) fn result_is_list(&self) -> bool {
        self.result.is_array()
    }

    /// The `result`, as `T`.
    pub(crate) fn result<T: DeserializeOwned>(self) -> Result<T, String> {
        serde_json::from_value(self.result).map_err(|e| format!("unexpected result: {e}"))
    }
}

/// A zone, as `/zones` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Zone {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) status: Option<String>,
}

/// A DNS record, as the API returns it. Fields ddns does not use are
/// ignored; those it uses must be there with the right type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct DnsRecord {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) record_type: String,
    pub(crate) content: String,
    pub(crate) ttl: u32,
    #[serde(default)]
    pub(crate) proxied: bool,
    #[serde(default)]
    pub(crate) comment: Option<String>,
}

/// The answer of a token verification.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TokenStatus {
    pub(crate) status: String,
}

/// An account, as `/accounts` lists it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Account {
    pub(crate) id: String,
}

/// The answer of a batch: what each kind of operation produced.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct BatchResult {
    #[serde(default)]
    pub(crate) patches: Vec<DnsRecord>,
    #[serde(default)]
    pub(crate) posts: Vec<DnsRecord>,
}

/// A record's `id` alone, as DELETE answers.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Deleted {
    #[allow(dead_code)]
    pub(crate) id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_answer_parses_with_its_paging() {
        let body = br#"{"success":true,"errors":[],"messages":[],
            "result":[{"id":"a1","name":"x.example.com","type":"A","content":"192.0.2.1","ttl":1,"proxied":false,"comment":null,"tags":[]}],
            "result_info":{"page":1,"per_page":100,"count":1,"total_count":101,"total_pages":2}}"#;
        let envelope = Envelope::parse(body).unwrap();
        assert!(envelope.success);
        let info = envelope.result_info.unwrap();
        assert!(info.has_more());
        let records: Vec<DnsRecord> = envelope.result().unwrap();
        assert_eq!(records[0].content, "192.0.2.1");
        assert_eq!(records[0].record_type, "A");
    }

    #[test]
    fn the_last_page_has_no_more() {
        let info = ResultInfo {
            page: 2,
            per_page: 100,
            count: 1,
            total_count: 101,
            total_pages: None,
        };
        assert!(!info.has_more());
        assert!(ResultInfo { page: 1, ..info }.has_more());
    }

    #[test]
    fn bodies_that_are_not_envelopes_are_errors() {
        assert_eq!(
            Envelope::parse(b"<html>Just a moment...</html>").unwrap_err(),
            "the body is not JSON"
        );
        assert!(
            Envelope::parse(br#"{"result":[]}"#)
                .unwrap_err()
                .starts_with("the body is not an API envelope: missing field `success`")
        );
        assert!(
            Envelope::parse(br#"{"success":"yes","errors":[]}"#)
                .unwrap_err()
                .contains("invalid type")
        );
        let wrong_result = Envelope::parse(br#"{"success":true,"errors":[],"result":{"id":7}}"#)
            .unwrap()
            .result::<DnsRecord>()
            .unwrap_err();
        assert!(
            wrong_result.starts_with("unexpected result:"),
            "{wrong_result}"
        );
    }

    #[test]
    fn error_chains_are_kept() {
        let body = br#"{"success":false,"errors":[{"code":6003,"message":"Invalid request headers","error_chain":[{"code":6111,"message":"Invalid format for Authorization header"}]}],"messages":[],"result":null}"#;
        let envelope = Envelope::parse(body).unwrap();
        assert!(!envelope.success);
        let codes: Vec<u32> = envelope.errors[0].codes().collect();
        assert_eq!(codes, vec![6003, 6111]);
    }
}
