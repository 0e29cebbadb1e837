//! Bencode (BEP 3), just what KRPC needs: a bounded, borrowing decoder and an encoder.
//!
//! The decoder never allocates more than the packet it reads implies: nesting depth and the
//! number of values are capped, and byte strings borrow from the input.

/// Deepest nesting accepted (KRPC needs 3).
const MAX_DEPTH: usize = 8;
/// Most values (of any kind) in one message.
const MAX_VALUES: usize = 1024;

/// A bencoded value borrowing from the packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// `i<n>e`
    Int(i64),
    /// `<len>:<bytes>`
    Bytes(&'a [u8]),
    /// `l...e`
    List(Vec<Value<'a>>),
    /// `d...e`, in wire order (the encoder sorts keys).
    Dict(Vec<(&'a [u8], Value<'a>)>),
}

/// Why a packet is not bencode we accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ends inside a value.
    #[error("truncated bencode")]
    Truncated,
    /// A byte that starts no value, a bad integer or a bad length.
    #[error("malformed bencode at byte {0}")]
    Malformed(usize),
    /// Nested deeper than we accept.
    #[error("bencode nested too deeply")]
    TooDeep,
    /// More values than we accept.
    #[error("too many bencode values")]
    TooMany,
    /// Bytes after the top-level value.
    #[error("trailing bytes after bencode value")]
    Trailing,
}

impl<'a> Value<'a> {
    /// Decodes one value that must fill `input` exactly.
    pub fn decode(input: &'a [u8]) -> Result<Value<'a>, DecodeError> {
        let mut d = Decoder {
            input,
            pos: 0,
            values: 0,
        };
        let v = d.value(0)?;
        if d.pos != input.len() {
            return Err(DecodeError::Trailing);
        }
        Ok(v)
    }

    /// The value of `key` in a dictionary (the first one if a peer repeated it).
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        match self {
            Value::Dict(entries) => entries.iter().find(|(k, _)| *k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The bytes, if this is a byte string.
    pub fn as_bytes(&self) -> Option<&'a [u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// Appends the encoding to `out` (dictionary keys sorted, as BEP 3 requires).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Value::Bytes(b) => encode_bytes(b, out),
            Value::List(items) => {
                out.push(b'l');
                for v in items {
                    v.encode_into(out);
                }
                out.push(b'e');
            }
            Value::Dict(entries) => {
                let mut sorted: Vec<&(&[u8], Value<'_>)> = entries.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                out.push(b'd');
                for (k, v) in sorted {
                    encode_bytes(k, out);
                    v.encode_into(out);
                }
                out.push(b'e');
            }
        }
    }

    /// The encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        self.encode_into(&mut out);
        out
    }
}

fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(b);
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    values: usize,
}

impl<'a> Decoder<'a> {
    fn peek(&self) -> Result<u8, DecodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(DecodeError::Truncated)
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(DecodeError::TooMany);
        }
        match self.peek()? {
            b'i' => {
                self.pos += 1;
                let n = self.int_until(b'e')?;
                Ok(Value::Int(n))
            }
            b'l' => {
                self.pos += 1;
                let mut items = Vec::new();
                while self.peek()? != b'e' {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Ok(Value::List(items))
            }
            b'd' => {
                self.pos += 1;
                let mut entries = Vec::new();
                while self.peek()? != b'e' {
                    let key = self.bytes()?;
                    let v = self.value(depth + 1)?;
                    entries.push((key, v));
                }
                self.pos += 1;
                Ok(Value::Dict(entries))
            }
            b'0'..=b'9' => Ok(Value::Bytes(self.bytes()?)),
            _ => Err(DecodeError::Malformed(self.pos)),
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let len = self.int_until(b':')?;
        let len = usize::try_from(len).map_err(|_| DecodeError::Malformed(start))?;
        let end = self
            .pos
            .checked_add(len)
            .ok_or(DecodeError::Malformed(start))?;
        let b = self
            .input
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok(b)
    }

    /// Reads a decimal integer up to `end` (consumed). No leading zeros, no `-0`.
    fn int_until(&mut self, end: u8) -> Result<i64, DecodeError> {
        let start = self.pos;
        let rest = &self.input[self.pos..];
        let len = rest
            .iter()
            .take(21)
            .position(|&c| c == end)
            .ok_or(if rest.len() < 21 {
                DecodeError::Truncated
            } else {
                DecodeError::Malformed(start)
            })?;
        let text = &rest[..len];
        let (neg, digits) = match text.split_first() {
            Some((b'-', d)) if end == b'e' => (true, d),
            _ => (false, text),
        };
        let bad = digits.is_empty()
            || !digits.iter().all(u8::is_ascii_digit)
            || (digits.len() > 1 && digits[0] == b'0')
            || (neg && digits == b"0");
        if bad {
            return Err(DecodeError::Malformed(start));
        }
        // A negative number is summed as a negative: `i64::MIN` has no positive counterpart.
        let mut n: i64 = 0;
        for &d in digits {
            let d = i64::from(d - b'0');
            n = n
                .checked_mul(10)
                .and_then(|n| {
                    if neg {
                        n.checked_sub(d)
                    } else {
                        n.checked_add(d)
                    }
                })
                .ok_or(DecodeError::Malformed(start))?;
        }
        self.pos += len + 1;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_sorts_keys() {
        let v = Value::Dict(vec![
            (b"z", Value::Int(-3)),
            (
                b"a",
                Value::List(vec![Value::Bytes(b"spam"), Value::Int(0)]),
            ),
        ]);
        let enc = v.encode();
        assert_eq!(enc, b"d1:al4:spami0ee1:zi-3ee");
        let back = Value::decode(&enc).expect("decodes");
        assert_eq!(back.get(b"z"), Some(&Value::Int(-3)));
    }

    #[test]
    fn rejects_bad_input_without_panicking() {
        let cases: &[&[u8]] = &[
            b"",
            b"d",
            b"i-0e",
            b"i03e",
            b"ie",
            b"i99999999999999999999e",
            b"5:abc",
            b"99999999999999999999:a",
            b"d1:a",
            b"l",
            b"x",
            b"i1ei2e",
            b"-1:a",
        ];
        for c in cases {
            assert!(
                Value::decode(c).is_err(),
                "{:?}",
                String::from_utf8_lossy(c)
            );
        }
        let deep = format!("{}{}", "l".repeat(50), "e".repeat(50));
        assert_eq!(Value::decode(deep.as_bytes()), Err(DecodeError::TooDeep));
        let many = format!("l{}e", "i1e".repeat(5000));
        assert_eq!(Value::decode(many.as_bytes()), Err(DecodeError::TooMany));
    }
}
