//! Address types shared by every layer.

use core::fmt;
use core::str::FromStr;

/// An IEEE (EUI-64) extended address. The value is in display order (`00:12:4b:00:01:02:03:04`
/// is `0x00124b0001020304`); over the air it travels little-endian.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ExtAddr(pub u64);

impl ExtAddr {
    /// The all-ones extended address `ff:ff:ff:ff:ff:ff:ff:ff` (broadcast / "no address").
    pub const BROADCAST: ExtAddr = ExtAddr(u64::MAX);
    /// The all-zeros extended address (unset / unknown IEEE address).
    pub const ZERO: ExtAddr = ExtAddr(0);

    /// From the 8 over-the-air bytes (little-endian).
    pub fn from_le_bytes(b: [u8; 8]) -> ExtAddr {
        ExtAddr(u64::from_le_bytes(b))
    }
    /// The 8 over-the-air bytes (little-endian), as used in frames and in the CCM* nonce.
    pub fn to_le_bytes(self) -> [u8; 8] {
        self.0.to_le_bytes()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Display for ExtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Hand-rolled: decoders print millions of these and `write!` with padding is slow.
        let mut buf = [b':'; 23];
        for (i, b) in self.0.to_be_bytes().iter().enumerate() {
            buf[i * 3] = HEX[(b >> 4) as usize];
            buf[i * 3 + 1] = HEX[(b & 15) as usize];
        }
        f.write_str(core::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ExtAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExtAddr({self})")
    }
}

/// Error for [`ExtAddr::from_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtAddrParseError(pub String);

impl fmt::Display for ExtAddrParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not an IEEE address (16 hex digits, separators allowed)", self.0)
    }
}

impl std::error::Error for ExtAddrParseError {}

impl FromStr for ExtAddr {
    type Err = ExtAddrParseError;
    /// Accepts `00:12:4b:00:01:02:03:04`, `00124b0001020304`, `0x00124b0001020304`, dashes.
    fn from_str(s: &str) -> Result<ExtAddr, ExtAddrParseError> {
        let t = s.trim();
        let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
        let bytes =
            zigtrust_crypto::decode_hex_loose(t).map_err(|_| ExtAddrParseError(s.to_string()))?;
        let arr: [u8; 8] = bytes.try_into().map_err(|_| ExtAddrParseError(s.to_string()))?;
        Ok(ExtAddr(u64::from_be_bytes(arr)))
    }
}

/// A 16-bit short (network) address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ShortAddr(pub u16);

impl ShortAddr {
    /// MAC/NWK broadcast to all devices.
    pub const BROADCAST: ShortAddr = ShortAddr(0xffff);
    /// NWK broadcast to devices with rx-on-when-idle.
    pub const RX_ON_WHEN_IDLE: ShortAddr = ShortAddr(0xfffd);
    /// NWK broadcast to routers and the coordinator.
    pub const ROUTERS: ShortAddr = ShortAddr(0xfffc);
    /// NWK broadcast to low-power routers.
    pub const LOW_POWER_ROUTERS: ShortAddr = ShortAddr(0xfffb);
    /// The coordinator / Trust Center.
    pub const COORDINATOR: ShortAddr = ShortAddr(0x0000);

    /// Whether this is one of the NWK/MAC broadcast addresses (`0xfff8`–`0xffff`).
    pub fn is_broadcast(self) -> bool {
        self.0 >= 0xfff8
    }
}

impl fmt::Display for ShortAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(hex16(self.0, &mut [0; 6]))
    }
}

/// `0x%04x` without the formatting machinery (hot in decoders).
fn hex16(v: u16, buf: &mut [u8; 6]) -> &str {
    buf[0] = b'0';
    buf[1] = b'x';
    for i in 0..4 {
        buf[2 + i] = HEX[((v >> (12 - 4 * i)) & 15) as usize];
    }
    core::str::from_utf8(buf).unwrap_or("0x????")
}

impl fmt::Debug for ShortAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShortAddr({self})")
    }
}

/// An 802.15.4 PAN identifier.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PanId(pub u16);

impl PanId {
    /// The broadcast PAN identifier `0xffff`.
    pub const BROADCAST: PanId = PanId(0xffff);
}

impl fmt::Display for PanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(hex16(self.0, &mut [0; 6]))
    }
}

impl fmt::Debug for PanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PanId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_addr_orders() {
        let a: ExtAddr = "00:12:4b:00:01:02:03:04".parse().unwrap();
        assert_eq!(a, ExtAddr(0x0012_4b00_0102_0304));
        assert_eq!(a.to_le_bytes(), [4, 3, 2, 1, 0, 0x4b, 0x12, 0]);
        assert_eq!(a.to_string(), "00:12:4b:00:01:02:03:04");
        assert_eq!(ExtAddr(u64::MAX).to_string(), "ff:ff:ff:ff:ff:ff:ff:ff");
        assert_eq!(ShortAddr(0xa18f).to_string(), "0xa18f");
        assert_eq!(PanId(0x0001).to_string(), "0x0001");
        assert_eq!("0x00124b0001020304".parse::<ExtAddr>().unwrap(), a);
        assert!("00:12".parse::<ExtAddr>().is_err());
    }
}
