//! Why a file cannot be loaded. Every message names the place, so a corrupt
//! file can be told from a foreign one and from one of a newer wanc.

use super::format::{Section, MAJOR, MAX_COND_DEPTH};

/// Where in the file a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Header,
    Section(Section),
    /// A section this reader does not know.
    UnknownSection(u8),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Header => f.write_str("header"),
            Place::Section(s) => s.fmt(f),
            Place::UnknownSection(id) => write!(f, "section {id}"),
        }
    }
}

/// Why a state's condition code does not build one condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CondError {
    /// An operator wants more operands than the stack holds.
    Underflow {
        op: &'static str,
        wanted: usize,
        held: usize,
    },
    /// The code does not end with exactly one value.
    Leftover(usize),
    TooDeep,
}

impl std::fmt::Display for CondError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CondError::Underflow { op, wanted, held } => write!(f, "{op} needs {wanted} operands, the stack holds {held}"),
            CondError::Leftover(n) => write!(f, "the code leaves {n} values on the stack instead of one"),
            CondError::TooDeep => write!(f, "nested more than {MAX_COND_DEPTH} levels deep"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    NotPolicy,
    UnsupportedVersion {
        major: u16,
        minor: u16,
    },
    ChecksumMismatch {
        stored: u32,
        computed: u32,
    },
    UnknownFlags(u32),
    Truncated(Place),
    UnknownSection(u8),
    /// Sections must come in ascending id order, each once.
    SectionOrder(Place),
    MissingSection(Section),
    TrailingBytes {
        section: Section,
        count: usize,
    },
    /// A count larger than the bytes left could ever hold: refused before
    /// anything is allocated for it.
    CountTooLarge {
        section: Section,
        count: u64,
    },
    /// An integer longer than its type, or not in its shortest form.
    MalformedInteger(Section),
    ValueOutOfRange {
        section: Section,
        what: &'static str,
        value: u64,
    },
    IndexOutOfRange {
        section: Section,
        what: &'static str,
        index: u64,
        len: usize,
    },
    InvalidTag {
        section: Section,
        what: &'static str,
        tag: u8,
    },
    InvalidUtf8 {
        index: usize,
    },
    StringsTooLarge {
        limit: usize,
    },
    UnknownOpcode {
        state: String,
        opcode: u8,
    },
    BadCondition {
        state: String,
        error: CondError,
    },
    /// A value that decodes but breaks a rule of the format.
    Invalid {
        section: Section,
        reason: String,
    },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::NotPolicy => f.write_str("not a wanc policy file"),
            LoadError::UnsupportedVersion { major, minor } => {
                write!(f, "unsupported format version {major}.{minor}: this wanc reads version {MAJOR}")
            }
            LoadError::ChecksumMismatch { stored, computed } => {
                write!(f, "checksum mismatch: the header says {stored:#010x}, the contents give {computed:#010x}")
            }
            LoadError::UnknownFlags(flags) => write!(f, "unknown flags {flags:#x} in the header"),
            LoadError::Truncated(place) => write!(f, "truncated {place}"),
            LoadError::UnknownSection(id) => write!(f, "unknown section id {id}"),
            LoadError::SectionOrder(place) => write!(f, "{place} is out of order or repeated"),
            LoadError::MissingSection(s) => write!(f, "missing {s}"),
            LoadError::TrailingBytes { section, count } => write!(f, "{count} unused bytes at the end of {section}"),
            LoadError::CountTooLarge { section, count } => {
                write!(f, "count {count} in {section} is larger than the bytes left")
            }
            LoadError::MalformedInteger(s) => write!(f, "malformed integer in {s}"),
            LoadError::ValueOutOfRange { section, what, value } => write!(f, "{what} {value} out of range in {section}"),
            LoadError::IndexOutOfRange { section, what, index, len } => {
                write!(f, "index out of range in {section}: {what} {index}, but there are {len}")
            }
            LoadError::InvalidTag { section, what, tag } => write!(f, "invalid {what} tag {tag} in {section}"),
            LoadError::InvalidUtf8 { index } => write!(f, "invalid UTF-8 in string {index}"),
            LoadError::StringsTooLarge { limit } => {
                write!(f, "the strings the file uses add up to more than {limit} bytes")
            }
            LoadError::UnknownOpcode { state, opcode } => {
                write!(f, "unknown opcode {opcode:#04x} in the condition of state {state:?}")
            }
            LoadError::BadCondition { state, error } => write!(f, "invalid condition in state {state:?}: {error}"),
            LoadError::Invalid { section, reason } => write!(f, "invalid {section}: {reason}"),
        }
    }
}

impl std::error::Error for LoadError {}
