//! A fast reader for the records AWS writes: it fills the same `Record` serde would,
//! or gives up and leaves the record to serde.
//!
//! Nearly every byte of a record is prompt or completion text that billrun skips, and
//! serde's generic skipping was most of a log run. This scanner checks the bodies as
//! strictly as serde does (strings, escapes, numbers, nesting; a skipped string's
//! UTF-8 is not checked by serde either) but looks for a string's end 16 bytes at a
//! time. Anything it is not sure of (an escape in a field billrun reads, a duplicate
//! field, a value of another type, a tier given as an object, invalid JSON, deep
//! nesting) makes it return `None`, and serde reads the record as before: its rows,
//! rejects and messages are serde's whatever this file does.

use super::{Body, Identity, ImageGenerationConfig, Input, Output, PerformanceConfig};
use super::{Record, Text, TierValue};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A record, if it is plainly one; `None` when serde must decide.
pub(super) fn record(text: &[u8]) -> Option<Record<'_>> {
    let mut s = Scan { text, at: 0 };
    let record = s.record()?;
    s.blank();
    (s.at == text.len()).then_some(record)
}

/// Deeper than this, serde's recursion limit (128) may apply: serde decides.
const MAX_DEPTH: usize = 100;

struct Scan<'a> {
    text: &'a [u8],
    at: usize,
}

/// Sets a field of a struct: `None` (serde decides) when the field came before, as
/// serde refuses a duplicate, or when its value could not be read.
fn once<T>(
    seen: &mut u32,
    field: u32,
    slot: &mut Option<T>,
    value: Option<Option<T>>,
) -> Option<()> {
    let bit = 1 << field;
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    *slot = value?;
    Some(())
}

impl<'a> Scan<'a> {
    fn record(&mut self) -> Option<Record<'a>> {
        let (mut r, mut seen) = (Record::default(), 0);
        self.object(|s, key| match key {
            b"schemaType" => once(&mut seen, 0, &mut r.schema_type, s.text_opt()),
            b"schemaVersion" => once(&mut seen, 1, &mut r.schema_version, s.text_opt()),
            b"timestamp" => once(&mut seen, 2, &mut r.timestamp, s.text_opt()),
            b"accountId" => once(&mut seen, 3, &mut r.account_id, s.text_opt()),
            b"region" => once(&mut seen, 4, &mut r.region, s.text_opt()),
            b"inferenceRegion" => once(&mut seen, 5, &mut r.inference_region, s.text_opt()),
            b"requestId" => once(&mut seen, 6, &mut r.request_id, s.text_opt()),
            b"modelId" => once(&mut seen, 7, &mut r.model_id, s.text_opt()),
            b"errorCode" => once(&mut seen, 8, &mut r.error_code, s.text_opt()),
            b"identity" => once(&mut seen, 9, &mut r.identity, s.opt(Scan::identity)),
            b"requestMetadata" => once(&mut seen, 10, &mut r.request_metadata, s.opt(Scan::tags)),
            b"input" => once(&mut seen, 11, &mut r.input, s.opt(Scan::input)),
            b"output" => once(&mut seen, 12, &mut r.output, s.opt(Scan::output)),
            _ => s.skip(1),
        })?;
        Some(r)
    }

    fn identity(&mut self) -> Option<Identity<'a>> {
        let (mut arn, mut seen) = (None, 0);
        self.object(|s, key| match key {
            b"arn" => once(&mut seen, 0, &mut arn, s.text_opt()),
            _ => s.skip(2),
        })?;
        Some(Identity { arn })
    }

    fn input(&mut self) -> Option<Input<'a>> {
        let (mut i, mut seen) = (Input::default(), 0);
        self.object(|s, key| match key {
            b"inputTokenCount" => once(&mut seen, 0, &mut i.input_token_count, s.int_opt()),
            b"cacheReadInputTokenCount" => once(
                &mut seen,
                1,
                &mut i.cache_read_input_token_count,
                s.int_opt(),
            ),
            b"cacheWriteInputTokenCount" => once(
                &mut seen,
                2,
                &mut i.cache_write_input_token_count,
                s.int_opt(),
            ),
            b"inputBodyJson" => once(&mut seen, 3, &mut i.input_body_json, s.opt(Scan::body)),
            _ => s.skip(2),
        })?;
        Some(i)
    }

    fn output(&mut self) -> Option<Output> {
        let (mut output_token_count, mut seen) = (None, 0);
        self.object(|s, key| match key {
            b"outputTokenCount" => once(&mut seen, 0, &mut output_token_count, s.int_opt()),
            _ => s.skip(2),
        })?;
        Some(Output { output_token_count })
    }

    fn body(&mut self) -> Option<Body<'a>> {
        let (mut b, mut seen) = (Body::default(), 0);
        self.object(|s, key| match key {
            b"serviceTier" => once(&mut seen, 0, &mut b.service_tier, s.tier()),
            b"service_tier" => once(&mut seen, 1, &mut b.service_tier_snake, s.tier()),
            b"performanceConfig" => once(
                &mut seen,
                2,
                &mut b.performance_config,
                s.opt(Scan::performance),
            ),
            b"imageGenerationConfig" => once(
                &mut seen,
                3,
                &mut b.image_generation_config,
                s.opt(Scan::image_config),
            ),
            b"samples" => once(&mut seen, 4, &mut b.samples, s.int_opt()),
            b"steps" => once(&mut seen, 5, &mut b.steps, s.int_opt()),
            b"width" => once(&mut seen, 6, &mut b.width, s.int_opt()),
            b"height" => once(&mut seen, 7, &mut b.height, s.int_opt()),
            _ => s.skip(3),
        })?;
        Some(b)
    }

    /// A tier by name; one given as an object is left to serde's untagged enum.
    fn tier(&mut self) -> Option<Option<TierValue>> {
        Some(
            self.text_opt()?
                .map(|name| TierValue::Name(name.into_owned())),
        )
    }

    fn performance(&mut self) -> Option<PerformanceConfig<'a>> {
        let (mut latency, mut seen) = (None, 0);
        self.object(|s, key| match key {
            b"latency" => once(&mut seen, 0, &mut latency, s.text_opt()),
            _ => s.skip(4),
        })?;
        Some(PerformanceConfig { latency })
    }

    fn image_config(&mut self) -> Option<ImageGenerationConfig<'a>> {
        let (mut c, mut seen) = (ImageGenerationConfig::default(), 0);
        self.object(|s, key| match key {
            b"numberOfImages" => once(&mut seen, 0, &mut c.number_of_images, s.int_opt()),
            b"width" => once(&mut seen, 1, &mut c.width, s.int_opt()),
            b"height" => once(&mut seen, 2, &mut c.height, s.int_opt()),
            b"quality" => once(&mut seen, 3, &mut c.quality, s.text_opt()),
            _ => s.skip(4),
        })?;
        Some(c)
    }

    /// `requestMetadata`: string values only; a key given twice keeps its last value,
    /// as serde's map does.
    fn tags(&mut self) -> Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>> {
        let mut tags = BTreeMap::new();
        self.object(|s, key| {
            let value = s.text_opt()??;
            tags.insert(Cow::Borrowed(std::str::from_utf8(key).ok()?), value);
            Some(())
        })?;
        Some(tags)
    }

    // --- JSON, as strictly as serde reads it ----------------------------------------

    fn blank(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.text.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after blanks, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.blank();
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let found = self.text.get(self.at..self.at + word.len())? == word;
        found.then(|| self.at += word.len())
    }

    /// `null` as `None`, else the value `read` makes of it.
    fn opt<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek()? == b'n' {
            return self.literal(b"null").map(|()| None);
        }
        read(self).map(Some)
    }

    /// An object's fields, each handed to `field` with the scanner before its value. A
    /// struct field's name is read as serde reads it (UTF-8); any escape gives up.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        loop {
            let (key, escaped) = self.string()?;
            if escaped || !key.is_ascii() {
                return None;
            }
            self.eat(b':')?;
            field(self, key)?;
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => break,
                _ => return None,
            }
        }
        self.at += 1;
        Some(())
    }

    /// A string billrun keeps: plain UTF-8 without escapes (else serde decodes it).
    fn text_opt(&mut self) -> Option<Text<'a>> {
        self.opt(|s| {
            let (raw, escaped) = s.string()?;
            if escaped {
                return None;
            }
            std::str::from_utf8(raw).ok().map(Cow::Borrowed)
        })
    }

    /// An integer as serde reads an `i64`: no fraction, exponent or leading zero.
    fn int_opt(&mut self) -> Option<Option<i64>> {
        self.opt(|s| {
            let negative = s.text.get(s.at) == Some(&b'-');
            s.at += usize::from(negative);
            let digits = s.digits();
            let number = &s.text[s.at - digits..s.at];
            let plain = !number.is_empty() && (number[0] != b'0' || digits == 1);
            let whole = !matches!(s.text.get(s.at), Some(b'.' | b'e' | b'E'));
            if !plain || !whole || digits > 18 {
                return None; // serde's errors, or too near i64's limits to bother
            }
            let value = number
                .iter()
                .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
            Some(if negative { -value } else { value })
        })
    }

    /// A string's raw bytes (between the quotes) and whether it holds escapes; the
    /// escapes and the absence of control characters are checked as serde does.
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        self.eat(b'"')?;
        let start = self.at;
        let mut escaped = false;
        loop {
            self.at += special(&self.text[self.at..])?;
            match self.text[self.at] {
                b'"' => {
                    self.at += 1;
                    return Some((&self.text[start..self.at - 1], escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.escape()?;
                }
                _ => return None, // a control character
            }
        }
    }

    fn escape(&mut self) -> Option<()> {
        self.at += 1; // the backslash
        let step = match *self.text.get(self.at)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 1,
            b'u' => {
                let hex = self.text.get(self.at + 1..self.at + 5)?;
                hex.iter().all(u8::is_ascii_hexdigit).then_some(5)?
            }
            _ => return None,
        };
        self.at += step;
        Some(())
    }

    /// Skips a value billrun does not read, checking it is JSON.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|s, _| s.skip(depth + 1)),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        self.eat(b'[')?;
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.skip(depth)?;
            match self.peek()? {
                b',' => self.at += 1,
                b']' => break,
                _ => return None,
            }
        }
        self.at += 1;
        Some(())
    }

    /// A number: `-`? (`0` | [1-9][0-9]*) (`.` [0-9]+)? ([eE] [+-]? [0-9]+)?
    fn number(&mut self) -> Option<()> {
        self.at += usize::from(self.text[self.at] == b'-');
        let int = self.digits();
        if int == 0 || (int > 1 && self.text[self.at - int] == b'0') {
            return None;
        }
        if self.text.get(self.at) == Some(&b'.') {
            self.at += 1;
            (self.digits() > 0).then_some(())?;
        }
        if let Some(b'e' | b'E') = self.text.get(self.at) {
            self.at += 1;
            self.at += usize::from(matches!(self.text.get(self.at), Some(b'+' | b'-')));
            (self.digits() > 0).then_some(())?;
        }
        Some(())
    }

    fn digits(&mut self) -> usize {
        let n = self.text[self.at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        self.at += n;
        n
    }
}

/// Where the next quote, backslash or control character is, if any: a string's end
/// or what needs a closer look. Nearly all of a record is text to skip, so this is
/// the scanner's hot loop: 16 bytes a step with SSE2 (every x86-64 has it).
fn special(text: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of x86-64 itself: every such processor has it.
        unsafe { special_sse2(text) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        special_portable(text)
    }
}

fn is_special(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The same search 32 bytes at a time without intrinsics (the compiler makes each
/// block a few vector compares): other architectures, and the tests' reference.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn special_portable(text: &[u8]) -> Option<usize> {
    let mut at = 0;
    for block in text.chunks_exact(32) {
        let block: &[u8; 32] = block.try_into().expect("32 bytes");
        if block.iter().fold(false, |any, &b| any | is_special(b)) {
            break;
        }
        at += 32;
    }
    text[at..]
        .iter()
        .position(|&b| is_special(b))
        .map(|p| at + p)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn special_sse2(text: &[u8]) -> Option<usize> {
    use std::arch::x86_64::*;
    let quote = _mm_set1_epi8(b'"' as i8);
    let backslash = _mm_set1_epi8(b'\\' as i8);
    let control = _mm_set1_epi8(0x1f);
    let mut at = 0;
    while let Some(block) = text.get(at..at + 16) {
        // SAFETY: `block` is 16 readable bytes; this load needs no alignment.
        let x = unsafe { _mm_loadu_si128(block.as_ptr().cast()) };
        let ends = _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash));
        // b <= 0x1f exactly when max(b, 0x1f) == 0x1f (unsigned).
        let controls = _mm_cmpeq_epi8(_mm_max_epu8(x, control), control);
        let bits = _mm_movemask_epi8(_mm_or_si128(ends, controls)) as u32;
        if bits != 0 {
            return Some(at + bits.trailing_zeros() as usize);
        }
        at += 16;
    }
    text[at..]
        .iter()
        .position(|&b| is_special(b))
        .map(|p| at + p)
}

#[cfg(test)]
mod tests;
