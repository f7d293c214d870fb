//! The capability information byte carried by MAC Association Request, NWK Rejoin Request and
//! ZDO Device_annce.

use core::fmt;

/// Capability information (802.15.4 §7.3.1.2 as used by Zigbee).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CapabilityInfo(pub u8);

impl CapabilityInfo {
    /// Bit 0: the device can act as an alternate PAN coordinator.
    pub const ALTERNATE_PAN_COORDINATOR: u8 = 0x01;
    /// Bit 1 (device type): a full-function device, i.e. a Zigbee router; clear for an end device.
    pub const FULL_FUNCTION_DEVICE: u8 = 0x02;
    /// Bit 2 (power source): mains powered.
    pub const MAINS_POWERED: u8 = 0x04;
    /// Bit 3: the receiver stays on when idle; clear for a sleepy (polling) device.
    pub const RX_ON_WHEN_IDLE: u8 = 0x08;
    /// Bit 6: MAC-layer security capable (not used by Zigbee, which secures at NWK/APS).
    pub const SECURITY_CAPABLE: u8 = 0x40;
    /// Bit 7: the device asks its parent to allocate it a short address.
    pub const ALLOCATE_ADDRESS: u8 = 0x80;

    /// A router (FFD, mains powered, receiver always on).
    pub const ROUTER: CapabilityInfo = CapabilityInfo(0x8e);
    /// A sleepy end device (RFD, battery, receiver off when idle).
    pub const SLEEPY_END_DEVICE: CapabilityInfo = CapabilityInfo(0x80);

    /// Whether the device-type bit says router (FFD) rather than end device.
    pub fn is_router(self) -> bool {
        self.0 & Self::FULL_FUNCTION_DEVICE != 0
    }
    /// Whether the power-source bit says mains powered.
    pub fn is_mains_powered(self) -> bool {
        self.0 & Self::MAINS_POWERED != 0
    }
    /// Whether the receiver is on when idle (false for a sleepy end device).
    pub fn rx_on_when_idle(self) -> bool {
        self.0 & Self::RX_ON_WHEN_IDLE != 0
    }
    /// Whether the device asks to be allocated a short address.
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
