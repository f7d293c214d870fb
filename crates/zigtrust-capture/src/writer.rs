//! Classic pcap writer for 802.15.4 frames (link type 195), the format every tool reads.

use crate::Timestamp;
use std::io::{self, Write};

/// Snap length written in the header; far above the 127-byte 802.15.4 PSDU.
const SNAPLEN: u32 = 65_535;

/// Writes a microsecond, little-endian classic pcap with link type 195 (frames with FCS).
pub struct PcapWriter<W: Write> {
    w: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut w: W) -> io::Result<PcapWriter<W>> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        h.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        h.extend_from_slice(&SNAPLEN.to_le_bytes());
        h.extend_from_slice(&195u32.to_le_bytes());
        w.write_all(&h)?;
        Ok(PcapWriter { w })
    }

    /// Appends a MAC frame (given without FCS) followed by its correct FCS.
    pub fn write_frame(&mut self, ts: Timestamp, mac_frame: &[u8]) -> io::Result<()> {
        let mut psdu = Vec::with_capacity(mac_frame.len() + 2);
        psdu.extend_from_slice(mac_frame);
        zigtrust_wire::mac::append_fcs(&mut psdu);
        self.write_psdu_raw(ts, &psdu)
    }

    /// Appends bytes exactly as given, FCS included; lets tests produce frames with a bad FCS.
    pub fn write_psdu_raw(&mut self, ts: Timestamp, psdu_with_fcs: &[u8]) -> io::Result<()> {
        let invalid = |msg: &str| io::Error::new(io::ErrorKind::InvalidInput, msg.to_string());
        let secs = u32::try_from(ts.secs)
            .map_err(|_| invalid("timestamp outside the pcap range (1970..2106)"))?;
        if ts.nanos >= 1_000_000_000 {
            return Err(invalid("timestamp nanoseconds must be below 10^9"));
        }
        let len = u32::try_from(psdu_with_fcs.len())
            .ok()
            .filter(|&l| l <= SNAPLEN)
            .ok_or_else(|| invalid("record longer than the 65535-byte snap length"))?;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&(ts.nanos / 1000).to_le_bytes());
        h[8..12].copy_from_slice(&len.to_le_bytes());
        h[12..16].copy_from_slice(&len.to_le_bytes());
        self.w.write_all(&h)?;
        self.w.write_all(psdu_with_fcs)
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }

    /// Returns the underlying writer without flushing.
    pub fn into_inner(self) -> W {
        self.w
    }

    pub fn get_ref(&self) -> &W {
        &self.w
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaptureReader, FcsStatus};

    #[test]
    fn round_trip_and_bad_fcs() {
        let mac = [0x41u8, 0x88, 0x01, 0x62, 0x1a, 0xff, 0xff, 0x00, 0x00];
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_frame(Timestamp::new(1_700_000_000, 123_456_789), &mac).unwrap();
        w.write_psdu_raw(Timestamp::new(5, 0), &[1, 2, 3, 4]).unwrap();
        assert!(w.write_frame(Timestamp::new(-1, 0), &mac).is_err());
        let bytes = w.finish().unwrap();
        let recs: Vec<_> = CaptureReader::new(&bytes[..]).unwrap().map(Result::unwrap).collect();
        assert_eq!(recs.len(), 2);
        let f = recs[0].frame().unwrap();
        assert_eq!((f.psdu.as_slice(), f.fcs), (&mac[..], FcsStatus::Ok));
        // Microsecond precision: the nanoseconds below 1 µs are dropped.
        assert_eq!(recs[0].timestamp, Timestamp::new(1_700_000_000, 123_456_000));
        assert!(matches!(recs[1].frame().unwrap().fcs, FcsStatus::Bad { .. }));
    }
}
