//! Byte offsets (the compiler's spans) to LSP positions and back. LSP
//! counts a position's character in UTF-16 code units, the encoding every
//! client supports, which the server announces. Any position maps to an
//! offset inside the text: a line or a column past the end is clamped, a
//! column inside a character goes to its start.

use lsp_types::{Position, Range};

pub struct Lines<'a> {
    text: &'a str,
    /// The byte offset of each line's start.
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Lines<'a> {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Lines { text, starts }
    }

    pub fn position(&self, offset: usize) -> Position {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.starts[line];
        let character = self.text[start..offset].encode_utf16().count();
        Position::new(to_u32(line), to_u32(character))
    }

    pub fn range(&self, start: usize, end: usize) -> Range {
        Range::new(self.position(start), self.position(end))
    }

    pub fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else { return self.text.len() };
        let line = &self.text[start..];
        let line = line.split('\n').next().unwrap_or("");
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut units = 0;
        for (i, c) in line.char_indices() {
            units += c.len_utf16();
            if units > position.character as usize {
                return start + i;
            }
        }
        start + line.len()
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_utf16_units() {
        let text = "ab\n€x😀y\r\nlast";
        let lines = Lines::new(text);
        assert_eq!(lines.position(0), Position::new(0, 0));
        assert_eq!(lines.position(3), Position::new(1, 0));
        let y = text.find('y').unwrap();
        assert_eq!(lines.position(y), Position::new(1, 4));
        assert_eq!(lines.offset(Position::new(1, 4)), y);
        // Inside a character: its start, either way.
        assert_eq!(lines.position(4), Position::new(1, 0));
        assert_eq!(lines.offset(Position::new(1, 3)), text.find('😀').unwrap());
        // Past the end of a line, of the text, of the lines.
        assert_eq!(lines.offset(Position::new(1, 99)), text.find('\r').unwrap());
        assert_eq!(lines.offset(Position::new(9, 0)), text.len());
        assert_eq!(lines.position(usize::MAX), Position::new(2, 4));
        assert_eq!(Lines::new("").offset(Position::new(0, 5)), 0);
    }
}
