//! What the client writes (PROTOCOL §7): the prompt and help on a terminal, words
//! shown readably in messages, and the result in its three forms (the list of
//! numbers, `--quiet`'s summary, `--json`'s one object for every outcome).

use crate::exit::Exit;
use crate::int::Int;
use crate::message::Op;
use crate::pyjson;

/// The prompt shown on a terminal.
pub const PROMPT: &str = "number(s), stop, quit or help> ";

/// What `help` (or `?`) shows on a terminal.
pub const HELP: &str = "\
Type integers (an optional + or -, then digits), separated by spaces or commas,
and press Enter: each is sent to the server.
  stop, s     end the session: the server answers with the min and max (Ctrl-D too)
  quit, q     abandon the session: nothing is recorded (Ctrl-C too)
  help, ?     show this help
A line is checked whole before any of it is sent: if an item is invalid, nothing
of its line is sent. This prompt has no line editing and no history.
";

/// Characters of a word shown in a message before it is cut.
const SHOWN_CHARS: usize = 40;

/// Characters of a server's text (its error, a reply that is not JSON) shown in a
/// message before it is cut: enough for any real error, too few for a hostile server
/// to flood the terminal.
const SERVER_TEXT_CHARS: usize = 200;

/// Appends `c` so that a terminal shows it and acts on none of it: C0 controls in
/// caret notation, as a terminal echoes them (`^[[A` for the up arrow, not
/// `\u{1b}[A`), C1 controls and the bidirectional controls (which reorder what
/// follows on the line) as `<U+XXXX>`.
fn push_visible(text: &mut String, c: char) {
    match c {
        '\0'..='\x1f' => {
            text.push('^');
            text.push(char::from(c as u8 + 0x40));
        }
        '\x7f' => text.push_str("^?"),
        '\u{80}'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
            text.push_str(&format!("<U+{:04X}>", u32::from(c)));
        }
        c => text.push(c),
    }
}

/// The first `max` characters of `text` made visible ([`push_visible`]), in double
/// quotes when `quote`, then how many characters it has when that is more.
fn excerpt(text: &str, max: usize, quote: bool) -> String {
    let mut shown = String::new();
    if quote {
        shown.push('"');
    }
    let mut chars = text.chars();
    for c in chars.by_ref().take(max) {
        push_visible(&mut shown, c);
    }
    if quote {
        shown.push('"');
    }
    let rest = chars.count();
    if rest > 0 {
        shown.push_str(&format!("... ({} characters)", max + rest));
    }
    shown
}

/// A word of input quoted for a message: every control character visible
/// ([`push_visible`]), and cut to an excerpt when long.
pub(crate) fn shown(word: &str, too_long: bool) -> String {
    if too_long {
        let head: String = word.chars().take(SHOWN_CHARS).collect();
        return format!(
            "{}... (more than {} characters)",
            excerpt(&head, SHOWN_CHARS, true),
            super::MAX_TOKEN_CHARS
        );
    }
    excerpt(word, SHOWN_CHARS, true)
}

/// Text a server sent (its error), for a message: every control character visible
/// ([`push_visible`]), so that no server can colour, clear or forge lines of the
/// client's output, and cut to an excerpt when long. Not quoted: what comes before
/// it in the message shows where it starts.
pub(crate) fn server_text(text: &str) -> String {
    excerpt(text, SERVER_TEXT_CHARS, false)
}

/// [`server_text`] in double quotes.
pub(crate) fn quoted_server_text(text: &str) -> String {
    excerpt(text, SERVER_TEXT_CHARS, true)
}

/// A reply's bytes quoted for a message, as [`quoted_server_text`] shows text, with
/// the reply's length in bytes when it is cut. Bytes that are not UTF-8 become
/// U+FFFD, and only the excerpt's bytes are converted: a reply may be 16 MiB.
pub(crate) fn quoted_server_bytes(payload: &[u8]) -> String {
    // No character takes more than 4 bytes: this holds the excerpt whole.
    let head = &payload[..payload.len().min(SERVER_TEXT_CHARS * 4)];
    let text = String::from_utf8_lossy(head);
    let whole = head.len() == payload.len() && text.chars().nth(SERVER_TEXT_CHARS).is_none();
    if whole {
        return excerpt(&text, SERVER_TEXT_CHARS, true);
    }
    let cut: String = text.chars().take(SERVER_TEXT_CHARS).collect();
    format!("{}... ({} bytes)", excerpt(&cut, SERVER_TEXT_CHARS, true), payload.len())
}

/// What a key that sends an escape sequence is, when `word` is one: a person at the
/// prompt pressed it expecting line editing.
pub(crate) fn key_name(word: &str) -> Option<&'static str> {
    let sequence = word.strip_prefix('\x1b')?;
    Some(match sequence {
        "[A" | "OA" => "the up arrow key",
        "[B" | "OB" => "the down arrow key",
        "[C" | "OC" => "the right arrow key",
        "[D" | "OD" => "the left arrow key",
        "[H" | "OH" | "[1~" => "the Home key",
        "[F" | "OF" | "[4~" => "the End key",
        "[3~" => "the Delete key",
        _ => "a key that sends an escape sequence",
    })
}

/// The numbers the server accepted: their count, extremes and, unless only the
/// summary is wanted, the list itself (which is what grows with the input).
#[derive(Debug, Default)]
pub(crate) struct Sent {
    pub(crate) count: u64,
    pub(crate) min: Option<Int>,
    pub(crate) max: Option<Int>,
    pub(crate) list: Option<Vec<Int>>,
}

impl Sent {
    pub(crate) fn new(keep_list: bool) -> Sent {
        Sent { list: keep_list.then(Vec::new), ..Sent::default() }
    }

    pub(crate) fn push(&mut self, number: Int) {
        self.count += 1;
        if self.min.as_ref().is_none_or(|min| number < *min) {
            self.min = Some(number.clone());
        }
        if self.max.as_ref().is_none_or(|max| number > *max) {
            self.max = Some(number.clone());
        }
        if let Some(list) = &mut self.list {
            list.push(number);
        }
    }
}

/// The numbers sent, wrapped to `width` columns, then the min and max; or, without
/// the list, `count`, `min` and `max` one per line.
pub(crate) fn text_result(sent: &Sent, min: &Int, max: &Int, width: usize) -> String {
    let Some(list) = &sent.list else {
        return format!("count: {}\nmin: {min}\nmax: {max}\n", sent.count);
    };
    const INDENT: &str = "  ";
    let width = width.max(20);
    let mut text = format!("numbers sent ({}):", list.len());
    let mut column = text.len();
    for number in list {
        let number = number.to_string();
        // A number longer than the width gets a line of its own, unbroken.
        if column + 1 + number.len() > width && column > INDENT.len() {
            text.push('\n');
            text.push_str(INDENT);
            column = INDENT.len();
        } else {
            text.push(' ');
            column += 1;
        }
        text.push_str(&number);
        column += number.len();
    }
    text.push_str(&format!("\nmin: {min}\nmax: {max}\n"));
    text
}

/// One JSON object on one line, written as Python's `json.dumps` writes it
/// (`", "` and `": "`, non-ASCII escaped), so that scripts in any language read it.
pub(crate) struct JsonObject {
    out: Vec<u8>,
}

impl JsonObject {
    /// An object that starts with `client_id`, `outcome` and `exit_code`, the three
    /// keys every outcome has.
    pub(crate) fn outcome(client_id: Option<&str>, outcome: &str, exit: Exit) -> JsonObject {
        let mut object = JsonObject { out: b"{".to_vec() };
        object.key("client_id");
        match client_id {
            Some(id) => pyjson::write_str(&mut object.out, id),
            None => object.out.extend_from_slice(b"null"),
        }
        object.string("outcome", outcome).raw("exit_code", &exit.code().to_string())
    }

    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.extend_from_slice(b", ");
        }
        pyjson::write_str(&mut self.out, key);
        self.out.extend_from_slice(b": ");
    }

    /// Adds a string member.
    pub(crate) fn string(mut self, key: &str, value: &str) -> JsonObject {
        self.key(key);
        pyjson::write_str(&mut self.out, value);
        self
    }

    /// Adds a member whose value is JSON text already (a number).
    pub(crate) fn raw(mut self, key: &str, json: &str) -> JsonObject {
        self.key(key);
        self.out.extend_from_slice(json.as_bytes());
        self
    }

    /// Adds the result of a stopped session: count, the list unless left out, min, max.
    pub(crate) fn result(mut self, sent: &Sent, min: &Int, max: &Int) -> JsonObject {
        self = self.raw("count", &sent.count.to_string());
        if let Some(list) = &sent.list {
            self.key("numbers");
            self.out.push(b'[');
            for (i, number) in list.iter().enumerate() {
                if i > 0 {
                    self.out.extend_from_slice(b", ");
                }
                number.write_decimal(&mut self.out);
            }
            self.out.push(b']');
        }
        self.raw("min", &min.to_string()).raw("max", &max.to_string())
    }

    /// Adds the request the server refused and its error.
    pub(crate) fn refusal(self, op: Op, error: &str) -> JsonObject {
        self.string("op", op.name()).string("error", error)
    }

    /// The object's text and a line end.
    pub(crate) fn finish(mut self) -> String {
        self.out.extend_from_slice(b"}\n");
        String::from_utf8(self.out).expect("pyjson escapes every non-ASCII character, so this is ASCII")
    }
}

/// `--json`'s object for a failure before any session (an invalid argument, no
/// random source): `outcome` is `"error"`, `message` what went wrong. `client_id`
/// is `None` when the id itself is what was wrong.
pub fn failure_json(client_id: Option<&str>, exit: Exit, message: &str) -> String {
    JsonObject::outcome(client_id, "error", exit).string("message", message).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_shown_as_a_terminal_echoes_them() {
        assert_eq!(shown("twelve", false), "\"twelve\"");
        assert_eq!(shown("\x1b[A", false), "\"^[[A\"");
        assert_eq!(shown("a\x7fb\u{85}", false), "\"a^?b<U+0085>\"");
        let long = "x".repeat(100);
        assert_eq!(shown(&long, false), format!("\"{}\"... (100 characters)", "x".repeat(40)));
        assert_eq!(shown(&long, true), format!("\"{}\"... (more than 4301 characters)", "x".repeat(40)));
    }

    #[test]
    fn a_servers_text_is_shown_with_every_control_visible_and_cut() {
        assert_eq!(server_text("Cliente existente"), "Cliente existente");
        assert_eq!(
            server_text("evil\x1b[31mRED\x1b[0m\nfake line\r\u{202e}x\u{2069}\u{9b}"),
            "evil^[[31mRED^[[0m^Jfake line^M<U+202E>x<U+2069><U+009B>"
        );
        assert_eq!(server_text("N\u{fa}mero inv\u{e1}lido"), "N\u{fa}mero inv\u{e1}lido", "letters stay");
        let long = "x".repeat(100_000);
        assert_eq!(server_text(&long), format!("{}... (100000 characters)", "x".repeat(200)));
        assert_eq!(quoted_server_text("a\tb"), "\"a^Ib\"");
        let escapes = "\x1b".repeat(1_000);
        assert_eq!(server_text(&escapes), format!("{}... (1000 characters)", "^[".repeat(200)));
    }

    #[test]
    fn a_reply_that_is_not_text_is_shown_by_its_first_bytes() {
        assert_eq!(quoted_server_bytes(b"\x1b[2Jnot json\xff"), "\"^[[2Jnot json\u{fffd}\"");
        let huge = vec![b'<'; 16 << 20];
        assert_eq!(quoted_server_bytes(&huge), format!("\"{}\"... (16777216 bytes)", "<".repeat(200)));
        let wide = "\u{e9}".repeat(300);
        assert_eq!(
            quoted_server_bytes(wide.as_bytes()),
            format!("\"{}\"... (600 bytes)", "\u{e9}".repeat(200))
        );
    }

    #[test]
    fn keys_that_send_escape_sequences_are_named() {
        assert_eq!(key_name("\x1b[A"), Some("the up arrow key"));
        assert_eq!(key_name("\x1bOD"), Some("the left arrow key"));
        assert_eq!(key_name("\x1b[15~"), Some("a key that sends an escape sequence"));
        assert_eq!(key_name("[A"), None);
    }

    #[test]
    fn the_failure_object_is_python_json() {
        assert_eq!(
            failure_json(Some("Zé"), Exit::InvalidArgument, "invalid port"),
            "{\"client_id\": \"Z\\u00e9\", \"outcome\": \"error\", \"exit_code\": 2, \"message\": \"invalid port\"}\n"
        );
        assert!(failure_json(None, Exit::Unavailable, "x").starts_with("{\"client_id\": null, "));
    }
}
