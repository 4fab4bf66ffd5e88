//! The exit codes of PROTOCOL §7, shared by the server and the client.

/// A process exit status with the meaning §7 gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exit {
    /// 0: success (a session stopped; a server shut down cleanly).
    Success,
    /// 1: a wrong number of arguments, or an unknown option.
    Usage,
    /// 2: an invalid argument (or, for the client, an invalid input token when piped).
    InvalidArgument,
    /// 3: the server answered `status: false`.
    Refused,
    /// 4: the user quit.
    Quit,
    /// 5: the client could not reach the server or the connection broke; the server's
    /// report file cannot be used.
    Unavailable,
    /// 6: the client's result could not be written to standard output (a full disk,
    /// `/dev/full`), although the session itself succeeded.
    OutputFailed,
}

impl Exit {
    /// The numeric status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Usage => 1,
            Exit::InvalidArgument => 2,
            Exit::Refused => 3,
            Exit::Quit => 4,
            Exit::Unavailable => 5,
            Exit::OutputFailed => 6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_section_7s() {
        let codes: Vec<u8> = [
            Exit::Success,
            Exit::Usage,
            Exit::InvalidArgument,
            Exit::Refused,
            Exit::Quit,
            Exit::Unavailable,
            Exit::OutputFailed,
        ]
        .into_iter()
        .map(Exit::code)
        .collect();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6]);
    }
}
