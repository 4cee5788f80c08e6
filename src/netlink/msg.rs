//! Netlink wire format: the constants, message building and bounds-checked
//! parsing of what the kernel sends back. Everything is in host byte order
//! except addresses, which are in network order (as `octets()` gives them).

// Message types and flags (linux/netlink.h, linux/rtnetlink.h).
pub const NLMSG_HDRLEN: usize = 16;
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
/// In an error message: the original request was cut to its header.
pub const NLM_F_CAPPED: u16 = 0x100;
/// In an error message: extended-ack attributes follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;
pub const NLMSGERR_ATTR_MSG: u16 = 1;

// Socket options (SOL_NETLINK).
pub const SOL_NETLINK: i32 = 270;
pub const NETLINK_CAP_ACK: i32 = 10;
pub const NETLINK_EXT_ACK: i32 = 11;

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_NEWRULE: u16 = 32;
pub const RTM_DELRULE: u16 = 33;

// Routes.
pub const RTA_OIF: u16 = 4;
pub const RTA_GATEWAY: u16 = 5;
pub const RTA_MULTIPATH: u16 = 9;
pub const RTA_TABLE: u16 = 15;
pub const RTN_UNSPEC: u8 = 0;
pub const RTN_UNICAST: u8 = 1;
pub const RTN_THROW: u8 = 9;
pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RT_SCOPE_LINK: u8 = 253;
pub const RT_SCOPE_NOWHERE: u8 = 255;
pub const RT_TABLE_UNSPEC: u8 = 0;
pub const RT_TABLE_MAIN: u32 = 254;
pub const RTNH_F_ONLINK: u8 = 4;

// Rules.
pub const FRA_SRC: u16 = 2;
pub const FRA_PRIORITY: u16 = 6;
pub const FRA_FWMARK: u16 = 10;
pub const FRA_SUPPRESS_PREFIXLEN: u16 = 14;
pub const FRA_TABLE: u16 = 15;
pub const FRA_FWMASK: u16 = 16;
pub const FR_ACT_UNSPEC: u8 = 0;
pub const FR_ACT_TO_TBL: u8 = 1;

// Links.
pub const IFLA_IFNAME: u16 = 3;
pub const IFLA_EXT_MASK: u16 = 29;
pub const RTEXT_FILTER_SKIP_STATS: u32 = 1 << 3;
pub const IFF_LOWER_UP: u32 = 0x10000;
pub const IFINFOMSG_LEN: usize = 16;

const NLA_HDRLEN: usize = 4;
/// Attribute type bits; the top two are the nested and byte-order flags.
const NLA_TYPE_MASK: u16 = 0x3fff;

pub const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// The family number of an address family.
pub fn af(family: crate::ir::Family) -> u8 {
    match family {
        crate::ir::Family::V4 => libc::AF_INET as u8,
        crate::ir::Family::V6 => libc::AF_INET6 as u8,
    }
}

/// One netlink message under construction. The sequence number is written
/// when the message is sent.
pub struct Builder {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Builder {
    pub fn new(kind: u16, flags: u16) -> Builder {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by finish
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // sequence
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        Builder { buf, nests: Vec::new() }
    }

    /// The fixed family header (rtmsg, fib_rule_hdr, ifinfomsg), padded.
    pub fn header(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(bytes);
        self.pad();
        self
    }

    pub fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Self {
        let len = NLA_HDRLEN + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
        self
    }

    pub fn u32(&mut self, kind: u16, value: u32) -> &mut Self {
        self.attr(kind, &value.to_ne_bytes())
    }

    /// Starts an attribute whose payload is written by the following calls.
    pub fn begin(&mut self, kind: u16) -> &mut Self {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self
    }

    pub fn end(&mut self) -> &mut Self {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
        self
    }

    /// An `rtnexthop` followed by its attributes, written by `f`.
    pub fn nexthop(&mut self, flags: u8, hops: u8, ifindex: u32, f: impl FnOnce(&mut Self)) -> &mut Self {
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.push(flags);
        self.buf.push(hops);
        self.buf.extend_from_slice(&ifindex.to_ne_bytes());
        f(self);
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    fn pad(&mut self) {
        self.buf.resize(align4(self.buf.len()), 0);
    }

    pub fn finish(&mut self) -> Vec<u8> {
        while !self.nests.is_empty() {
            self.end();
        }
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        std::mem::take(&mut self.buf)
    }
}

pub fn set_seq(msg: &mut [u8], seq: u32) {
    if let Some(field) = msg.get_mut(8..12) {
        field.copy_from_slice(&seq.to_ne_bytes());
    }
}

/// `struct rtmsg`.
pub fn rtmsg(family: u8, table: u8, protocol: u8, scope: u8, kind: u8, flags: u32) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = family;
    // dst_len, src_len, tos: 0 (default route)
    h[4] = table;
    h[5] = protocol;
    h[6] = scope;
    h[7] = kind;
    h[8..12].copy_from_slice(&flags.to_ne_bytes());
    h
}

/// `struct fib_rule_hdr`.
pub fn fib_rule_hdr(family: u8, src_len: u8, table: u8, action: u8) -> [u8; 12] {
    let mut h = [0u8; 12];
    h[0] = family;
    h[2] = src_len;
    h[4] = table;
    h[7] = action;
    h
}

/// `struct ifinfomsg` selecting nothing by index.
pub fn ifinfomsg() -> [u8; IFINFOMSG_LEN] {
    let mut h = [0u8; IFINFOMSG_LEN];
    h[0] = libc::AF_UNSPEC as u8;
    h
}

pub fn ne_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub fn ne_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub fn ne_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// One message of a datagram from the kernel.
#[derive(Debug)]
pub struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// The messages of a datagram; `Err` on the first one whose length does
/// not fit.
pub fn messages(buf: &[u8]) -> impl Iterator<Item = Result<Message<'_>, &'static str>> {
    let mut at = 0usize;
    let mut broken = false;
    std::iter::from_fn(move || {
        if broken || at >= buf.len() {
            return None;
        }
        let rest = &buf[at..];
        let (Some(len), Some(kind), Some(flags), Some(seq)) =
            (ne_u32(rest, 0), ne_u16(rest, 4), ne_u16(rest, 6), ne_u32(rest, 8))
        else {
            broken = true;
            return Some(Err("truncated netlink header"));
        };
        let len = len as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            broken = true;
            return Some(Err("netlink message length out of bounds"));
        }
        at = at.saturating_add(align4(len));
        Some(Ok(Message { kind, flags, seq, payload: &rest[NLMSG_HDRLEN..len] }))
    })
}

/// The attributes in `buf`, as (type, payload); stops at the first one
/// that does not fit.
pub fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let rest = buf.get(at..)?;
        let len = ne_u16(rest, 0)? as usize;
        let kind = ne_u16(rest, 2)? & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > rest.len() {
            return None;
        }
        at = at.saturating_add(align4(len));
        Some((kind, &rest[NLA_HDRLEN..len]))
    })
}

/// An NLMSG_ERROR payload: the errno (positive, 0 for an ACK) and the
/// kernel's extended-ack message, if any.
pub fn parse_error(flags: u16, payload: &[u8]) -> Option<(i32, Option<String>)> {
    let error = ne_i32(payload, 0)?;
    let errno = error.checked_neg()?;
    let mut detail = None;
    if flags & NLM_F_ACK_TLVS != 0 {
        // struct nlmsgerr is the error and the request's header; the
        // request's payload follows unless the ACK was capped.
        let orig_len = ne_u32(payload, 4)? as usize;
        let tlvs = if flags & NLM_F_CAPPED != 0 { 4 + NLMSG_HDRLEN } else { 4 + align4(orig_len) };
        if let Some(tlvs) = payload.get(tlvs..) {
            detail = attrs(tlvs).find(|(k, _)| *k == NLMSGERR_ATTR_MSG).map(|(_, v)| {
                let v = v.split(|b| *b == 0).next().unwrap_or_default();
                String::from_utf8_lossy(v).into_owned()
            });
        }
    }
    Some((errno, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_message_parses_back() {
        let mut b = Builder::new(RTM_NEWROUTE, NLM_F_ACK);
        b.header(&rtmsg(2, 100, 4, 0, RTN_UNICAST, 0)).u32(RTA_TABLE, 100).begin(RTA_MULTIPATH);
        b.nexthop(RTNH_F_ONLINK, 1, 7, |b| {
            b.attr(RTA_GATEWAY, &[10, 0, 0, 1]);
        });
        b.end();
        let mut m = b.finish();
        set_seq(&mut m, 42);
        let msgs: Vec<_> = messages(&m).collect();
        assert_eq!(msgs.len(), 1);
        let msg = msgs[0].as_ref().unwrap();
        assert_eq!((msg.kind, msg.seq), (RTM_NEWROUTE, 42));
        let a: Vec<_> = attrs(&msg.payload[12..]).collect();
        assert_eq!(a[0], (RTA_TABLE, &100u32.to_ne_bytes()[..]));
        assert_eq!(a[1].0, RTA_MULTIPATH);
        let hop = a[1].1;
        assert_eq!(ne_u16(hop, 0), Some(16));
        assert_eq!((hop[2], hop[3], ne_u32(hop, 4)), (RTNH_F_ONLINK, 1, Some(7)));
        assert_eq!(attrs(&hop[8..]).next(), Some((RTA_GATEWAY, &[10u8, 0, 0, 1][..])));
    }

    #[test]
    fn parsing_never_reads_out_of_bounds() {
        // Lengths that lie, in messages and attributes, at every cut.
        let mut b = Builder::new(NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS);
        b.header(&(-22i32).to_ne_bytes()).header(&[16, 0, 0, 0, 24, 0, 5, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        b.attr(NLMSGERR_ATTR_MSG, b"bad thing\0");
        let m = b.finish();
        let msg = messages(&m).next().unwrap().unwrap();
        assert_eq!(parse_error(msg.flags, msg.payload), Some((22, Some("bad thing".into()))));
        for cut in 0..m.len() {
            for _ in messages(&m[..cut]) {}
            let _ = parse_error(NLM_F_ACK_TLVS, &m[NLMSG_HDRLEN.min(cut)..cut]);
            let _ = parse_error(NLM_F_ACK_TLVS | NLM_F_CAPPED, &m[NLMSG_HDRLEN.min(cut)..cut]);
            for _ in attrs(&m[..cut]) {}
        }
        let mut lying = m.clone();
        lying[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(messages(&lying).next().unwrap().is_err());
        lying[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(messages(&lying).next().unwrap().is_err());
        assert_eq!(parse_error(0, &i32::MIN.to_ne_bytes()), None);
        assert_eq!(attrs(&[0xff, 0xff, 1, 0, 0]).count(), 0);
        assert_eq!(attrs(&[2, 0, 1, 0]).count(), 0);
    }
}
