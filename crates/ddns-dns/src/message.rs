//! Building queries and updates, and reading answers defensively.

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, UpdateMessage};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// A query for one RRset, without recursion (we ask authoritative servers),
/// advertising a 1232-byte EDNS buffer.
pub fn query_message(name: &Name, record_type: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.recursion_desired = false;
    message.add_query(Query::query(name.clone(), record_type));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    message.edns = Some(edns);
    message
}

/// One piece of an UPDATE message (RFC 2136 §2.4 and §2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Section {
    /// Prerequisite: the RRset holds exactly these values (§2.4.2).
    RrsetEquals(Name, Vec<RData>),
    /// Prerequisite: no RRset of this name and type (§2.4.3).
    RrsetAbsent(Name, RecordType),
    /// Update: delete the RRset of this name and type (§2.5.2).
    DeleteRrset(Name, RecordType),
    /// Update: add these records (§2.5.1).
    Add(Name, u32, Vec<RData>),
    /// Update: delete these records, one by one (§2.5.4).
    DeleteRecords(Name, Vec<RData>),
}

/// An UPDATE for `zone` with prerequisites and updates in the given order.
pub(crate) fn build_update(zone: &Name, sections: &[Section]) -> Message {
    let mut message = Message::query();
    message.metadata.op_code = OpCode::Update;
    message.metadata.recursion_desired = false;
    let mut zone_section = Query::query(zone.clone(), RecordType::SOA);
    zone_section.set_query_class(DNSClass::IN);
    message.add_zone(zone_section);
    for section in sections {
        match section {
            Section::RrsetEquals(name, values) => {
                for value in values {
                    message.add_pre_requisite(Record::from_rdata(name.clone(), 0, value.clone()));
                }
            }
            Section::RrsetAbsent(name, record_type) => {
                let mut record = Record::update0(name.clone(), 0, *record_type);
                record.dns_class = DNSClass::NONE;
                message.add_pre_requisite(record);
            }
            Section::DeleteRrset(name, record_type) => {
                let mut record = Record::update0(name.clone(), 0, *record_type);
                record.dns_class = DNSClass::ANY;
                message.add_update(record);
            }
            Section::DeleteRecords(name, values) => {
                for value in values {
                    let mut record = Record::from_rdata(name.clone(), 0, value.clone());
                    record.dns_class = DNSClass::NONE;
                    message.add_update(record);
                }
            }
            Section::Add(name, ttl, values) => {
                for value in values {
                    message.add_update(Record::from_rdata(name.clone(), *ttl, value.clone()));
                }
            }
        }
    }
    message
}

/// Builds the UPDATE message for `changes` (exposed for tests and tools).
pub fn update_message(zone: &Name, changes: &[crate::RrsetChange]) -> Message {
    let sections: Vec<Section> = changes.iter().flat_map(|c| c.sections()).collect();
    build_update(zone, &sections)
}

/// Parses an answer and checks that it answers `request`: same ID, a
/// response, same opcode, and the same question (or zone) section.
///
/// This is the whole path untrusted bytes take; it never panics.
pub fn parse_response(bytes: &[u8], request: &Message) -> Result<Message, String> {
    let response = Message::from_vec(bytes).map_err(|e| format!("not a DNS message: {e}"))?;
    let metadata = &response.metadata;
    if metadata.id != request.metadata.id {
        return Err(format!(
            "answer ID {} does not match request ID {}",
            metadata.id, request.metadata.id
        ));
    }
    if metadata.message_type != MessageType::Response {
        return Err("the message is a query, not an answer".into());
    }
    if metadata.op_code != request.metadata.op_code {
        return Err(format!(
            "answer opcode {:?} does not match request opcode {:?}",
            metadata.op_code, request.metadata.op_code
        ));
    }
    // A truncated answer may legitimately omit the question section.
    if !metadata.truncation && !response.queries.is_empty() && response.queries != request.queries {
        return Err("the answer is for another question".into());
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::A;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap_or_else(|_| Name::root())
    }

    #[test]
    fn replace_is_delete_then_add_in_one_message() {
        let message = build_update(
            &name("example.test."),
            &[
                Section::RrsetEquals(
                    name("h.example.test."),
                    vec![RData::A(A::new(192, 0, 2, 1))],
                ),
                Section::DeleteRrset(name("h.example.test."), RecordType::A),
                Section::Add(
                    name("h.example.test."),
                    60,
                    vec![RData::A(A::new(192, 0, 2, 2))],
                ),
            ],
        );
        assert_eq!(message.metadata.op_code, OpCode::Update);
        let updates = message.updates();
        assert_eq!(updates.len(), 2);
        assert_eq!(updates[0].dns_class, DNSClass::ANY);
        assert_eq!(updates[0].record_type(), RecordType::A);
        assert_eq!(updates[1].dns_class, DNSClass::IN);
        assert_eq!(updates[1].ttl, 60);
        assert_eq!(message.prerequisites().len(), 1);
        assert_eq!(message.prerequisites()[0].ttl, 0);
    }

    #[test]
    fn an_edit_adds_then_removes_single_records() {
        let ns = |s: &str| RData::NS(hickory_proto::rr::rdata::NS(name(s)));
        let message = update_message(
            &name("example.test."),
            &[crate::RrsetChange::Edit {
                name: name("example.test."),
                ttl: 3600,
                add: vec![ns("ns1.example.net."), ns("ns2.example.net.")],
                remove: vec![ns("ns.example.test.")],
            }],
        );
        let updates = message.updates();
        assert_eq!(updates.len(), 3);
        assert!(
            updates[..2]
                .iter()
                .all(|r| r.dns_class == DNSClass::IN && r.ttl == 3600)
        );
        assert_eq!(updates[2].dns_class, DNSClass::NONE);
        assert_eq!(updates[2].ttl, 0);
        assert_eq!(updates[2].data, ns("ns.example.test."));
        assert!(message.prerequisites().is_empty());
    }

    #[test]
    fn answers_to_other_requests_are_rejected() {
        let request = query_message(&name("a.example.test."), RecordType::A);
        let mut other = Message::response(request.metadata.id.wrapping_add(1), OpCode::Query);
        other.add_queries(request.queries.clone());
        let bytes = other.to_vec().unwrap_or_default();
        let err = parse_response(&bytes, &request).expect_err("wrong id");
        assert!(err.starts_with("answer ID"), "{err}");

        let mut wrong_question = Message::response(request.metadata.id, OpCode::Query);
        wrong_question.add_query(Query::query(name("b.example.test."), RecordType::A));
        let bytes = wrong_question.to_vec().unwrap_or_default();
        assert_eq!(
            parse_response(&bytes, &request).expect_err("question"),
            "the answer is for another question"
        );

        assert!(
            parse_response(&[0xde, 0xad], &request)
                .expect_err("short")
                .starts_with("not a DNS message")
        );
        let query_bytes = request.to_vec().unwrap_or_default();
        assert_eq!(
            parse_response(&query_bytes, &request).expect_err("query"),
            "the message is a query, not an answer"
        );
    }
}
