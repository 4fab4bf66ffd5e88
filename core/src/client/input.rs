//! Standard input as the client reads it (PROTOCOL §7): words separated by spaces or
//! commas, in lines, arriving in chunks of any size, read with bounded memory.
//!
//! No valid word is longer than [`MAX_TOKEN_CHARS`], so the lexer keeps at most one
//! byte more of any word: a longer one is handed over as soon as it is known to be
//! too long, and the rest of it is skipped without being stored. A 200 MB line of
//! digits costs the lexer 4 KiB.

use crate::cipher;
use crate::int::{Int, IntError, MAX_DIGITS};

/// The longest word that can be valid: a sign and [`MAX_DIGITS`] digits. A word
/// longer than this is invalid whatever the rest of it holds.
pub const MAX_TOKEN_CHARS: usize = MAX_DIGITS + 1;

/// A word of input, as much of it as the lexer kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    /// The word, or its first `MAX_TOKEN_CHARS + 1` bytes when it is longer; bytes
    /// that are not UTF-8 become U+FFFD, so that they show as an invalid word.
    pub(crate) text: String,
    /// The word is longer than [`MAX_TOKEN_CHARS`]: `text` is its beginning only.
    pub(crate) too_long: bool,
}

/// A word understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// An integer, to send with NUMBER.
    Number(Int),
    /// `stop` or `s`.
    Stop,
    /// `quit` or `q`.
    Quit,
    /// `help` or `?`, on a terminal.
    Help,
}

/// What the lexer found next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lexeme {
    /// A word, ended by a separator, a line end, or its excessive length.
    Word(Word),
    /// The end of a line.
    LineEnd,
}

/// Splits input into words and line ends, remembering an unfinished word between
/// chunks.
#[derive(Debug, Default)]
pub(crate) struct Lexer {
    /// The unfinished word's bytes, at most `MAX_TOKEN_CHARS + 1`.
    word: Vec<u8>,
    /// Inside a word already handed over as too long: its remaining bytes are dropped.
    skipping: bool,
    /// Some of the current line has been read, but not its end.
    mid_line: bool,
}

/// Separators between words on a line (§7: spaces or commas; tabs, form feeds and
/// the `\r` of a `\r\n` line end count as spaces).
fn is_separator(byte: u8) -> bool {
    matches!(byte, b' ' | b',' | b'\t' | b'\r' | 0x0c)
}

impl Lexer {
    /// The next lexeme of `input`, which it advances past what was used; `None` once
    /// `input` is used up (an unfinished word then waits for the next chunk).
    pub(crate) fn next(&mut self, input: &mut &[u8]) -> Option<Lexeme> {
        loop {
            let (&byte, rest) = input.split_first()?;
            if byte == b'\n' {
                // A word ends before the line does: hand it over, and see the line end
                // again on the next call.
                if let Some(word) = self.take_word() {
                    return Some(Lexeme::Word(word));
                }
                *input = rest;
                self.skipping = false;
                self.mid_line = false;
                return Some(Lexeme::LineEnd);
            }
            *input = rest;
            self.mid_line = true;
            if is_separator(byte) {
                self.skipping = false;
                if let Some(word) = self.take_word() {
                    return Some(Lexeme::Word(word));
                }
            } else if !self.skipping {
                self.word.push(byte);
                if self.word.len() > MAX_TOKEN_CHARS {
                    self.skipping = true;
                    let text = String::from_utf8_lossy(&self.word).into_owned();
                    self.word.clear();
                    return Some(Lexeme::Word(Word { text, too_long: true }));
                }
            }
        }
    }

    /// At the end of the input: the unfinished word, then the unfinished line's end.
    pub(crate) fn finish(&mut self) -> Option<Lexeme> {
        if let Some(word) = self.take_word() {
            return Some(Lexeme::Word(word));
        }
        self.skipping = false;
        if std::mem::take(&mut self.mid_line) {
            return Some(Lexeme::LineEnd);
        }
        None
    }

    /// Whether part of a line has been read but not its end.
    pub(crate) fn mid_line(&self) -> bool {
        self.mid_line
    }

    fn take_word(&mut self) -> Option<Word> {
        if self.word.is_empty() {
            return None;
        }
        let text = String::from_utf8_lossy(&self.word).into_owned();
        self.word.clear();
        Some(Word { text, too_long: false })
    }
}

/// Reads one word, refusing before anything is sent what the server would refuse:
/// the error says what the word is not. `help` is a word on a terminal only.
pub(crate) fn read_word(word: &Word, interactive: bool, encrypted: bool) -> Result<Token, String> {
    let words = if interactive { "\"stop\", \"quit\" or \"help\"" } else { "\"stop\" or \"quit\"" };
    if word.too_long {
        return Err(format!(
            "is longer than any integer a server accepts ({MAX_TOKEN_CHARS} characters: a sign and {} digits)",
            MAX_DIGITS
        ));
    }
    match word.text.to_ascii_lowercase().as_str() {
        "stop" | "s" => return Ok(Token::Stop),
        "quit" | "q" => return Ok(Token::Quit),
        "help" | "?" if interactive => return Ok(Token::Help),
        _ => {}
    }
    let number = Int::parse(&word.text).map_err(|error| match error {
        IntError::TooManyDigits => {
            format!("has more than {} digits, the most a server accepts", MAX_DIGITS)
        }
        IntError::NoDigits | IntError::NotADigit => {
            let key = super::output::key_name(&word.text)
                .map(|key| format!(" ({key}: this prompt has no line editing or history)"))
                .unwrap_or_default();
            format!("is not an integer (digits with an optional sign), {words}{key}")
        }
    })?;
    if encrypted {
        let fits =
            number.as_i64().is_some_and(|n| (cipher::MIN_ENCRYPTABLE..=cipher::MAX_ENCRYPTABLE).contains(&n));
        if !fits {
            return Err(format!(
                "is outside what an encrypted session can carry ({} to {})",
                cipher::MIN_ENCRYPTABLE,
                cipher::MAX_ENCRYPTABLE
            ));
        }
    }
    Ok(Token::Number(number))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex_chunks(chunks: &[&[u8]]) -> Vec<Lexeme> {
        let mut lexer = Lexer::default();
        let mut found = Vec::new();
        for chunk in chunks {
            let mut input = *chunk;
            while let Some(lexeme) = lexer.next(&mut input) {
                found.push(lexeme);
            }
            assert!(input.is_empty());
        }
        found.extend(std::iter::from_fn(|| lexer.finish()));
        found
    }

    fn word(text: &str) -> Lexeme {
        Lexeme::Word(Word { text: text.into(), too_long: false })
    }

    #[test]
    fn words_are_split_on_spaces_and_commas_in_lines() {
        assert_eq!(
            lex_chunks(&[b"5, -3\t12\r\n\nstop"]),
            vec![
                word("5"),
                word("-3"),
                word("12"),
                Lexeme::LineEnd,
                Lexeme::LineEnd,
                word("stop"),
                Lexeme::LineEnd
            ]
        );
    }

    #[test]
    fn a_word_split_across_chunks_is_one_word() {
        assert_eq!(lex_chunks(&[b"12", b"34 5", b"6\n"]), vec![word("1234"), word("56"), Lexeme::LineEnd]);
    }

    #[test]
    fn a_word_too_long_is_handed_over_early_and_the_rest_dropped() {
        let mut lexer = Lexer::default();
        let digits = vec![b'7'; 1 << 20];
        let mut input = &digits[..];
        let Some(Lexeme::Word(long)) = lexer.next(&mut input) else { panic!("a word") };
        assert!(long.too_long);
        assert_eq!(long.text.len(), MAX_TOKEN_CHARS + 1);
        assert_eq!(input.len(), digits.len() - MAX_TOKEN_CHARS - 1, "found as soon as it is too long");
        assert_eq!(lexer.next(&mut input), None);
        assert!(lexer.word.is_empty(), "the rest is not stored");
        let mut rest = &b"9 42\n"[..];
        assert_eq!(lexer.next(&mut rest), Some(word("42")));
        assert_eq!(lexer.next(&mut rest), Some(Lexeme::LineEnd));
    }

    #[test]
    fn the_longest_valid_word_is_kept_whole() {
        let longest = format!("-{}", "9".repeat(MAX_DIGITS));
        assert_eq!(lex_chunks(&[longest.as_bytes()]), vec![word(&longest), Lexeme::LineEnd]);
    }

    #[test]
    fn bytes_that_are_not_utf8_show_as_replacement_characters() {
        assert_eq!(lex_chunks(&[b"1\xff2\n"]), vec![word("1\u{fffd}2"), Lexeme::LineEnd]);
    }
}
