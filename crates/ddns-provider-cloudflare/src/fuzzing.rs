//! The answer parser, reachable from outside for fuzzing and corpus tests.
//! Not part of the supported API.

use crate::client::{answer, typed};
use crate::envelope::DnsRecord;

/// Parses one API answer the way the client does: the envelope first, then
/// a list of records (or one record) when the API says `success`, else the
/// classified error. `Err` holds the message a user would read. Never
/// panics, whatever the bytes.
pub fn parse_answer(status: u16, body: &[u8]) -> Result<(), String> {
    let envelope = answer(status, false, None, body).map_err(|e| e.to_string())?;
    let typed = if envelope.result_is_list() {
        typed::<Vec<DnsRecord>>(envelope).map(|_| ())
    } else {
        typed::<DnsRecord>(envelope).map(|_| ())
    };
    typed.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_parsed_or_explained() {
        let list = br#"{"success":true,"errors":[],"result":[{"id":"a","name":"x.example.com","type":"A","content":"192.0.2.1","ttl":1}],"result_info":{"page":1,"per_page":100,"count":1,"total_count":1,"total_pages":1}}"#;
        assert_eq!(parse_answer(200, list), Ok(()));
        let gone = br#"{"success":false,"errors":[{"code":81044,"message":"Record does not exist."}],"result":null}"#;
        assert_eq!(
            parse_answer(404, gone),
            Err("HTTP 404, code 81044: Record does not exist.".into())
        );
        assert_eq!(
            parse_answer(403, b"<html>Just a moment...</html>"),
            Err("unexpected answer (HTTP 403): the body is not JSON".into())
        );
        assert!(
            parse_answer(200, br#"{"success":true,"errors":[],"result":{"id":7}}"#)
                .unwrap_err()
                .starts_with("unexpected answer (HTTP 200): unexpected result:")
        );
    }
}
