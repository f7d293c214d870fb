//! The capability information byte carried by MAC Association Request, NWK Rejoin Request and
//! ZDO Device_annce.

use core::fmt;

/// Capability information (802.15.4 §7.3.1.2 as used by Zigbee).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CapabilityInfo(pub u8);

impl CapabilityInfo {
    pub const ALTERNATE_PAN_COORDINATOR: u8 = 0x01;
    pub const FULL_FUNCTION_DEVICE: u8 = 0x02;
    pub const MAINS_POWERED: u8 = 0x04;
    pub const RX_ON_WHEN_IDLE: u8 = 0x08;
    pub const SECURITY_CAPABLE: u8 = 0x40;
    pub const ALLOCATE_ADDRESS: u8 = 0x80;

    /// A router (FFD, mains powered, receiver always on).
    pub const ROUTER: CapabilityInfo = CapabilityInfo(0x8e);
    /// A sleepy end device (RFD, battery, receiver off when idle).
    pub const SLEEPY_END_DEVICE: CapabilityInfo = CapabilityInfo(0x80);

    pub fn is_router(self) -> bool {
        self.0 & Self::FULL_FUNCTION_DEVICE != 0
    }
    pub fn is_mains_powered(self) -> bool {
        self.0 & Self::MAINS_POWERED != 0
    }
    pub fn rx_on_when_idle(self) -> bool {
        self.0 & Self::RX_ON_WHEN_IDLE != 0
    }
    pub fn allocate_address(self) -> bool {
        self.0 & Self::ALLOCATE_ADDRESS != 0
    }
}

impl fmt::Debug for CapabilityInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CapabilityInfo({:#04x}", self.0)?;
        if self.is_router() {
            write!(f, " router")?;
        } else {
            write!(f, " end-device")?;
        }
        if !self.rx_on_when_idle() {
            write!(f, " sleepy")?;
        }
        write!(f, ")")
    }
}
