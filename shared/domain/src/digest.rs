//! File identity: the hex SHA-256 of a file's bytes, its name everywhere in Medistock (the
//! ledger, the archive, receipts).

use sha2::{Digest, Sha256};

/// Hex SHA-256 of bytes: the identity of a file everywhere in Medistock.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of everything a reader yields, read in 1 MiB blocks (for files too large to
/// load).
pub fn sha256_hex_reader(mut reader: impl std::io::Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match reader.read(&mut buf)? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    Ok(hex(&hasher.finalize()))
}
