//! IEEE 802.15.4 MAC frames. (Frame parsing/emit: in progress.)

/// CRC-16/KERMIT (the 802.15.4 "ITU-T CRC-16"): reflected 0x1021, init 0, no xorout.
/// Sent little-endian after the MAC payload.
pub fn fcs(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= b as u16;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0x8408 } else { crc >> 1 };
        }
    }
    crc
}

/// Checks the trailing 2-byte FCS of a PSDU and returns the frame without it.
pub fn strip_fcs(psdu: &[u8]) -> crate::Result<&[u8]> {
    if psdu.len() < 2 {
        return Err(crate::Error::Truncated { what: "FCS" });
    }
    let (frame, tail) = psdu.split_at(psdu.len() - 2);
    let received = u16::from_le_bytes([tail[0], tail[1]]);
    let computed = fcs(frame);
    if computed != received {
        return Err(crate::Error::BadFcs { computed, received });
    }
    Ok(frame)
}

/// Appends the FCS of `frame` (little-endian) to it.
pub fn append_fcs(frame: &mut Vec<u8>) {
    let f = fcs(frame);
    frame.extend_from_slice(&f.to_le_bytes());
}

#[cfg(test)]
mod fcs_tests {
    use super::*;

    #[test]
    fn kermit_check_value_and_notes_vector() {
        assert_eq!(fcs(b"123456789"), 0x2189);
        // zigbee-notes §5.8: PSDU whose FCS is E0 34.
        let psdu = zigtrust_crypto::decode_hex_loose(
            "618801621a000034124802000034121e42280100000004030201004b120000cbac548854610a91480429573efb97e034",
        )
        .unwrap();
        assert_eq!(strip_fcs(&psdu).unwrap().len(), psdu.len() - 2);
        let mut bad = psdu.clone();
        bad[3] ^= 1;
        assert!(matches!(strip_fcs(&bad), Err(crate::Error::BadFcs { .. })));
    }
}
