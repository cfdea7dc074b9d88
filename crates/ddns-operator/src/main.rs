//! The `ddns-operator` binary.

fn main() {
    for crd in ddns_operator::crd::all() {
        match serde_saphyr::to_string(&crd) {
            Ok(text) => print!("---\n{text}"),
            Err(e) => eprintln!("{e}"),
        }
    }
}
