//! PROTOCOL §5: our AES-ECB "%16d" scheme against known answers that pycryptodome
//! produced (interop/cipher_vectors.py; the interop suite regenerates them and checks
//! that they still match this committed copy).

use minmax_core::Cipher;

#[derive(serde::Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
}

#[derive(serde::Deserialize)]
struct Vector {
    key: String,
    number: i64,
    block: String,
    encrypted: String,
}

fn vectors() -> Vec<Vector> {
    let json = include_str!("data/cipher-vectors.json");
    serde_json::from_str::<Vectors>(json).expect("the committed vectors parse").vectors
}

#[test]
fn encryption_matches_pycryptodome_for_every_key_size() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 68, "4 keys x 17 numbers");
    let mut key_sizes = std::collections::BTreeSet::new();
    for vector in &vectors {
        let cipher = Cipher::from_base64(&vector.key).expect("the vector's key is valid");
        key_sizes.insert(format!("{cipher:?}"));
        let encrypted = cipher.encrypt(vector.number).expect("the vector's number is in range");
        assert_eq!(encrypted.as_str(), vector.encrypted, "{} with key {}", vector.number, vector.key);
        assert_eq!(format!("{:16}", vector.number), vector.block, "the %16d block");
    }
    assert_eq!(key_sizes.len(), 3, "AES-128, -192 and -256 are all covered: {key_sizes:?}");
}

#[test]
fn decryption_recovers_pycryptodome_ciphertexts() {
    for vector in vectors() {
        let cipher = Cipher::from_base64(&vector.key).expect("the vector's key is valid");
        assert_eq!(cipher.decrypt(&vector.encrypted), Ok(vector.number));
    }
}
