//! TLS for the echo services comes from `ddns-tls`: rustls with the ring
//! provider, the system's root certificates and those of
//! `DDNS_IP_SOURCE_CA_FILE`, read by the same rules and with the same
//! messages as `DDNS_VERIFY_CA_FILE`.

pub(crate) use ddns_tls::CaFile;
