//! Bounds-checked reading of one section's payload. Every read either
//! returns a value that fits its type and the file, or a `LoadError`;
//! nothing here indexes without checking or allocates from a count that the
//! remaining bytes could not back.

use super::error::LoadError;
use super::format::{tag, Section, Tagged};
use crate::ir::{Address, Family};
use ipnet::IpNet;
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The string pool, and how many more bytes of strings may be copied out of
/// it (see `format::STRING_EXPANSION`).
pub struct Pool {
    pub strings: Vec<String>,
    pub budget: Cell<usize>,
    pub limit: usize,
}

pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    section: Section,
    pool: &'a Pool,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8], section: Section, pool: &'a Pool) -> Self {
        Reader { bytes, pos: 0, section, pool }
    }

    /// A reader over part of this one's bytes, such as a condition's code.
    pub fn sub(&self, bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, pos: 0, section: self.section, pool: self.pool }
    }

    pub fn at_end(&self) -> bool {
        self.pos == self.bytes.len()
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Errors if anything is left: a section's layout accounts for every byte.
    pub fn finish(&self) -> Result<(), LoadError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(LoadError::TrailingBytes { section: self.section, count }),
        }
    }

    pub fn invalid(&self, reason: String) -> LoadError {
        LoadError::Invalid { section: self.section, reason }
    }

    pub fn bad_tag(&self, what: &'static str, tag: u8) -> LoadError {
        LoadError::InvalidTag { section: self.section, what, tag }
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], LoadError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.bytes.len());
        let end = end.ok_or(LoadError::Truncated(super::error::Place::Section(self.section)))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], LoadError> {
        let mut out = [0; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, LoadError> {
        Ok(self.array::<1>()?[0])
    }

    /// Unsigned LEB128 in its shortest form, at most 64 bits.
    pub fn varint(&mut self) -> Result<u64, LoadError> {
        let mut value = 0u64;
        for i in 0..10 {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7F);
            // The tenth byte holds only bit 63.
            if i == 9 && bits > 1 {
                return Err(LoadError::MalformedInteger(self.section));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                // A zero last byte after others is a longer form of a
                // shorter number: one value, one encoding.
                if byte == 0 && i > 0 {
                    return Err(LoadError::MalformedInteger(self.section));
                }
                return Ok(value);
            }
        }
        Err(LoadError::MalformedInteger(self.section))
    }

    pub fn int<T: TryFrom<u64>>(&mut self, what: &'static str) -> Result<T, LoadError> {
        let value = self.varint()?;
        T::try_from(value).map_err(|_| LoadError::ValueOutOfRange { section: self.section, what, value })
    }

    /// An index below `len`, such as an uplink or rule number.
    pub fn index(&mut self, len: usize, what: &'static str) -> Result<usize, LoadError> {
        let index = self.varint()?;
        match usize::try_from(index) {
            Ok(i) if i < len => Ok(i),
            _ => Err(LoadError::IndexOutOfRange { section: self.section, what, index, len }),
        }
    }

    /// A list's length. Every element takes at least one byte, so a count
    /// beyond the bytes left is corrupt: refused before any allocation.
    pub fn count(&mut self) -> Result<usize, LoadError> {
        let count = self.varint()?;
        match usize::try_from(count) {
            Ok(n) if n <= self.remaining() => Ok(n),
            _ => Err(LoadError::CountTooLarge { section: self.section, count }),
        }
    }

    pub fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T, LoadError>) -> Result<Vec<T>, LoadError> {
        let n = self.count()?;
        // Grown as elements arrive rather than sized from the count: an
        // element in memory can be far larger than its encoding.
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    pub fn bool(&mut self) -> Result<bool, LoadError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.bad_tag("boolean", other)),
        }
    }

    pub fn option<T>(&mut self, item: impl FnOnce(&mut Self) -> Result<T, LoadError>) -> Result<Option<T>, LoadError> {
        match self.u8()? {
            tag::ABSENT => Ok(None),
            tag::PRESENT => item(self).map(Some),
            other => Err(self.bad_tag("option", other)),
        }
    }

    pub fn tagged<T: Tagged>(&mut self) -> Result<T, LoadError> {
        let byte = self.u8()?;
        T::from_tag(byte).ok_or_else(|| self.bad_tag(T::WHAT, byte))
    }

    pub fn f64(&mut self) -> Result<f64, LoadError> {
        Ok(f64::from_bits(u64::from_le_bytes(self.array()?)))
    }

    pub fn ip(&mut self) -> Result<IpAddr, LoadError> {
        match self.u8()? {
            tag::IPV4 => Ok(IpAddr::V4(Ipv4Addr::from(self.array::<4>()?))),
            tag::IPV6 => Ok(IpAddr::V6(Ipv6Addr::from(self.array::<16>()?))),
            other => Err(self.bad_tag("address family", other)),
        }
    }

    /// An address family, tagged as an address is (`IPV4`, `IPV6`).
    pub fn family(&mut self) -> Result<Family, LoadError> {
        match self.u8()? {
            tag::IPV4 => Ok(Family::V4),
            tag::IPV6 => Ok(Family::V6),
            other => Err(self.bad_tag("address family", other)),
        }
    }

    /// A given or learned address (`ADDRESS_KNOWN` + an address, or
    /// `ADDRESS_LEARNED` + a family).
    pub fn address(&mut self, what: &'static str) -> Result<Address, LoadError> {
        match self.u8()? {
            tag::ADDRESS_KNOWN => Ok(Address::Known(self.ip()?)),
            tag::ADDRESS_LEARNED => Ok(Address::Learned(self.family()?)),
            other => Err(self.bad_tag(what, other)),
        }
    }

    pub fn net(&mut self) -> Result<IpNet, LoadError> {
        let addr = self.ip()?;
        let len = self.u8()?;
        IpNet::new(addr, len).map_err(|_| LoadError::ValueOutOfRange {
            section: self.section,
            what: "prefix length",
            value: len.into(),
        })
    }

    /// A string of the pool, by index.
    pub fn str(&mut self) -> Result<String, LoadError> {
        let pool = self.pool;
        let s = &pool.strings[self.index(pool.strings.len(), "string")?];
        let left = pool.budget.get().checked_sub(s.len()).ok_or(LoadError::StringsTooLarge { limit: pool.limit })?;
        pool.budget.set(left);
        Ok(s.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytecode::encode::varint;

    fn read_varint(bytes: &[u8]) -> Result<u64, LoadError> {
        let pool = Pool { strings: Vec::new(), budget: Cell::new(0), limit: 0 };
        let mut r = Reader::new(bytes, Section::Site, &pool);
        let v = r.varint()?;
        r.finish().map(|()| v)
    }

    #[test]
    fn varints_roundtrip_at_every_width() {
        for v in [0, 1, 127, 128, 300, 16_383, 16_384, u64::from(u32::MAX), u64::MAX - 1, u64::MAX] {
            let mut buf = Vec::new();
            varint(&mut buf, v);
            assert_eq!(read_varint(&buf), Ok(v), "{buf:?}");
        }
    }

    #[test]
    fn varints_must_be_shortest_and_fit_64_bits() {
        let malformed = Err(LoadError::MalformedInteger(Section::Site));
        assert_eq!(read_varint(&[0x80, 0x00]), malformed);
        assert_eq!(read_varint(&[0xFF; 10]), malformed);
        assert_eq!(read_varint(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02]), malformed);
        assert_eq!(read_varint(&[0xFF; 11]), malformed);
        assert_eq!(read_varint(&[0x80]), Err(LoadError::Truncated(super::super::error::Place::Section(Section::Site))));
    }
}
