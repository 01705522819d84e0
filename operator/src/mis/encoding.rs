//! A reader that lets only UTF-8 through, so a file in another encoding fails with the
//! exact byte offset and line of its first bad byte instead of garbled names reaching a
//! partner. It also notes where lines end, so parsers that report byte offsets can say
//! which line a problem is on.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;

/// Newline offsets seen by a [`Utf8Only`] and not yet asked about.
///
/// Questions must come in increasing offset order (as a parser moves forward), so
/// only the newlines the parser has buffered ahead are kept.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    ahead: VecDeque<u64>,
    behind: u64,
}

impl Lines {
    /// The 1-based line holding the byte at `offset`.
    pub(crate) fn line_of(&mut self, offset: u64) -> u64 {
        while self.ahead.front().is_some_and(|newline| *newline < offset) {
            self.ahead.pop_front();
            self.behind += 1;
        }
        self.behind + 1
    }
}

/// Where the first byte that is not UTF-8 was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NotUtf8At {
    /// Offset from the start of the stream.
    pub offset: u64,
    /// 1-based line.
    pub line: u64,
}

impl fmt::Display for NotUtf8At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "byte offset {} on line {} is not UTF-8",
            self.offset, self.line
        )
    }
}

impl std::error::Error for NotUtf8At {}

/// Finds a [`NotUtf8At`] inside an I/O error raised by [`Utf8Only`].
pub(crate) fn not_utf8_in(error: &io::Error) -> Option<NotUtf8At> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<NotUtf8At>())
        .copied()
}

/// Passes bytes through while checking that they are UTF-8.
pub(crate) struct Utf8Only<R> {
    inner: R,
    /// Bytes of a character split across two reads, held until it completes.
    pending: Vec<u8>,
    /// Offset of the first pending byte (equally, bytes passed on so far).
    offset: u64,
    /// Newlines passed on so far.
    newlines: u64,
    /// Where those newlines are, for turning offsets into lines.
    lines: Rc<RefCell<Lines>>,
}

impl<R: Read> Utf8Only<R> {
    pub(crate) fn new(inner: R) -> Self {
        Utf8Only {
            inner,
            pending: Vec::new(),
            offset: 0,
            newlines: 0,
            lines: Rc::default(),
        }
    }

    /// The line index this reader fills in as bytes pass.
    pub(crate) fn lines(&self) -> Rc<RefCell<Lines>> {
        Rc::clone(&self.lines)
    }

    fn fail(&self, checked: &[u8], bad_at: usize) -> io::Error {
        let before = checked.get(..bad_at).unwrap_or(checked);
        let line = self.newlines + count_newlines(before) + 1;
        let at = NotUtf8At {
            offset: self.offset + bad_at as u64,
            line,
        };
        io::Error::other(at)
    }
}

impl<R: Read> Read for Utf8Only<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let fresh = buf.get(..n).unwrap_or_default();

        // Check pending bytes and fresh bytes as one run.
        let mut run = std::mem::take(&mut self.pending);
        run.extend_from_slice(fresh);
        if n == 0 && !run.is_empty() {
            return Err(self.fail(&run, 0));
        }
        let complete = match std::str::from_utf8(&run) {
            Ok(_) => run.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(e) => return Err(self.fail(&run, e.valid_up_to())),
        };

        // Every byte goes to the caller now; a split character is re-checked next read.
        let checked = run.get(..complete).unwrap_or_default();
        self.newlines += count_newlines(checked);
        let mut lines = self.lines.borrow_mut();
        let newlines = checked.iter().enumerate().filter(|(_, b)| **b == b'\n');
        lines
            .ahead
            .extend(newlines.map(|(at, _)| self.offset + at as u64));
        drop(lines);
        self.offset += complete as u64;
        self.pending = run.get(complete..).unwrap_or_default().to_vec();
        Ok(n)
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(bytes: &[u8], chunk: usize) -> Result<Vec<u8>, NotUtf8At> {
        struct Chunked<'a>(&'a [u8], usize);
        impl Read for Chunked<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        Utf8Only::new(Chunked(bytes, chunk))
            .read_to_end(&mut out)
            .map(|_| out)
            .map_err(|e| not_utf8_in(&e).expect("a utf-8 finding"))
    }

    #[test]
    fn characters_split_across_reads_pass() {
        let text = "a,é\nß,€\n".as_bytes();
        for chunk in 1..5 {
            assert_eq!(check(text, chunk).unwrap(), text);
        }
    }

    #[test]
    fn latin1_byte_is_reported_with_offset_and_line() {
        let bytes = b"id,name\n1,Zo\xeb\n";
        for chunk in [1, 3, 64] {
            assert_eq!(
                check(bytes, chunk),
                Err(NotUtf8At {
                    offset: 12,
                    line: 2
                })
            );
        }
    }

    #[test]
    fn cut_character_at_end_is_reported() {
        assert_eq!(
            check(b"ab\xe2\x82", 64),
            Err(NotUtf8At { offset: 2, line: 1 })
        );
    }
}
