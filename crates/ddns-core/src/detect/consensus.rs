//! Deciding which detected address to trust.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::address::classify;
use crate::record::IpFamily;

/// What one detector said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The detector's name.
    pub source: String,
    /// Its answer, or why it gave none.
    pub result: Result<IpAddr, String>,
}

/// The outcome of one round of detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Enough detectors agree on this address.
    Agreed {
        /// The address.
        address: IpAddr,
        /// How many detectors gave it.
        votes: usize,
    },
    /// Detectors gave different addresses and none reached the quorum.
    Split {
        /// Each usable answer.
        answers: Vec<(String, IpAddr)>,
    },
    /// Too few usable answers.
    Insufficient {
        /// Usable answers.
        usable: usize,
        /// Needed for a quorum.
        needed: usize,
        /// Why the other answers did not count, per source.
        refused: Vec<(String, String)>,
    },
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Agreed { address, votes } => write!(f, "{address} ({votes} agree)"),
            Verdict::Split { answers } => {
                let parts: Vec<String> = answers
                    .iter()
                    .map(|(s, a)| format!("{s} says {a}"))
                    .collect();
                write!(f, "sources disagree: {}", parts.join(", "))
            }
            Verdict::Insufficient {
                usable,
                needed,
                refused,
            } => {
                write!(f, "{usable} usable answer(s), {needed} needed to agree")?;
                for (source, reason) in refused {
                    write!(f, "; {source} {reason}")?;
                }
                Ok(())
            }
        }
    }
}

/// Rejects an answer that cannot be this host's public address of `family`.
pub(crate) fn check_answer(
    family: IpFamily,
    address: IpAddr,
    allow_nonglobal: bool,
) -> Result<IpAddr, String> {
    if IpFamily::of(&address) != family {
        return Err(format!(
            "answered {address}, which is not an {family} address"
        ));
    }
    let class = classify(address);
    if !class.is_global() && !allow_nonglobal {
        return Err(format!(
            "answered {address}, a {} address that cannot be public (DDNS_IP_ALLOW_NONGLOBAL=true accepts it)",
            class.as_str()
        ));
    }
    Ok(address)
}

/// Decides on one family's answers: the address given by at least
/// `quorum` detectors and by more detectors than any other address.
pub fn decide(
    family: IpFamily,
    answers: &[Answer],
    quorum: usize,
    allow_nonglobal: bool,
) -> Verdict {
    let mut usable: Vec<(String, IpAddr)> = Vec::new();
    let mut refused: Vec<(String, String)> = Vec::new();
    for answer in answers {
        match answer
            .result
            .as_ref()
            .map_err(|e| format!("failed: {e}"))
            .and_then(|a| check_answer(family, *a, allow_nonglobal))
        {
            Ok(address) => usable.push((answer.source.clone(), address)),
            Err(reason) => refused.push((answer.source.clone(), reason)),
        }
    }
    let mut votes: BTreeMap<IpAddr, usize> = BTreeMap::new();
    for (_, address) in &usable {
        *votes.entry(*address).or_default() += 1;
    }
    let needed = quorum.max(1);
    let mut ranked: Vec<(IpAddr, usize)> = votes.into_iter().collect();
    ranked.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    match ranked.as_slice() {
        [(address, count), rest @ ..]
            if *count >= needed && rest.first().is_none_or(|(_, c)| c < count) =>
        {
            Verdict::Agreed {
                address: *address,
                votes: *count,
            }
        }
        [_, _, ..] => Verdict::Split { answers: usable },
        _ => Verdict::Insufficient {
            usable: usable.len(),
            needed,
            refused,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(source: &str, result: Result<&str, &str>) -> Answer {
        Answer {
            source: source.into(),
            result: result
                .map(|a| a.parse().expect("address"))
                .map_err(String::from),
        }
    }

    #[test]
    fn two_agreeing_sources_are_trusted() {
        let answers = [
            answer("a", Ok("81.2.69.160")),
            answer("b", Ok("81.2.69.160")),
            answer("c", Err("timeout")),
        ];
        assert_eq!(
            decide(IpFamily::V4, &answers, 2, false),
            Verdict::Agreed {
                address: "81.2.69.160".parse().expect("ip"),
                votes: 2
            }
        );
    }

    #[test]
    fn a_split_publishes_nothing_and_names_each_answer() {
        let answers = [
            answer("a", Ok("81.2.69.160")),
            answer("b", Ok("81.2.69.161")),
        ];
        let verdict = decide(IpFamily::V4, &answers, 2, false);
        assert_eq!(
            verdict.to_string(),
            "sources disagree: a says 81.2.69.160, b says 81.2.69.161"
        );
        // A tie is a split even when the quorum is one.
        assert!(matches!(
            decide(IpFamily::V4, &answers, 1, false),
            Verdict::Split { .. }
        ));
    }

    #[test]
    fn a_majority_above_the_quorum_wins_over_a_dissenter() {
        let answers = [
            answer("a", Ok("81.2.69.160")),
            answer("b", Ok("81.2.69.160")),
            answer("c", Ok("81.2.69.9")),
        ];
        assert!(matches!(
            decide(IpFamily::V4, &answers, 2, false),
            Verdict::Agreed { votes: 2, .. }
        ));
    }

    #[test]
    fn private_wrong_family_and_failed_answers_do_not_count() {
        let answers = [
            answer("a", Ok("192.168.1.2")),
            answer("b", Ok("2001:db8::1")),
            answer("c", Err("HTTP 503")),
            answer("d", Ok("81.2.69.160")),
        ];
        let verdict = decide(IpFamily::V4, &answers, 2, false);
        assert!(matches!(
            verdict,
            Verdict::Insufficient {
                usable: 1,
                needed: 2,
                ..
            }
        ));
        assert_eq!(
            verdict.to_string(),
            "1 usable answer(s), 2 needed to agree; a answered 192.168.1.2, a private address that cannot be public (DDNS_IP_ALLOW_NONGLOBAL=true accepts it); b answered 2001:db8::1, which is not an ipv4 address; c failed: HTTP 503"
        );
        assert_eq!(
            decide(IpFamily::V4, &answers, 1, false),
            Verdict::Agreed {
                address: "81.2.69.160".parse().expect("ip"),
                votes: 1
            }
        );
        let err = check_answer(IpFamily::V4, "100.64.1.1".parse().expect("ip"), false)
            .expect_err("cgnat");
        assert_eq!(
            err,
            "answered 100.64.1.1, a shared (CGNAT) address that cannot be public (DDNS_IP_ALLOW_NONGLOBAL=true accepts it)"
        );
        assert!(check_answer(IpFamily::V4, "127.0.0.1".parse().expect("ip"), true).is_ok());
    }
}
