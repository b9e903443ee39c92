//! The framing of a WebAssembly module or component: its 8-byte header, then
//! sections, each an id byte, a LEB128 length and that many bytes. That is
//! all signing needs: sections are hashed as the bytes they are, so nested
//! modules and components are opaque payloads, and nothing is re-encoded
//! (a module signed here keeps every byte it had, after the signature).

use crate::SignatureError;

/// `\0asm`, then the version: a core module's (1) or a component's (layer 1).
const MODULE_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const COMPONENT_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];
pub(crate) const HEADER_LEN: usize = 8;

const CUSTOM_SECTION_ID: u8 = 0;

/// One section of a module, borrowed from its bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Section<'a> {
    /// Where the section starts in the module (its id byte).
    pub offset: usize,
    /// Its id: 0 for a custom section, 10 for a component's imports, ...
    pub id: u8,
    /// Where its payload (after the id and length) starts in the module.
    pub payload_offset: usize,
    /// The whole section: id, length and payload.
    pub raw: &'a [u8],
    /// A custom section's name and the data after it; `None` for the others.
    pub custom: Option<(&'a str, &'a [u8])>,
}

impl<'a> Section<'a> {
    pub fn end(&self) -> usize {
        self.offset + self.raw.len()
    }

    /// The section's payload: what follows its id and length.
    pub fn payload(&self) -> &'a [u8] {
        &self.raw[self.payload_offset - self.offset..]
    }

    pub fn is_custom(&self, name: &str) -> bool {
        matches!(self.custom, Some((n, _)) if n == name)
    }
}

/// The sections of `bytes`, checked to tile the module exactly: a length
/// that runs past the end (a truncated file) is an error, not a short read.
pub(crate) fn sections(bytes: &[u8]) -> Result<Vec<Section<'_>>, SignatureError> {
    let header = bytes.get(..HEADER_LEN).ok_or(SignatureError::NotWasm)?;
    if header != MODULE_HEADER && header != COMPONENT_HEADER {
        return Err(SignatureError::NotWasm);
    }
    let mut sections = Vec::new();
    let mut at = HEADER_LEN;
    while at < bytes.len() {
        let offset = at;
        let id = bytes[at];
        let (len, payload_start) = read_u32(bytes, at + 1, "section length")?;
        let end = payload_start
            .checked_add(len as usize)
            .filter(|end| *end <= bytes.len())
            .ok_or(SignatureError::Truncated {
                offset,
                what: "section",
            })?;
        let custom = if id == CUSTOM_SECTION_ID {
            let payload = &bytes[..end];
            let (name_len, name_start) = read_u32(payload, payload_start, "custom section name")?;
            let name_end = name_start
                .checked_add(name_len as usize)
                .filter(|name_end| *name_end <= end)
                .ok_or(SignatureError::Truncated {
                    offset,
                    what: "custom section name",
                })?;
            let name = std::str::from_utf8(&bytes[name_start..name_end]).map_err(|_| {
                SignatureError::Malformed {
                    offset,
                    reason: "a custom section's name is not UTF-8",
                }
            })?;
            Some((name, &bytes[name_end..end]))
        } else {
            None
        };
        sections.push(Section {
            offset,
            id,
            payload_offset: payload_start,
            raw: &bytes[offset..end],
            custom,
        });
        at = end;
    }
    Ok(sections)
}

/// A LEB128 `u32` at `at` in `bytes`, and where it ends.
pub(crate) fn read_u32(
    bytes: &[u8],
    at: usize,
    what: &'static str,
) -> Result<(u32, usize), SignatureError> {
    let too_long = SignatureError::Malformed {
        offset: at,
        reason: "a length does not fit in 32 bits",
    };
    let mut value: u32 = 0;
    for i in 0..5 {
        let byte = *bytes
            .get(at + i)
            .ok_or(SignatureError::Truncated { offset: at, what })?;
        if i == 4 && byte > 0x0f {
            return Err(too_long);
        }
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, at + i + 1));
        }
    }
    Err(too_long)
}

/// Appends `value` as a LEB128 `u32` (the shortest encoding).
pub(crate) fn write_u32(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A custom section named `name` holding `data`, framed.
pub(crate) fn custom_section(name: &str, data: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(name.len() + data.len() + 5);
    write_u32(&mut payload, name.len() as u32);
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(data);
    let mut section = Vec::with_capacity(payload.len() + 6);
    section.push(CUSTOM_SECTION_ID);
    write_u32(&mut section, payload.len() as u32);
    section.extend_from_slice(&payload);
    section
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_round_trip_through_leb128() {
        for value in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut out = Vec::new();
            write_u32(&mut out, value);
            assert_eq!(read_u32(&out, 0, "test").unwrap(), (value, out.len()));
        }
    }

    #[test]
    fn a_length_past_32_bits_is_malformed() {
        let err = read_u32(&[0xff, 0xff, 0xff, 0xff, 0x7f], 0, "test").unwrap_err();
        assert!(matches!(err, SignatureError::Malformed { .. }), "{err:?}");
    }
}
