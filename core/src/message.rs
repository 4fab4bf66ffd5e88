//! The protocol's vocabulary (PROTOCOL §3, §4): the operations, the error codes and
//! their exact strings, and the server's replies, written byte for byte as Python's
//! `json.dumps` writes the same dictionaries.
//!
//! This module is the only home of the op names and of §4's error strings. Reading
//! requests is [`crate::request`]'s job; reading replies, the client's, is
//! [`crate::reply`]'s.

use crate::cipher::EncryptedNumber;
use crate::int::Int;
use crate::pyjson;
use std::fmt;

/// The four operations of §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Opens a session.
    Start,
    /// Adds a number to the session.
    Number,
    /// Ends the session and asks for its minimum and maximum.
    Stop,
    /// Abandons the session.
    Quit,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 4] = [Op::Start, Op::Number, Op::Stop, Op::Quit];

    /// The name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Op::Start => "START",
            Op::Number => "NUMBER",
            Op::Stop => "STOP",
            Op::Quit => "QUIT",
        }
    }

    /// The operation a JSON string literal names, if any (names are case-sensitive).
    pub(crate) fn from_literal(literal: &str) -> Option<Op> {
        // Peers almost never escape plain ASCII, so the raw text is tried first.
        match literal {
            r#""NUMBER""# => Some(Op::Number),
            r#""START""# => Some(Op::Start),
            r#""STOP""# => Some(Op::Stop),
            r#""QUIT""# => Some(Op::Quit),
            _ if literal.contains('\\') => {
                Op::ALL.into_iter().find(|op| pyjson::literal_eq(literal, op.name()))
            }
            _ => None,
        }
    }

    /// The whole body of this operation's success reply, for every op but STOP, whose
    /// success reply carries the minimum and maximum.
    fn ok_body(self) -> &'static [u8] {
        match self {
            Op::Start => br#"{"op": "START", "status": true}"#,
            Op::Number => br#"{"op": "NUMBER", "status": true}"#,
            Op::Stop => br#"{"op": "STOP", "status": true}"#,
            Op::Quit => br#"{"op": "QUIT", "status": true}"#,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The errors of §4. [`ErrorCode::message`] holds their exact text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// START with an id that is active on some connection.
    ClientExists,
    /// NUMBER, STOP or QUIT on a connection without a session.
    ClientNotFound,
    /// STOP on a session that received no number.
    InsufficientData,
    /// Not a JSON object in UTF-8, no string `op`, or a frame over the limit.
    InvalidMessage,
    /// `op` is a string but not one of the four.
    UnknownOperation,
    /// START on a connection that already holds a session.
    SessionAlreadyStarted,
    /// START with a missing or unacceptable `client_id`.
    InvalidClientId,
    /// START with a `cipher` that is not a usable key.
    InvalidKey,
    /// NUMBER with a missing or unacceptable `number`.
    InvalidNumber,
    /// START without a key on a server that requires one.
    CipherRequired,
    /// A connection beyond the server's limit.
    ServerBusy,
    /// A STOP whose report row could not be made durable.
    ServerError,
    /// START on a connection whose client certificate names another id (§8).
    ClientNotAuthorized,
}

impl ErrorCode {
    /// Every error code.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::ClientExists,
        ErrorCode::ClientNotFound,
        ErrorCode::InsufficientData,
        ErrorCode::InvalidMessage,
        ErrorCode::UnknownOperation,
        ErrorCode::SessionAlreadyStarted,
        ErrorCode::InvalidClientId,
        ErrorCode::InvalidKey,
        ErrorCode::InvalidNumber,
        ErrorCode::CipherRequired,
        ErrorCode::ServerBusy,
        ErrorCode::ServerError,
        ErrorCode::ClientNotAuthorized,
    ];

    /// The exact text of §4, in Portuguese as the assignment has it.
    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::ClientExists => "Cliente existente",
            ErrorCode::ClientNotFound => "Cliente inexistente",
            ErrorCode::InsufficientData => "Dados insuficientes",
            ErrorCode::InvalidMessage => "Mensagem inválida",
            ErrorCode::UnknownOperation => "Operação desconhecida",
            ErrorCode::SessionAlreadyStarted => "Sessão já iniciada",
            ErrorCode::InvalidClientId => "Identificador inválido",
            ErrorCode::InvalidKey => "Chave inválida",
            ErrorCode::InvalidNumber => "Número inválido",
            ErrorCode::CipherRequired => "Cifra obrigatória",
            ErrorCode::ServerBusy => "Servidor ocupado",
            ErrorCode::ServerError => "Erro do servidor",
            ErrorCode::ClientNotAuthorized => "Cliente não autorizado",
        }
    }

    /// The code whose text is `message`, if any.
    pub fn from_message(message: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|code| code.message() == message)
    }

    /// An explanation in English for logs and for the client's user.
    pub fn explanation(self) -> &'static str {
        match self {
            ErrorCode::ClientExists => "this client id already has an active session",
            ErrorCode::ClientNotFound => "there is no active session on this connection",
            ErrorCode::InsufficientData => "the session ended without any number",
            ErrorCode::InvalidMessage => "the message is not a JSON object with a string \"op\"",
            ErrorCode::UnknownOperation => "op must be START, NUMBER, STOP or QUIT",
            ErrorCode::SessionAlreadyStarted => "this connection already holds a session",
            ErrorCode::InvalidClientId => "the client id is missing or not acceptable",
            ErrorCode::InvalidKey => "the key is not the base64 of a 16-, 24- or 32-byte AES key",
            ErrorCode::InvalidNumber => "the number is not an integer in the session's form",
            ErrorCode::CipherRequired => "this server accepts encrypted sessions only",
            ErrorCode::ServerBusy => "the server has too many connections",
            ErrorCode::ServerError => "the server could not record the result durably",
            ErrorCode::ClientNotAuthorized => {
                "the client certificate of this connection is for another client id"
            }
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// The `"op"` a reply echoes (§3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpEcho {
    /// One of the four operations.
    Known(Op),
    /// Some other string, kept as the JSON literal Python would write for it.
    Unknown(Box<str>),
    /// The request had no string `op`.
    Null,
}

/// A number as it travels in a message: plain, or encrypted for an encrypted session (§5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Number {
    /// A plain integer, written as a JSON integer.
    Plain(Int),
    /// An encrypted integer, written as a JSON string.
    Encrypted(EncryptedNumber),
}

/// A reply from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// START, NUMBER or QUIT succeeded.
    Ok(Op),
    /// STOP succeeded.
    Stopped {
        /// The session's minimum.
        min: Number,
        /// The session's maximum.
        max: Number,
    },
    /// The request failed.
    Error {
        /// The request's op, echoed.
        op: OpEcho,
        /// What was wrong.
        error: ErrorCode,
    },
}

impl Response {
    /// A failure reply to a request whose op was recognised.
    pub fn error(op: Op, error: ErrorCode) -> Response {
        Response::Error { op: OpEcho::Known(op), error }
    }

    /// The reply to a STOP whose row could not be made durable (§6).
    pub fn stop_not_durable() -> Response {
        Response::error(Op::Stop, ErrorCode::ServerError)
    }

    /// The reply to a connection beyond `--max-connections`.
    pub fn busy() -> Response {
        Response::Error { op: OpEcho::Null, error: ErrorCode::ServerBusy }
    }

    /// The error code, for a failure reply.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Response::Error { error, .. } => Some(*error),
            _ => None,
        }
    }

    /// Appends the whole frame (prefix and JSON body) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        crate::codec::encode_frame(out, |out| self.write_json(out));
    }

    /// Appends the JSON body, as `json.dumps` writes the same dictionary.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Response::Ok(op) => out.extend_from_slice(op.ok_body()),
            Response::Stopped { min, max } => {
                out.extend_from_slice(br#"{"op": "STOP", "status": true, "min": "#);
                write_number(out, min);
                out.extend_from_slice(br#", "max": "#);
                write_number(out, max);
                out.push(b'}');
            }
            Response::Error { op, error } => {
                out.extend_from_slice(br#"{"op": "#);
                match op {
                    OpEcho::Known(op) => pyjson::write_str(out, op.name()),
                    OpEcho::Unknown(literal) => out.extend_from_slice(literal.as_bytes()),
                    OpEcho::Null => out.extend_from_slice(b"null"),
                }
                out.extend_from_slice(br#", "status": false, "error": "#);
                pyjson::write_str(out, error.message());
                out.push(b'}');
            }
        }
    }
}

/// Appends a number as JSON: an integer, or the string of an encrypted one.
pub(crate) fn write_number(out: &mut Vec<u8>, number: &Number) {
    match number {
        Number::Plain(int) => int.write_decimal(out),
        Number::Encrypted(text) => pyjson::write_str(out, text.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cipher;

    fn body(response: &Response) -> String {
        let mut out = Vec::new();
        response.write_json(&mut out);
        String::from_utf8(out).expect("replies are ASCII")
    }

    // Each expected body below is what CPython 3.11's json.dumps prints for the same
    // dictionary (checked again against Python itself by interop/).
    #[test]
    fn success_replies_are_byte_exact() {
        assert_eq!(body(&Response::Ok(Op::Start)), r#"{"op": "START", "status": true}"#);
        assert_eq!(body(&Response::Ok(Op::Number)), r#"{"op": "NUMBER", "status": true}"#);
        assert_eq!(body(&Response::Ok(Op::Quit)), r#"{"op": "QUIT", "status": true}"#);
        let stopped = Response::Stopped {
            min: Number::Plain(Int::from(-3)),
            max: Number::Plain(Int::parse("100000000000000000000").expect("integer")),
        };
        assert_eq!(
            body(&stopped),
            r#"{"op": "STOP", "status": true, "min": -3, "max": 100000000000000000000}"#
        );
    }

    #[test]
    fn encrypted_stop_reply_carries_strings() {
        let cipher = Cipher::from_key(&[1; 16]).expect("key");
        let min = cipher.encrypt(-3).expect("in range");
        let max = cipher.encrypt(12).expect("in range");
        let reply = Response::Stopped { min: Number::Encrypted(min), max: Number::Encrypted(max) };
        assert_eq!(
            body(&reply),
            format!(
                r#"{{"op": "STOP", "status": true, "min": "{}", "max": "{}"}}"#,
                min.as_str(),
                max.as_str()
            )
        );
    }

    #[test]
    fn every_error_reply_is_byte_exact() {
        let expected = [
            (ErrorCode::ClientExists, r#""Cliente existente""#),
            (ErrorCode::ClientNotFound, r#""Cliente inexistente""#),
            (ErrorCode::InsufficientData, r#""Dados insuficientes""#),
            (ErrorCode::InvalidMessage, r#""Mensagem inv\u00e1lida""#),
            (ErrorCode::UnknownOperation, r#""Opera\u00e7\u00e3o desconhecida""#),
            (ErrorCode::SessionAlreadyStarted, r#""Sess\u00e3o j\u00e1 iniciada""#),
            (ErrorCode::InvalidClientId, r#""Identificador inv\u00e1lido""#),
            (ErrorCode::InvalidKey, r#""Chave inv\u00e1lida""#),
            (ErrorCode::InvalidNumber, r#""N\u00famero inv\u00e1lido""#),
            (ErrorCode::CipherRequired, r#""Cifra obrigat\u00f3ria""#),
            (ErrorCode::ServerBusy, r#""Servidor ocupado""#),
            (ErrorCode::ServerError, r#""Erro do servidor""#),
            (ErrorCode::ClientNotAuthorized, r#""Cliente n\u00e3o autorizado""#),
        ];
        assert_eq!(expected.len(), ErrorCode::ALL.len());
        for (code, error) in expected {
            let reply = Response::error(Op::Stop, code);
            assert_eq!(body(&reply), format!(r#"{{"op": "STOP", "status": false, "error": {error}}}"#));
            assert_eq!(ErrorCode::from_message(code.message()), Some(code));
        }
        assert_eq!(body(&Response::busy()), r#"{"op": null, "status": false, "error": "Servidor ocupado"}"#);
    }

    #[test]
    fn frames_carry_the_length_prefix() {
        let mut out = Vec::new();
        Response::Ok(Op::Number).encode(&mut out);
        assert_eq!(&out[..4], &32u32.to_be_bytes());
        assert_eq!(&out[4..], br#"{"op": "NUMBER", "status": true}"#);
    }
}
