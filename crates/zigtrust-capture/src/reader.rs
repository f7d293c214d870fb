//! Streaming pcap/pcapng reader.
//!
//! The reader holds one record's bytes at a time (in a reused buffer) plus the pcapng interface
//! table, so memory does not grow with the file. All lengths come from the file and are
//! untrusted: each is bounded by [`MAX_RECORD_LEN`] and data is only ever read, never
//! preallocated, up to the declared size.

use crate::error::{CaptureError, CaptureErrorKind as K};
use crate::link::{decode_packet, LinkType};
use crate::{CaptureRecord, RecordContent, SkipReason, Timestamp};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// Largest pcap record or pcapng block accepted; anything bigger is taken as corruption.
pub const MAX_RECORD_LEN: u32 = 64 * 1024 * 1024;
/// Bound on the pcapng interface table, which is the only state that grows with input.
const MAX_INTERFACES: usize = 65_536;
/// Buffers grown beyond this by an unusually large record are released afterwards.
const KEEP_BUFFER: usize = 1 << 20;

const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_OPB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
/// Blocks that Wireshark turns into frames of their own (checked with tshark 4.0 for Custom
/// Blocks), so they must count in the numbering even though they carry no packet.
const PCAPNG_NUMBERED_NON_PACKET: [u32; 3] = [0x0000_0009, 0x0000_0bad, 0x4000_0bad];

/// Byte order of a pcap file or pcapng section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        match self {
            ByteOrder::Little => u16::from_le_bytes(a),
            ByteOrder::Big => u16::from_be_bytes(a),
        }
    }
    fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        match self {
            ByteOrder::Little => u32::from_le_bytes(a),
            ByteOrder::Big => u32::from_be_bytes(a),
        }
    }
}

/// Which container format the reader detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaptureFormat {
    /// Classic libpcap format.
    Pcap {
        byte_order: ByteOrder,
        /// Magic `a1b23c4d`: the fraction field counts nanoseconds instead of microseconds.
        nanosecond: bool,
        version: (u16, u16),
        snaplen: u32,
        link_type: LinkType,
    },
    /// pcapng; the fields describe the current section.
    PcapNg { byte_order: ByteOrder, version: (u16, u16) },
}

/// Units of a pcapng timestamp (`if_tsresol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TsResolution {
    /// Units of 10^-n seconds (6 = microseconds, the default).
    Decimal(u8),
    /// Units of 2^-n seconds.
    Binary(u8),
}

impl TsResolution {
    fn from_option(v: u8) -> TsResolution {
        if v & 0x80 != 0 {
            TsResolution::Binary(v & 0x7f)
        } else {
            TsResolution::Decimal(v)
        }
    }

    /// Splits a timestamp in these units into seconds and nanoseconds.
    fn split(self, ts: u64) -> (u64, u32) {
        let ts = u128::from(ts);
        match self {
            TsResolution::Decimal(n) => match 10u128.checked_pow(u32::from(n)) {
                // ts < 2^64 < 10^20, so any larger divisor leaves only sub-nanosecond time.
                Some(div) => {
                    let secs = ts / div;
                    let nanos = (ts % div) * 1_000_000_000 / div;
                    (secs as u64, nanos as u32)
                }
                None => (0, 0),
            },
            TsResolution::Binary(n) => {
                let n = u32::from(n);
                let secs = ts.checked_shr(n).unwrap_or(0);
                let frac = ts - (secs << n);
                // frac < 2^64, so frac * 10^9 < 2^94 fits.
                let nanos = (frac * 1_000_000_000) >> n;
                (secs as u64, nanos as u32)
            }
        }
    }
}

/// One capture interface: the whole file for classic pcap, an IDB for pcapng.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub link_type: LinkType,
    pub snaplen: u32,
    pub ts_resolution: TsResolution,
    /// `if_tsoffset`: seconds added to every timestamp.
    pub ts_offset: i64,
    /// `if_name`, if given.
    pub name: Option<String>,
}

/// Byte source that knows its position, for error offsets.
struct Source<R: Read> {
    inner: BufReader<R>,
    pos: u64,
}

impl<R: Read> Source<R> {
    /// Reads until `buf` is full or the input ends; returns how many bytes were read.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.inner.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pos += n as u64;
        Ok(n)
    }

    /// Replaces `out` with up to `n` bytes; returns how many were available. Grows `out` only
    /// as data actually arrives, so a lying length cannot force a huge allocation.
    fn read_into(&mut self, n: u64, out: &mut Vec<u8>) -> io::Result<u64> {
        out.clear();
        let got = (&mut self.inner).take(n).read_to_end(out)? as u64;
        self.pos += got;
        Ok(got)
    }

    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let got = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        self.pos += got;
        Ok(got)
    }
}

/// Streaming reader over a pcap or pcapng capture; see the crate docs.
///
/// Iterating yields one item per packet record. An `Err` is always the last item.
pub struct CaptureReader<R: Read> {
    src: Source<R>,
    format: CaptureFormat,
    interfaces: Vec<InterfaceInfo>,
    records: u64,
    buf: Vec<u8>,
    done: bool,
}

impl CaptureReader<File> {
    /// Opens a file and reads its header.
    pub fn open(path: impl AsRef<Path>) -> Result<CaptureReader<File>, CaptureError> {
        let f = File::open(path).map_err(|e| CaptureError::new(0, K::Io(e)))?;
        CaptureReader::new(f)
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header (pcap) or first Section Header Block (pcapng) and detects the
    /// format. A classic pcap whose link type cannot carry 802.15.4 is rejected here.
    pub fn new(reader: R) -> Result<CaptureReader<R>, CaptureError> {
        let mut src = Source { inner: BufReader::new(reader), pos: 0 };
        let io_err = |e| CaptureError::new(0, K::Io(e));
        let mut magic = [0u8; 4];
        let n = src.fill(&mut magic).map_err(io_err)?;
        if n < 4 {
            return Err(CaptureError::new(
                0,
                K::TruncatedFileHeader { needed: 4, available: n as u64 },
            ));
        }
        let pcap = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] => Some((ByteOrder::Little, false)),
            [0xa1, 0xb2, 0xc3, 0xd4] => Some((ByteOrder::Big, false)),
            [0x4d, 0x3c, 0xb2, 0xa1] => Some((ByteOrder::Little, true)),
            [0xa1, 0xb2, 0x3c, 0x4d] => Some((ByteOrder::Big, true)),
            _ => None,
        };
        let mut me = CaptureReader {
            src,
            // Placeholder until the header is parsed below.
            format: CaptureFormat::PcapNg { byte_order: ByteOrder::Little, version: (0, 0) },
            interfaces: Vec::new(),
            records: 0,
            buf: Vec::new(),
            done: false,
        };
        if let Some((byte_order, nanosecond)) = pcap {
            me.read_pcap_header(byte_order, nanosecond)?;
        } else if u32::from_be_bytes(magic) == PCAPNG_SHB {
            let mut len = [0u8; 4];
            let n = me.src.fill(&mut len).map_err(io_err)?;
            if n < 4 {
                return Err(CaptureError::new(
                    0,
                    K::TruncatedFileHeader { needed: 28, available: 4 + n as u64 },
                ));
            }
            me.read_shb_rest(0, len)?;
        } else {
            return Err(CaptureError::new(0, K::NotACapture { magic: u32::from_be_bytes(magic) }));
        }
        Ok(me)
    }

    /// The detected format (for pcapng: of the section being read).
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Interfaces known so far: the single pcap link type, or the IDBs of the current pcapng
    /// section seen up to the last record returned.
    pub fn interfaces(&self) -> &[InterfaceInfo] {
        &self.interfaces
    }

    /// Byte offset of the next unread byte.
    pub fn position(&self) -> u64 {
        self.src.pos
    }

    fn read_pcap_header(&mut self, order: ByteOrder, nanosecond: bool) -> Result<(), CaptureError> {
        let mut h = [0u8; 20];
        let n = self.src.fill(&mut h).map_err(|e| CaptureError::new(0, K::Io(e)))?;
        if n < h.len() {
            return Err(CaptureError::new(
                0,
                K::TruncatedFileHeader { needed: 24, available: 4 + n as u64 },
            ));
        }
        let version = (order.u16(&h[0..]), order.u16(&h[2..]));
        if version.0 != 2 {
            return Err(CaptureError::new(
                4,
                K::UnsupportedVersion { major: version.0, minor: version.1 },
            ));
        }
        let snaplen = order.u32(&h[12..]);
        // The upper 16 bits of the link-type field hold FCS-length flags, not the type.
        let network = order.u32(&h[16..]);
        let link_type = LinkType((network & 0xffff) as u16);
        if !link_type.is_supported() {
            return Err(CaptureError::new(20, K::UnsupportedLinkType(network & 0xffff)));
        }
        self.format =
            CaptureFormat::Pcap { byte_order: order, nanosecond, version, snaplen, link_type };
        self.interfaces.push(InterfaceInfo {
            link_type,
            snaplen,
            ts_resolution: TsResolution::Decimal(if nanosecond { 9 } else { 6 }),
            ts_offset: 0,
            name: None,
        });
        Ok(())
    }

    fn next_record(&mut self) -> Result<Option<CaptureRecord>, CaptureError> {
        let result = match self.format {
            CaptureFormat::Pcap { byte_order, nanosecond, link_type, .. } => {
                self.next_pcap(byte_order, nanosecond, link_type)
            }
            CaptureFormat::PcapNg { .. } => self.next_pcapng(),
        };
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::new();
        }
        result
    }

    fn record(
        &mut self,
        offset: u64,
        timestamp: Timestamp,
        interface: u32,
        original_len: u32,
        content: RecordContent,
    ) -> CaptureRecord {
        self.records += 1;
        CaptureRecord { number: self.records, timestamp, offset, interface, original_len, content }
    }

    fn next_pcap(
        &mut self,
        order: ByteOrder,
        nanosecond: bool,
        link_type: LinkType,
    ) -> Result<Option<CaptureRecord>, CaptureError> {
        let start = self.src.pos;
        let io_err = |e| CaptureError::new(start, K::Io(e));
        let mut h = [0u8; 16];
        let n = self.src.fill(&mut h).map_err(io_err)?;
        if n == 0 {
            return Ok(None);
        }
        if n < h.len() {
            return Err(CaptureError::new(
                start,
                K::TruncatedRecordHeader { needed: 16, available: n as u64 },
            ));
        }
        let secs = order.u32(&h[0..]);
        let frac = u64::from(order.u32(&h[4..]));
        let caplen = order.u32(&h[8..]);
        let origlen = order.u32(&h[12..]);
        if caplen > MAX_RECORD_LEN {
            return Err(CaptureError::new(start, K::RecordTooLarge { len: caplen.into() }));
        }
        let got = self.src.read_into(caplen.into(), &mut self.buf).map_err(io_err)?;
        if got < u64::from(caplen) {
            return Err(CaptureError::new(
                start,
                K::TruncatedRecord { declared: caplen.into(), available: got },
            ));
        }
        let frac_ns = if nanosecond { frac } else { frac * 1000 };
        let timestamp = Timestamp {
            secs: i64::from(secs) + (frac_ns / 1_000_000_000) as i64,
            nanos: (frac_ns % 1_000_000_000) as u32,
        };
        let content = packet_content(link_type, &self.buf, caplen, origlen);
        Ok(Some(self.record(start, timestamp, 0, origlen, content)))
    }

    /// Reads the rest of a Section Header Block whose type and length bytes were consumed.
    fn read_shb_rest(&mut self, start: u64, len_bytes: [u8; 4]) -> Result<(), CaptureError> {
        let io_err = |e| CaptureError::new(start, K::Io(e));
        let mut bom = [0u8; 4];
        let n = self.src.fill(&mut bom).map_err(io_err)?;
        if n < 4 {
            return Err(CaptureError::new(
                start,
                K::TruncatedBlock { declared: 28, available: 8 + n as u64 },
            ));
        }
        let order = if u32::from_le_bytes(bom) == BYTE_ORDER_MAGIC {
            ByteOrder::Little
        } else if u32::from_be_bytes(bom) == BYTE_ORDER_MAGIC {
            ByteOrder::Big
        } else {
            return Err(CaptureError::new(
                start,
                K::BadByteOrderMagic { magic: u32::from_be_bytes(bom) },
            ));
        };
        let len = order.u32(&len_bytes);
        if len < 28 || len % 4 != 0 {
            return Err(CaptureError::new(start, K::InvalidBlockLength { len }));
        }
        if len > MAX_RECORD_LEN {
            return Err(CaptureError::new(start, K::RecordTooLarge { len: len.into() }));
        }
        let rest = u64::from(len - 12);
        let got = self.src.read_into(rest, &mut self.buf).map_err(io_err)?;
        if got < rest {
            return Err(CaptureError::new(
                start,
                K::TruncatedBlock { declared: len.into(), available: 12 + got },
            ));
        }
        let b = &self.buf;
        let trailing = order.u32(&b[b.len() - 4..]);
        if trailing != len {
            return Err(CaptureError::new(
                start,
                K::BlockLengthMismatch { leading: len, trailing },
            ));
        }
        let version = (order.u16(&b[0..]), order.u16(&b[2..]));
        if version.0 != 1 {
            return Err(CaptureError::new(
                start,
                K::UnsupportedVersion { major: version.0, minor: version.1 },
            ));
        }
        // A new section starts a new interface numbering.
        self.interfaces.clear();
        self.format = CaptureFormat::PcapNg { byte_order: order, version };
        Ok(())
    }

    fn next_pcapng(&mut self) -> Result<Option<CaptureRecord>, CaptureError> {
        loop {
            let (CaptureFormat::PcapNg { byte_order: order, .. }
            | CaptureFormat::Pcap { byte_order: order, .. }) = self.format;
            let start = self.src.pos;
            let io_err = |e| CaptureError::new(start, K::Io(e));
            let mut h = [0u8; 8];
            let n = self.src.fill(&mut h).map_err(io_err)?;
            if n == 0 {
                return Ok(None);
            }
            if n < h.len() {
                return Err(CaptureError::new(
                    start,
                    K::TruncatedBlock { declared: 12, available: n as u64 },
                ));
            }
            let block_type = order.u32(&h[0..]);
            if block_type == PCAPNG_SHB {
                self.read_shb_rest(start, [h[4], h[5], h[6], h[7]])?;
                continue;
            }
            let len = order.u32(&h[4..]);
            if len < 12 || len % 4 != 0 {
                return Err(CaptureError::new(start, K::InvalidBlockLength { len }));
            }
            if len > MAX_RECORD_LEN {
                return Err(CaptureError::new(start, K::RecordTooLarge { len: len.into() }));
            }
            let rest = u64::from(len - 8);
            let body_len = (len - 12) as usize;
            let interesting =
                matches!(block_type, PCAPNG_IDB | PCAPNG_EPB | PCAPNG_SPB | PCAPNG_OPB);
            let got = if interesting {
                self.src.read_into(rest, &mut self.buf).map_err(io_err)?
            } else {
                // Only the framing of other blocks matters; their bodies are not kept.
                let skipped = self.src.skip(rest - 4).map_err(io_err)?;
                let mut t = [0u8; 4];
                let n = self.src.fill(&mut t).map_err(io_err)?;
                self.buf.clear();
                self.buf.extend_from_slice(&t[..n]);
                skipped + n as u64
            };
            if got < rest {
                return Err(CaptureError::new(
                    start,
                    K::TruncatedBlock { declared: len.into(), available: 8 + got },
                ));
            }
            let trailing = order.u32(&self.buf[self.buf.len() - 4..]);
            if trailing != len {
                return Err(CaptureError::new(
                    start,
                    K::BlockLengthMismatch { leading: len, trailing },
                ));
            }
            let buf = std::mem::take(&mut self.buf);
            let body = &buf[..if interesting { body_len } else { 0 }];
            let out = match block_type {
                PCAPNG_IDB => self.add_interface(start, order, body).map(|()| None),
                PCAPNG_EPB | PCAPNG_OPB => {
                    Ok(Some(self.packet_block(start, order, block_type, body)))
                }
                PCAPNG_SPB => Ok(Some(self.simple_packet(start, order, body))),
                t if PCAPNG_NUMBERED_NON_PACKET.contains(&t) => {
                    let c = RecordContent::Skipped(SkipReason::NonPacketBlock { block_type: t });
                    Ok(Some(self.record(start, Timestamp::default(), 0, 0, c)))
                }
                // Name resolution, statistics, decryption secrets...: not frames.
                _ => Ok(None),
            };
            self.buf = buf;
            if let Some(rec) = out? {
                return Ok(Some(rec));
            }
        }
    }

    fn add_interface(
        &mut self,
        start: u64,
        order: ByteOrder,
        body: &[u8],
    ) -> Result<(), CaptureError> {
        if body.len() < 8 {
            return Err(CaptureError::new(
                start,
                K::MalformedBlock { what: "interface description block shorter than 8 bytes" },
            ));
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(CaptureError::new(
                start,
                K::MalformedBlock { what: "more than 65536 interfaces in one section" },
            ));
        }
        let mut iface = InterfaceInfo {
            link_type: LinkType(order.u16(&body[0..])),
            snaplen: order.u32(&body[4..]),
            ts_resolution: TsResolution::Decimal(6),
            ts_offset: 0,
            name: None,
        };
        for_each_option(order, &body[8..], |code, value| match (code, value) {
            (2, _) => iface.name = Some(String::from_utf8_lossy(value).into_owned()),
            (9, [v, ..]) => iface.ts_resolution = TsResolution::from_option(*v),
            (14, [a, b, c, d, e, f, g, h, ..]) => {
                let bytes = [*a, *b, *c, *d, *e, *f, *g, *h];
                iface.ts_offset = match order {
                    ByteOrder::Little => i64::from_le_bytes(bytes),
                    ByteOrder::Big => i64::from_be_bytes(bytes),
                };
            }
            _ => {}
        });
        self.interfaces.push(iface);
        Ok(())
    }

    fn timestamp(&self, iface: &InterfaceInfo, hi: u32, lo: u32) -> Timestamp {
        let (secs, nanos) = iface.ts_resolution.split((u64::from(hi) << 32) | u64::from(lo));
        Timestamp {
            secs: i64::try_from(secs).unwrap_or(i64::MAX).saturating_add(iface.ts_offset),
            nanos,
        }
    }

    /// Enhanced (type 6) or obsolete (type 2) Packet Block. Malformed contents become a skipped
    /// record: the block framing is intact, so reading can go on.
    fn packet_block(
        &mut self,
        start: u64,
        order: ByteOrder,
        block_type: u32,
        body: &[u8],
    ) -> CaptureRecord {
        let bad = |what| {
            RecordContent::Skipped(SkipReason::Malformed { layer: "pcapng packet block", what })
        };
        if body.len() < 20 {
            return self.record(
                start,
                Timestamp::default(),
                0,
                0,
                bad("shorter than its fixed fields"),
            );
        }
        let interface = if block_type == PCAPNG_OPB {
            u32::from(order.u16(&body[0..]))
        } else {
            order.u32(&body[0..])
        };
        let (hi, lo) = (order.u32(&body[4..]), order.u32(&body[8..]));
        let caplen = order.u32(&body[12..]);
        let origlen = order.u32(&body[16..]);
        let Some(iface) = self.interfaces.get(interface as usize) else {
            let c = RecordContent::Skipped(SkipReason::UnknownInterface(interface));
            return self.record(start, Timestamp::default(), interface, origlen, c);
        };
        let timestamp = self.timestamp(iface, hi, lo);
        let link_type = iface.link_type;
        let content = match body[20..].get(..caplen as usize) {
            Some(data) => packet_content(link_type, data, caplen, origlen),
            None => bad("captured length beyond the block"),
        };
        self.record(start, timestamp, interface, origlen, content)
    }

    fn simple_packet(&mut self, start: u64, order: ByteOrder, body: &[u8]) -> CaptureRecord {
        if body.len() < 4 {
            let c = RecordContent::Skipped(SkipReason::Malformed {
                layer: "pcapng simple packet block",
                what: "shorter than its fixed fields",
            });
            return self.record(start, Timestamp::default(), 0, 0, c);
        }
        let origlen = order.u32(body);
        let Some(iface) = self.interfaces.first() else {
            let c = RecordContent::Skipped(SkipReason::UnknownInterface(0));
            return self.record(start, Timestamp::default(), 0, origlen, c);
        };
        // The block holds no captured length: it is the original length cut to the snaplen.
        let mut caplen = (body.len() - 4).min(origlen as usize);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen as usize);
        }
        let content = packet_content(iface.link_type, &body[4..4 + caplen], caplen as u32, origlen);
        self.record(start, Timestamp::default(), 0, origlen, content)
    }
}

fn packet_content(link_type: LinkType, data: &[u8], caplen: u32, origlen: u32) -> RecordContent {
    if caplen < origlen {
        return RecordContent::Skipped(SkipReason::SnapTruncated {
            captured: caplen,
            original: origlen,
        });
    }
    decode_packet(link_type, data)
}

/// Calls `f(code, value)` for each pcapng option until `opt_endofopt` or the data runs out.
fn for_each_option(order: ByteOrder, mut data: &[u8], mut f: impl FnMut(u16, &[u8])) {
    while data.len() >= 4 {
        let code = order.u16(&data[0..]);
        let len = usize::from(order.u16(&data[2..]));
        if code == 0 {
            break;
        }
        let Some(value) = data.get(4..4 + len) else {
            break;
        };
        f(code, value);
        data = data.get((4 + len + 3) & !3..).unwrap_or(&[]);
    }
}

impl<R: Read> Iterator for CaptureReader<R> {
    type Item = Result<CaptureRecord, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_record() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<R: Read> std::iter::FusedIterator for CaptureReader<R> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_resolutions() {
        assert_eq!(TsResolution::Decimal(6).split(1_500_000), (1, 500_000_000));
        assert_eq!(TsResolution::Decimal(9).split(2_000_000_001), (2, 1));
        assert_eq!(TsResolution::Decimal(0).split(7), (7, 0));
        assert_eq!(TsResolution::Decimal(12).split(1_000_000_000_500), (1, 0));
        assert_eq!(TsResolution::Decimal(127).split(u64::MAX), (0, 0));
        assert_eq!(TsResolution::Binary(10).split(1024 + 512), (1, 500_000_000));
        assert_eq!(TsResolution::Binary(127).split(u64::MAX), (0, 0));
        assert_eq!(TsResolution::Binary(0).split(u64::MAX), (u64::MAX, 0));
        assert_eq!(TsResolution::from_option(0x8a), TsResolution::Binary(10));
    }

    #[test]
    fn options_walk_stops_safely() {
        let mut seen = Vec::new();
        let data =
            [9, 0, 1, 0, 9, 0, 0, 0, 2, 0, 3, 0, b'a', b'b', b'c', 0, 0, 0, 0, 0, 5, 0, 1, 0];
        for_each_option(ByteOrder::Little, &data, |c, v| seen.push((c, v.to_vec())));
        assert_eq!(seen, vec![(9, vec![9]), (2, b"abc".to_vec())]);
        seen.clear();
        for_each_option(ByteOrder::Little, &[2, 0, 200, 0, 1], |c, v| seen.push((c, v.to_vec())));
        assert!(seen.is_empty());
    }

    #[test]
    fn error_messages() {
        let r = CaptureReader::new(&b"\x01\x02\x03\x04rest"[..]);
        assert_eq!(
            r.err().unwrap().to_string(),
            "at byte offset 0: not a pcap or pcapng file (magic 0x01020304)"
        );
        let mut h = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&65535u32.to_le_bytes());
        h.extend_from_slice(&105u32.to_le_bytes());
        let r = CaptureReader::new(&h[..]);
        assert_eq!(r.err().unwrap().to_string(), "at byte offset 20: unsupported link type 105");
    }
}
