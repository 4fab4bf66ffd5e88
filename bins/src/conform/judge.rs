//! Comparing what a peer sent with the literal bytes PROTOCOL requires, and naming
//! the readings §9 accepts at the seed level (compact separators, `minimum` for
//! `min`, an error in other words).

use super::json::{self, Json};
use super::wire::escape_bytes;

/// The error strings of PROTOCOL §4 as json.dumps writes them.
pub const SECTION_4_ERRORS: [&str; 13] = [
    "Cliente existente",
    "Cliente inexistente",
    "Dados insuficientes",
    "Mensagem inválida",
    "Operação desconhecida",
    "Sessão já iniciada",
    "Identificador inválido",
    "Chave inválida",
    "Número inválido",
    "Cifra obrigatória",
    "Servidor ocupado",
    "Erro do servidor",
    "Cliente não autorizado",
];

/// How close `actual` came to the expected bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Byte for byte.
    Exact,
    /// A reading allowed at the seed level; the text names it.
    NonStrict(String),
    /// Something else.
    Mismatch,
}

/// Judges a received body against the expected literal, then against alternative
/// literals that are allowed readings (each with its name).
pub fn judge(expected: &[u8], alternatives: &[(&[u8], &str)], actual: &[u8]) -> Judgement {
    if actual == expected {
        return Judgement::Exact;
    }
    let Ok(got) = json::parse(actual) else { return Judgement::Mismatch };
    let Ok(want) = json::parse(expected) else { return Judgement::Mismatch };
    if got.same_value(&want) {
        return Judgement::NonStrict(format!(
            "the same JSON, other bytes than json.dumps ({})",
            formatting(actual)
        ));
    }
    if let Some(reading) = reading(&want, &got) {
        return Judgement::NonStrict(reading);
    }
    for (alternative, name) in alternatives {
        match judge(alternative, &[], actual) {
            Judgement::Exact => return Judgement::NonStrict((*name).to_string()),
            Judgement::NonStrict(how) => return Judgement::NonStrict(format!("{name}; {how}")),
            Judgement::Mismatch => {}
        }
    }
    Judgement::Mismatch
}

/// What differs from json.dumps's bytes, in words.
fn formatting(actual: &[u8]) -> String {
    let mut how = Vec::new();
    let text = String::from_utf8_lossy(actual);
    if text.contains("\":\"") || text.contains("\":") && !text.contains("\": ") || text.contains(",\"") {
        how.push("compact separators");
    }
    if actual.iter().any(|b| !b.is_ascii()) {
        how.push("non-ASCII not escaped as \\uXXXX");
    }
    if how.is_empty() {
        how.push("other key order or spacing");
    }
    how.join(", ")
}

/// The seed-level readings of §9 between an expected and a received object.
fn reading(want: &Json, got: &Json) -> Option<String> {
    let (Json::Object(_), Json::Object(_)) = (want, got) else { return None };
    // `minimum` and `maximum` for `min` and `max`.
    if want.get("min").is_some() && got.get("min").is_none() && got.get("minimum").is_some() {
        let renamed = rename(got, &[("minimum", "min"), ("maximum", "max")]);
        if renamed.same_value(want) {
            return Some("\"minimum\"/\"maximum\" instead of \"min\"/\"max\"".into());
        }
    }
    // The same refusal in other words, unless the words are another §4 error.
    if let (Some(Json::Bool(false)), Some(Json::Bool(false))) = (want.get("status"), got.get("status"))
        && let (Some(Json::String(wanted)), Some(Json::String(said))) = (want.get("error"), got.get("error"))
        && wanted != said
        && !said.trim().is_empty()
        && !SECTION_4_ERRORS.contains(&said.as_str())
        && want.get("op").zip(got.get("op")).is_some_and(|(a, b)| a.same_value(b))
    {
        return Some(format!("the error in other words: {said:?} for {wanted:?}"));
    }
    None
}

fn rename(value: &Json, names: &[(&str, &str)]) -> Json {
    match value {
        Json::Object(members) => Json::Object(
            members
                .iter()
                .map(|(name, v)| {
                    let name =
                        names.iter().find(|(from, _)| from == name).map_or(name.as_str(), |(_, to)| to);
                    (name.to_string(), v.clone())
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Bytes shown in an Expected/Actual line.
pub fn show(bytes: &[u8]) -> String {
    escape_bytes(bytes, 400)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STOP: &[u8] = br#"{"op": "STOP", "status": true, "min": -3, "max": 12}"#;

    #[test]
    fn exact_bytes_pass_and_formatting_is_non_strict() {
        assert_eq!(judge(STOP, &[], STOP), Judgement::Exact);
        let compact = br#"{"op":"STOP","status":true,"min":-3,"max":12}"#;
        assert!(matches!(judge(STOP, &[], compact), Judgement::NonStrict(how) if how.contains("compact")));
        let raw = "{\"op\": null, \"status\": false, \"error\": \"Mensagem inválida\"}";
        let escaped = br#"{"op": null, "status": false, "error": "Mensagem inv\u00e1lida"}"#;
        assert!(
            matches!(judge(escaped, &[], raw.as_bytes()), Judgement::NonStrict(how) if how.contains("ASCII"))
        );
    }

    #[test]
    fn readings_of_section_9() {
        let legacy = br#"{"op": "STOP", "status": true, "minimum": -3, "maximum": 12}"#;
        assert!(matches!(judge(STOP, &[], legacy), Judgement::NonStrict(_)));
        let exists = br#"{"op": "START", "status": false, "error": "Cliente existente"}"#;
        let worded = br#"{"op": "START", "status": false, "error": "Client already exists"}"#;
        assert!(matches!(judge(exists, &[], worded), Judgement::NonStrict(_)));
        let other = br#"{"op": "START", "status": false, "error": "Cliente inexistente"}"#;
        assert_eq!(judge(exists, &[], other), Judgement::Mismatch);
    }

    #[test]
    fn numbers_through_a_float_and_swapped_values_fail() {
        let big =
            br#"{"op": "STOP", "status": true, "min": 100000000000000000000, "max": 100000000000000000000}"#;
        let float = br#"{"op": "STOP", "status": true, "min": 1e+20, "max": 1e+20}"#;
        assert_eq!(judge(big, &[], float), Judgement::Mismatch);
        let swapped = br#"{"op": "STOP", "status": true, "min": 12, "max": -3}"#;
        assert_eq!(judge(STOP, &[], swapped), Judgement::Mismatch);
    }
}
