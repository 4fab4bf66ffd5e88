//! The assignment's number encryption (PROTOCOL §5): each integer is written like
//! C's `"%16d"` (right-aligned in 16 ASCII characters), encrypted as one AES block in
//! ECB mode with no padding, and carried as standard base64.
//!
//! This scheme sends its key in the clear and reveals equal numbers; it exists for
//! compatibility with the assignment's peers, not for confidentiality.

use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::{Aes128, Aes192, Aes256};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::fmt;

/// One AES block: the size of every encrypted number.
pub const BLOCK_LEN: usize = 16;

/// Length of the base64 text of one encrypted block.
pub const ENCRYPTED_LEN: usize = 24;

/// The smallest integer that fits in `%16d`: 15 digits and a minus sign.
pub const MIN_ENCRYPTABLE: i64 = -999_999_999_999_999;

/// The largest integer that fits in `%16d`: 16 digits.
pub const MAX_ENCRYPTABLE: i64 = 9_999_999_999_999_999;

/// An AES key of one of the sizes pycryptodome accepts, ready to use.
#[derive(Clone)]
pub struct Cipher(Aes);

#[derive(Clone)]
enum Aes {
    Aes128(Aes128),
    Aes192(Aes192),
    Aes256(Aes256),
}

/// Why a `cipher` field does not hold a usable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Not standard base64 with padding.
    NotBase64,
    /// Decodes to a length other than 16, 24 or 32 bytes.
    WrongLength(usize),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NotBase64 => f.write_str("the key is not standard base64"),
            KeyError::WrongLength(len) => {
                write!(f, "the key is {len} bytes long; expected 16, 24 or 32")
            }
        }
    }
}

/// Why an encrypted number could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecryptError {
    /// Not the base64 of exactly one 16-byte block.
    NotOneBlock,
    /// The block decrypts to something other than a padded decimal integer.
    NotAnInteger,
}

/// An integer outside the `%16d` range, which this scheme cannot carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfRange;

impl Cipher {
    /// A cipher for a raw key of 16, 24 or 32 bytes.
    pub fn from_key(key: &[u8]) -> Result<Cipher, KeyError> {
        let aes = match key.len() {
            16 => Aes::Aes128(Aes128::new_from_slice(key).map_err(|_| KeyError::WrongLength(16))?),
            24 => Aes::Aes192(Aes192::new_from_slice(key).map_err(|_| KeyError::WrongLength(24))?),
            32 => Aes::Aes256(Aes256::new_from_slice(key).map_err(|_| KeyError::WrongLength(32))?),
            other => return Err(KeyError::WrongLength(other)),
        };
        Ok(Cipher(aes))
    }

    /// A cipher for a 16-byte key, such as the one a client draws for its session:
    /// every 16-byte array is a valid AES-128 key, so this cannot fail.
    pub fn from_key_128(key: &[u8; 16]) -> Cipher {
        Cipher(Aes::Aes128(Aes128::new(key.into())))
    }

    /// A cipher for the base64 text a START carries in `cipher`.
    pub fn from_base64(text: &str) -> Result<Cipher, KeyError> {
        // The longest key is 32 bytes; a longer text is refused before decoding.
        let mut key = [0u8; 33];
        if text.len() > 4 * key.len().div_ceil(3) {
            return Err(KeyError::WrongLength(text.len() / 4 * 3));
        }
        let len = STANDARD.decode_slice(text, &mut key).map_err(|_| KeyError::NotBase64)?;
        Cipher::from_key(&key[..len])
    }

    /// Encrypts `value` as the base64 text of one block.
    pub fn encrypt(&self, value: i64) -> Result<EncryptedNumber, OutOfRange> {
        if !(MIN_ENCRYPTABLE..=MAX_ENCRYPTABLE).contains(&value) {
            return Err(OutOfRange);
        }
        let mut block = [b' '; BLOCK_LEN];
        let mut digits = crate::int::DecimalBuffer::default();
        let text = crate::int::format_i64(value, &mut digits);
        block[BLOCK_LEN - text.len()..].copy_from_slice(text);
        let mut block = block.into();
        match &self.0 {
            Aes::Aes128(aes) => aes.encrypt_block(&mut block),
            Aes::Aes192(aes) => aes.encrypt_block(&mut block),
            Aes::Aes256(aes) => aes.encrypt_block(&mut block),
        }
        let mut text = [0u8; ENCRYPTED_LEN];
        let written =
            STANDARD.encode_slice(block, &mut text).expect("16 bytes always encode to 24 base64 characters");
        debug_assert_eq!(written, ENCRYPTED_LEN);
        Ok(EncryptedNumber(text))
    }

    /// Decrypts the base64 text of one block back to its integer.
    pub fn decrypt(&self, text: &str) -> Result<i64, DecryptError> {
        if text.len() != ENCRYPTED_LEN {
            return Err(DecryptError::NotOneBlock);
        }
        let mut bytes = [0u8; BLOCK_LEN + 2];
        let len = STANDARD.decode_slice(text, &mut bytes).map_err(|_| DecryptError::NotOneBlock)?;
        let block: [u8; BLOCK_LEN] = bytes[..len].try_into().map_err(|_| DecryptError::NotOneBlock)?;
        let mut block = block.into();
        match &self.0 {
            Aes::Aes128(aes) => aes.decrypt_block(&mut block),
            Aes::Aes192(aes) => aes.decrypt_block(&mut block),
            Aes::Aes256(aes) => aes.decrypt_block(&mut block),
        }
        let plain = std::str::from_utf8(&block).map_err(|_| DecryptError::NotAnInteger)?;
        // 16 characters hold at most 16 digits, so a valid block always fits in i64.
        crate::Int::parse_padded(plain)
            .ok()
            .and_then(|value| value.as_i64())
            .ok_or(DecryptError::NotAnInteger)
    }
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material, not even in a debug log.
        let bits = match self.0 {
            Aes::Aes128(_) => 128,
            Aes::Aes192(_) => 192,
            Aes::Aes256(_) => 256,
        };
        write!(f, "Cipher(AES-{bits})")
    }
}

/// The base64 text of one encrypted number, as it travels in JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncryptedNumber([u8; ENCRYPTED_LEN]);

impl EncryptedNumber {
    /// The base64 text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("base64 output is ASCII")
    }
}

impl fmt::Debug for EncryptedNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The base64 text of a raw key, as a client sends it in START.
pub fn key_to_base64(key: &[u8]) -> String {
    STANDARD.encode(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_the_three_aes_sizes_are_accepted() {
        for len in [16, 24, 32] {
            let key = vec![7u8; len];
            assert!(Cipher::from_base64(&key_to_base64(&key)).is_ok(), "{len}-byte key");
        }
    }

    #[test]
    fn other_keys_are_refused_with_the_reason() {
        assert_eq!(Cipher::from_base64(&key_to_base64(&[0; 15])).err(), Some(KeyError::WrongLength(15)));
        assert_eq!(Cipher::from_base64(&key_to_base64(&[0; 17])).err(), Some(KeyError::WrongLength(17)));
        assert!(matches!(
            Cipher::from_base64(&key_to_base64(&[0; 64])).err(),
            Some(KeyError::WrongLength(_))
        ));
        assert_eq!(Cipher::from_base64("not base64!").err(), Some(KeyError::NotBase64));
        // Unpadded base64 is not the standard form Python's b64encode writes.
        assert_eq!(Cipher::from_base64("AAAAAAAAAAAAAAAAAAAAAA").err(), Some(KeyError::NotBase64));
    }

    #[test]
    fn a_16_byte_key_needs_no_check() {
        let checked = Cipher::from_key(&[42; 16]).expect("16-byte key");
        let direct = Cipher::from_key_128(&[42; 16]);
        assert_eq!(
            direct.encrypt(-5).expect("in range").as_str(),
            checked.encrypt(-5).expect("in range").as_str()
        );
    }

    #[test]
    fn round_trips_across_the_whole_range() {
        let cipher = Cipher::from_key(&[42; 16]).expect("16-byte key");
        for value in [0, 1, -1, MIN_ENCRYPTABLE, MAX_ENCRYPTABLE, 1234567890123456, -123456789012345] {
            let text = cipher.encrypt(value).expect("in range");
            assert_eq!(text.as_str().len(), ENCRYPTED_LEN);
            assert_eq!(cipher.decrypt(text.as_str()), Ok(value));
        }
    }

    #[test]
    fn values_outside_percent_16d_are_refused() {
        let cipher = Cipher::from_key(&[42; 16]).expect("16-byte key");
        assert_eq!(cipher.encrypt(MAX_ENCRYPTABLE + 1), Err(OutOfRange));
        assert_eq!(cipher.encrypt(MIN_ENCRYPTABLE - 1), Err(OutOfRange));
        assert_eq!(cipher.encrypt(i64::MIN), Err(OutOfRange));
    }

    #[test]
    fn garbage_does_not_decrypt() {
        let cipher = Cipher::from_key(&[42; 16]).expect("16-byte key");
        assert_eq!(cipher.decrypt("short"), Err(DecryptError::NotOneBlock));
        assert_eq!(cipher.decrypt("AAAAAAAAAAAAAAAAAAAAAAAA"), Err(DecryptError::NotOneBlock));
        // A valid block whose plaintext is not a number.
        assert_eq!(cipher.decrypt("AAAAAAAAAAAAAAAAAAAAAA=="), Err(DecryptError::NotAnInteger));
    }

    #[test]
    fn debug_output_hides_the_key() {
        let cipher = Cipher::from_key(&[0xab; 24]).expect("24-byte key");
        assert_eq!(format!("{cipher:?}"), "Cipher(AES-192)");
    }
}
