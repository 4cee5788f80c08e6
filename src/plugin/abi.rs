//! ABI version 1 as bytes: the settings block the host writes into a
//! plugin, the result record it reads back, and the error codes of the host
//! functions. `plugins/ABI.md` is the reference; keep the two in step.

use super::ProbeOutcome;
use crate::ir::PluginSetting;
use std::collections::BTreeMap;

pub const VERSION: i32 = 1;

/// Error codes of the host functions, returned as negative numbers.
pub mod code {
    /// The address is not among the request's targets.
    pub const DENIED: i32 = -1;
    /// Bad pointer, length, address text or handle.
    pub const INVALID: i32 = -2;
    /// The probe's deadline passed.
    pub const TIMEOUT: i32 = -3;
    pub const REFUSED: i32 = -4;
    /// No route, or the source address is not usable.
    pub const UNREACHABLE: i32 = -5;
    /// Connection reset or closed while sending.
    pub const RESET: i32 = -6;
    /// Too many open sockets.
    pub const LIMIT: i32 = -7;
    /// Any other I/O error.
    pub const IO: i32 = -8;
}

/// Settings larger than this are refused: they come from a check in a
/// source file, and the plugin has to allocate them.
pub const MAX_SETTINGS_BYTES: usize = 1 << 20;

/// A plugin's declaration of its settings: names one per line. Bounded,
/// since the checker keeps every name (a small plugin could otherwise
/// declare millions from one data segment).
pub const MAX_DECLARATION_BYTES: usize = 64 << 10;
pub const MAX_SETTINGS: usize = 256;

/// The fixed part of a result record: status, flags, reserved, measurement.
const RESULT_HEADER: usize = 12;
const FLAG_MEASUREMENT: u8 = 1;
/// Longer reasons are cut here: they end up in logs and on terminals.
pub const MAX_REASON_BYTES: usize = 512;
/// The most of a result record the host ever reads.
pub const MAX_RESULT_READ: usize = RESULT_HEADER + MAX_REASON_BYTES;

/// The settings block: u32 count, then per setting u32 key length, key,
/// u32 value length, value; little-endian, keys in ascending order.
pub fn encode_settings(settings: &BTreeMap<String, String>) -> Result<Vec<u8>, String> {
    let size = 4 + settings.iter().map(|(k, v)| 8 + k.len() + v.len()).sum::<usize>();
    if size > MAX_SETTINGS_BYTES {
        return Err(format!("the settings take {size} bytes, more than the {MAX_SETTINGS_BYTES} a plugin accepts"));
    }
    let mut block = Vec::with_capacity(size);
    // Both fit in u32: the total is at most MAX_SETTINGS_BYTES.
    block.extend_from_slice(&(settings.len() as u32).to_le_bytes());
    for (key, value) in settings {
        for text in [key, value] {
            block.extend_from_slice(&(text.len() as u32).to_le_bytes());
            block.extend_from_slice(text.as_bytes());
        }
    }
    Ok(block)
}

/// Reads a result record (at most `MAX_RESULT_READ` bytes of it; `len` is
/// the length the plugin declared). Untrusted: anything malformed is an
/// error naming the defect.
pub fn decode_result(record: &[u8], len: usize) -> Result<ProbeOutcome, String> {
    if len < RESULT_HEADER || record.len() < RESULT_HEADER {
        return Err(format!("the plugin returned a {len}-byte result, shorter than the {RESULT_HEADER}-byte header"));
    }
    let up = match record[0] {
        0 => false,
        1 => true,
        other => return Err(format!("the plugin returned status {other}, not 0 (down) or 1 (up)")),
    };
    let flags = record[1];
    if flags & !FLAG_MEASUREMENT != 0 || record[2..4] != [0, 0] {
        return Err(format!("the plugin returned unknown flags {flags:#04x} or non-zero reserved bytes"));
    }
    let mut measurement = [0u8; 8];
    measurement.copy_from_slice(&record[4..RESULT_HEADER]);
    let measurement = (flags & FLAG_MEASUREMENT != 0).then(|| u64::from_le_bytes(measurement));
    let reason = clean_reason(&record[RESULT_HEADER..], len - RESULT_HEADER > MAX_REASON_BYTES);
    Ok(ProbeOutcome { up, reason, measurement })
}

/// Makes a plugin's reason safe to print: valid UTF-8, no control
/// characters (no terminal escapes, no forged log lines), no invisible
/// formatting (bidi overrides that would show a log line reordered, zero
/// widths), bounded length.
fn clean_reason(bytes: &[u8], cut: bool) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_REASON_BYTES)]);
    let mut reason: String = text.chars().map(|c| if c.is_control() || invisible(c) { ' ' } else { c }).collect();
    reason = reason.trim().to_string();
    if cut {
        reason.push('…');
    }
    if reason.is_empty() {
        reason.push_str("the plugin gave no reason");
    }
    reason
}

/// Unicode's format characters that reorder or hide text: the bidi
/// embeddings, overrides, isolates and marks, zero-width characters and
/// the byte-order mark.
fn invisible(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// `(ptr << 32) | len` as two offsets into the plugin's memory.
pub fn unpack(packed: i64) -> (usize, usize) {
    let packed = packed as u64;
    ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize)
}

/// The settings declaration: one name per line, `name?` for an optional one.
pub fn parse_declaration(text: &str) -> Result<Vec<PluginSetting>, String> {
    if text.len() > MAX_DECLARATION_BYTES {
        return Err(format!("its settings description is {} bytes, more than {MAX_DECLARATION_BYTES}", text.len()));
    }
    let settings: Vec<PluginSetting> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.strip_suffix('?') {
            Some(name) => PluginSetting { name: name.trim().to_string(), required: false },
            None => PluginSetting { name: l.to_string(), required: true },
        })
        .collect();
    if settings.len() > MAX_SETTINGS {
        return Err(format!("it declares {} settings, more than {MAX_SETTINGS}", settings.len()));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: u8, flags: u8, measurement: u64, reason: &str) -> Vec<u8> {
        let mut r = vec![status, flags, 0, 0];
        r.extend_from_slice(&measurement.to_le_bytes());
        r.extend_from_slice(reason.as_bytes());
        r
    }

    #[test]
    fn declarations_are_bounded() {
        let many: String = (0..=MAX_SETTINGS).map(|i| format!("s{i}\n")).collect();
        assert!(parse_declaration(&many).unwrap_err().contains("more than 256"));
        assert!(parse_declaration(&"\n".repeat(MAX_DECLARATION_BYTES + 1)).unwrap_err().contains("bytes"));
        assert_eq!(parse_declaration("url\nexpect?\n").unwrap().len(), 2);
    }

    #[test]
    fn settings_block_layout() {
        let settings = [("a".to_string(), "xy".to_string())].into();
        assert_eq!(encode_settings(&settings).unwrap(), [1, 0, 0, 0, 1, 0, 0, 0, b'a', 2, 0, 0, 0, b'x', b'y']);
    }

    #[test]
    fn result_records() {
        let r = record(1, 1, 1234, "fine");
        assert_eq!(
            decode_result(&r, r.len()).unwrap(),
            ProbeOutcome { up: true, reason: "fine".into(), measurement: Some(1234) }
        );
        let r = record(0, 0, 99, "bad\x1b[31m\nnews");
        let o = decode_result(&r, r.len()).unwrap();
        assert_eq!((o.up, o.reason.as_str(), o.measurement), (false, "bad [31m news", None));
        let r = record(0, 0, 0, "ok\u{202e}nwod\u{2066}x\u{200b}y");
        assert_eq!(decode_result(&r, r.len()).unwrap().reason, "ok nwod x y");
        assert!(decode_result(&record(2, 0, 0, ""), 12).unwrap_err().contains("status 2"));
        assert!(decode_result(&record(1, 4, 0, ""), 12).unwrap_err().contains("flags"));
        assert!(decode_result(&[1, 0, 0], 3).unwrap_err().contains("shorter"));
        assert_eq!(decode_result(&record(1, 0, 0, ""), 12).unwrap().reason, "the plugin gave no reason");
    }

    #[test]
    fn long_reasons_are_cut() {
        let r = record(0, 0, 0, &"é".repeat(400));
        let o = decode_result(&r[..MAX_RESULT_READ], r.len()).unwrap();
        assert!(o.reason.ends_with('…') && o.reason.len() <= MAX_REASON_BYTES + '…'.len_utf8());
    }
}
