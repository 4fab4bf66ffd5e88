//! A source registered with a `polling::Poller`, owned together with it: the one
//! place in minmax where `unsafe` is allowed.
//!
//! `Poller::add` is `unsafe` because of one rule in polling's documentation: a source
//! must be deleted from the poller before it is closed, or a new file that reuses its
//! descriptor number could receive its events. [`Registered`] keeps that rule by
//! construction: it owns the source, hands out only shared references (through which
//! a socket can be read, written and shut down, but not closed or replaced), and
//! deletes the source from the poller in its `Drop`, before the source itself drops.

use polling::{Event, PollMode, Poller};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;

/// A source (a socket, a pipe) registered with a poller for as long as this lives.
#[derive(Debug)]
pub struct Registered<S: AsFd> {
    source: S,
    poller: Arc<Poller>,
}

impl<S: AsFd> Registered<S> {
    /// Registers `source` with `poller` for `interest`, in `mode`.
    pub fn new(
        poller: &Arc<Poller>,
        source: S,
        interest: Event,
        mode: PollMode,
    ) -> io::Result<Registered<S>> {
        let fd = source.as_fd().as_raw_fd();
        // SAFETY: polling requires the source to be deleted from the poller before it
        // is closed. `source` moves into the returned value, which never gives it up
        // (`get` lends `&S` only) and whose `Drop` deletes it before the field drops. If `add` fails, nothing was
        // registered and `source` simply drops.
        #[allow(unsafe_code)]
        unsafe {
            poller.add_with_mode(fd, interest, mode)?;
        }
        Ok(Registered { source, poller: Arc::clone(poller) })
    }

    /// The source, to read from or write to.
    pub fn get(&self) -> &S {
        &self.source
    }

    /// Changes what the poller reports for this source (oneshot mode needs this after
    /// every event; level mode only when the interest changes).
    pub fn modify(&self, interest: Event, mode: PollMode) -> io::Result<()> {
        self.poller.modify_with_mode(&self.source, interest, mode)
    }
}

impl<S: AsFd> Drop for Registered<S> {
    fn drop(&mut self) {
        // Errors mean the registration is already gone (the poller was closed).
        let _ = self.poller.delete(&self.source);
    }
}
