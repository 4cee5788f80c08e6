//! The `NETLINK_ROUTE` socket under the client and the watcher (netlink-sys),
//! and the messages of a datagram from the kernel (netlink-packet-core and
//! netlink-packet-route parse them; this module only walks the datagram and
//! reads the extended-ack text, which netlink-packet-core leaves unparsed).

#[cfg(not(target_os = "linux"))]
pub(super) use super::unsupported::{Socket, SocketAddr, NETLINK_ROUTE};
use netlink_packet_core::{
    parse_string, parse_u32, DecodeError, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NlasIterator, NLMSG_ALIGNTO,
    NLM_F_ACK_TLVS, NLM_F_CAPPED,
};
use netlink_packet_route::RouteNetlinkMessage;
#[cfg(target_os = "linux")]
pub(super) use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::io;
#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;

/// `NLMSGERR_ATTR_MSG`: the kernel's text in an extended ACK.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// `sizeof(struct nlmsghdr)`: what a capped ACK keeps of the request.
const NLMSG_HDRLEN: usize = 16;

/// Opens a socket in the calling thread's network namespace, bound to the
/// given multicast groups (none for a request socket). A socket stays in
/// the namespace it was opened in, whichever thread uses it later.
pub(super) fn open(groups: &[u32]) -> io::Result<Socket> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind(&SocketAddr::new(0, 0))?;
    for group in groups {
        socket.add_membership(*group)?;
    }
    Ok(socket)
}

/// Asks for a receive buffer of `bytes`: past `rmem_max` when the process
/// may (`SO_RCVBUFFORCE` needs CAP_NET_ADMIN), else as much as `SO_RCVBUF`
/// gives. The kernel doubles the value for its bookkeeping.
#[cfg(target_os = "linux")]
pub(super) fn set_receive_buffer(socket: &Socket, bytes: usize) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: `value` is a live c_int and the length passed is its size;
    // the kernel only reads that many bytes.
    let forced = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if forced == 0 {
        return Ok(());
    }
    socket.set_rx_buf_sz(value)
}

/// No netlink socket exists outside Linux (see `unsupported`).
#[cfg(not(target_os = "linux"))]
pub(super) fn set_receive_buffer(socket: &Socket, _bytes: usize) -> io::Result<()> {
    match *socket {}
}

/// Receives one datagram from the kernel into `buf` (resized to it, however
/// large); datagrams from anything but the kernel (port 0) are dropped.
/// `flags` may add `MSG_DONTWAIT`.
pub(super) fn receive(socket: &Socket, buf: &mut Vec<u8>, flags: libc::c_int) -> io::Result<()> {
    loop {
        buf.clear();
        // MSG_TRUNC makes the peek return the datagram's full size.
        let size = match socket.recv_from(buf, flags | libc::MSG_PEEK | libc::MSG_TRUNC) {
            Ok((size, _)) => size,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        buf.clear();
        buf.reserve(size);
        match socket.recv_from(buf, flags) {
            Ok((_, from)) if from.port_number() != 0 => continue,
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One message of a datagram.
pub(super) enum Message {
    Parsed(NetlinkMessage<RouteNetlinkMessage>),
    /// Its header is sound but not its payload (or the crate does not know
    /// its type); the caller skips it.
    Unparsed {
        header: NetlinkHeader,
        error: DecodeError,
    },
}

/// The messages of a datagram, in order; an `Err` (then the end) where a
/// length does not fit, after which nothing more can be framed.
pub(super) fn messages(datagram: &[u8]) -> impl Iterator<Item = io::Result<Message>> + '_ {
    let mut at = 0usize;
    std::iter::from_fn(move || {
        let rest = datagram.get(at..).filter(|r| !r.is_empty())?;
        let buffer = match NetlinkBuffer::new_checked(rest) {
            Ok(b) => b,
            Err(e) => {
                at = datagram.len();
                return Some(Err(io::Error::new(io::ErrorKind::InvalidData, format!("netlink: {e}"))));
            }
        };
        let len = buffer.length() as usize;
        let align = usize::from(NLMSG_ALIGNTO);
        at = at.saturating_add(len.div_ceil(align) * align);
        let bytes = &rest[..len];
        Some(Ok(match NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes) {
            Ok(message) => Message::Parsed(message),
            Err(error) => Message::Unparsed { header: header_of(&buffer), error },
        }))
    })
}

fn header_of(buffer: &NetlinkBuffer<&[u8]>) -> NetlinkHeader {
    let mut header = NetlinkHeader::default();
    header.length = buffer.length();
    header.message_type = buffer.message_type();
    header.flags = buffer.flags();
    header.sequence_number = buffer.sequence_number();
    header.port_number = buffer.port_number();
    header
}

/// The kernel's extended-ack text in an `NLMSG_ERROR`, given the message's
/// flags and what follows the error code (the request's header, its payload
/// unless the ACK was capped, then attributes).
pub(super) fn ack_text(flags: u16, after_code: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let request_len = parse_u32(after_code.get(..4)?).ok()? as usize;
    let skip = if flags & NLM_F_CAPPED != 0 { NLMSG_HDRLEN } else { request_len.checked_next_multiple_of(4)? };
    let attributes = after_code.get(skip..)?;
    let text = NlasIterator::new(attributes).map_while(Result::ok).find(|nla| nla.kind() == NLMSGERR_ATTR_MSG)?;
    parse_string(text.value()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = ((4 + value.len()) as u16).to_ne_bytes().to_vec();
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize(out.len().next_multiple_of(4), 0);
        out
    }

    #[test]
    fn ack_text_reads_capped_and_full_acks_and_never_overreads() {
        // A capped ACK: the request's 16-byte header, then the attributes.
        let mut capped = 36u32.to_ne_bytes().to_vec();
        capped.resize(NLMSG_HDRLEN, 0);
        capped.extend(nla(NLMSGERR_ATTR_MSG, b"bad thing\0"));
        assert_eq!(ack_text(NLM_F_ACK_TLVS | NLM_F_CAPPED, &capped).as_deref(), Some("bad thing"));
        assert_eq!(ack_text(NLM_F_CAPPED, &capped), None, "no TLVs flag, no text");
        // A full ACK: the whole 22-byte request (padded to 24) first.
        let mut full = 22u32.to_ne_bytes().to_vec();
        full.resize(24, 0);
        full.extend(nla(3, &7u32.to_ne_bytes()));
        full.extend(nla(NLMSGERR_ATTR_MSG, b"why\0"));
        assert_eq!(ack_text(NLM_F_ACK_TLVS, &full).as_deref(), Some("why"));
        for cut in 0..full.len() {
            let _ = ack_text(NLM_F_ACK_TLVS, &full[..cut]);
            let _ = ack_text(NLM_F_ACK_TLVS | NLM_F_CAPPED, &capped[..cut.min(capped.len())]);
        }
        let lying = u32::MAX.to_ne_bytes();
        assert_eq!(ack_text(NLM_F_ACK_TLVS, &lying), None);
    }

    #[test]
    fn datagrams_that_lie_about_lengths_end_in_an_error() {
        // An NLMSG_DONE, then a header claiming more than there is.
        let mut datagram = 20u32.to_ne_bytes().to_vec();
        datagram.extend_from_slice(&3u16.to_ne_bytes());
        datagram.extend_from_slice(&[0; 14]);
        let mut lying = 1000u32.to_ne_bytes().to_vec();
        lying.resize(20, 0);
        datagram.extend(lying);
        let got: Vec<_> = messages(&datagram).collect();
        assert_eq!(got.len(), 2);
        assert!(matches!(got[0], Ok(Message::Parsed(_))));
        assert!(got[1].is_err());
        for cut in 0..datagram.len() {
            for _ in messages(&datagram[..cut]) {}
        }
        // An RTM_NEWLINK too short for its header is skipped, not fatal.
        let mut short = 20u32.to_ne_bytes().to_vec();
        short.extend_from_slice(&16u16.to_ne_bytes());
        short.extend_from_slice(&[0; 14]);
        assert!(matches!(messages(&short).next(), Some(Ok(Message::Unparsed { .. }))));
    }
}
