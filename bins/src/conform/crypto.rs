//! The assignment's number encryption (PROTOCOL §5), written here from the `aes` and
//! `base64` crates alone: base64(AES-ECB(key, the integer as C's "%16d")).

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit, generic_array::GenericArray};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// An AES key of 16, 24 or 32 bytes.
#[derive(Clone)]
pub enum Key {
    /// AES-128
    K128(Box<aes::Aes128>),
    /// AES-192
    K192(Box<aes::Aes192>),
    /// AES-256
    K256(Box<aes::Aes256>),
}

impl Key {
    /// A key from its bytes; `None` unless 16, 24 or 32 of them.
    pub fn new(bytes: &[u8]) -> Option<Key> {
        Some(match bytes.len() {
            16 => Key::K128(Box::new(aes::Aes128::new_from_slice(bytes).ok()?)),
            24 => Key::K192(Box::new(aes::Aes192::new_from_slice(bytes).ok()?)),
            32 => Key::K256(Box::new(aes::Aes256::new_from_slice(bytes).ok()?)),
            _ => return None,
        })
    }

    /// A key from the base64 text a START carries.
    pub fn from_base64(text: &str) -> Option<Key> {
        Key::new(&STANDARD.decode(text).ok()?)
    }

    /// The base64 of the encrypted "%16d" rendering of `number`; `None` when it does
    /// not fit in 16 characters.
    pub fn encrypt(&self, number: &str) -> Option<String> {
        if number.len() > 16 {
            return None;
        }
        let mut block = GenericArray::clone_from_slice(format!("{number:>16}").as_bytes());
        match self {
            Key::K128(key) => key.encrypt_block(&mut block),
            Key::K192(key) => key.encrypt_block(&mut block),
            Key::K256(key) => key.encrypt_block(&mut block),
        }
        Some(STANDARD.encode(block))
    }

    /// The integer inside an encrypted value, as decimal text; `None` when the text is
    /// not base64 of one block holding a padded integer.
    pub fn decrypt(&self, text: &str) -> Option<String> {
        let bytes = STANDARD.decode(text).ok()?;
        if bytes.len() != 16 {
            return None;
        }
        let mut block = GenericArray::clone_from_slice(&bytes);
        match self {
            Key::K128(key) => key.decrypt_block(&mut block),
            Key::K192(key) => key.decrypt_block(&mut block),
            Key::K256(key) => key.decrypt_block(&mut block),
        }
        let text = std::str::from_utf8(&block).ok()?.trim_matches(' ');
        let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| text.to_string())
    }
}

/// Decodes a base64 key text to its length in bytes, if it is valid base64.
pub fn key_length(text: &str) -> Option<usize> {
    STANDARD.decode(text).ok().map(|bytes| bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers made by pycryptodome (core/tests/data/cipher-vectors.json).
    #[test]
    fn pycryptodome_known_answers() {
        let key = Key::from_base64("AAECAwQFBgcICQoLDA0ODw==").unwrap();
        assert_eq!(key.encrypt("5").as_deref(), Some("iFRQL13QPmN6l89HvsMkvg=="));
        assert_eq!(key.encrypt("-3").as_deref(), Some("ab+wyu9t09q3PYuOMUdUlA=="));
        assert_eq!(key.encrypt("9999999999999999").as_deref(), Some("jzdoSsLEFGdG1Sc7MUNlag=="));
        assert_eq!(key.decrypt("avxkB3SPG+kIVNqJl7x23g==").as_deref(), Some("-999999999999999"));
        let key = Key::from_base64("yMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5uc=").unwrap();
        assert_eq!(key.encrypt("42").as_deref(), Some("C+RHn1JcoIbRp3E00v8NMQ=="));
        assert!(key.encrypt("12345678901234567").is_none());
        assert!(Key::from_base64("AAEC").is_none());
    }
}
