//! ZDO (Zigbee Device Object, profile 0x0000) messages the Trust Center cares about:
//! Device_annce (a device announcing its short/IEEE address pair after joining or rejoining),
//! Mgmt_Permit_Joining_req (opening the network) and Mgmt_Leave_req (removing a device).
//! Everything else is kept raw as [`ZdoMessage::Other`].
//!
//! Every ZDO payload starts with a one-byte transaction sequence number (TSN).

use crate::{CapabilityInfo, Error, ExtAddr, Reader, Result, ShortAddr};

/// The ZDO profile id.
pub const PROFILE_ZDO: u16 = 0x0000;

/// Responses use the request's cluster id with this bit set.
pub const RESPONSE_BIT: u16 = 0x8000;

/// NWK_addr_req: look up the short address of an IEEE address.
pub const NWK_ADDR_REQ: u16 = 0x0000;
/// IEEE_addr_req: look up the IEEE address of a short address.
pub const IEEE_ADDR_REQ: u16 = 0x0001;
/// Node_Desc_req: ask for a device's node descriptor.
pub const NODE_DESC_REQ: u16 = 0x0002;
/// Power_Desc_req: ask for a device's power descriptor.
pub const POWER_DESC_REQ: u16 = 0x0003;
/// Simple_Desc_req: ask for an endpoint's simple descriptor.
pub const SIMPLE_DESC_REQ: u16 = 0x0004;
/// Active_EP_req: ask for a device's active endpoints.
pub const ACTIVE_EP_REQ: u16 = 0x0005;
/// Match_Desc_req: find endpoints matching a profile and clusters.
pub const MATCH_DESC_REQ: u16 = 0x0006;
/// Device_annce: a device announces its short/IEEE address pair (no response).
pub const DEVICE_ANNCE: u16 = 0x0013;
/// Parent_annce: a router announces the end-device children it holds.
pub const PARENT_ANNCE: u16 = 0x001f;
/// End_Device_Bind_req.
pub const END_DEVICE_BIND_REQ: u16 = 0x0020;
/// Bind_req: create a binding table entry.
pub const BIND_REQ: u16 = 0x0021;
/// Unbind_req: remove a binding table entry.
pub const UNBIND_REQ: u16 = 0x0022;
/// Mgmt_NWK_Disc_req: have a device scan for networks.
pub const MGMT_NWK_DISC_REQ: u16 = 0x0030;
/// Mgmt_Lqi_req: read a device's neighbour table.
pub const MGMT_LQI_REQ: u16 = 0x0031;
/// Mgmt_Rtg_req: read a device's routing table.
pub const MGMT_RTG_REQ: u16 = 0x0032;
/// Mgmt_Bind_req: read a device's binding table.
pub const MGMT_BIND_REQ: u16 = 0x0033;
/// Mgmt_Leave_req: ask a device to leave (or to make another device leave).
pub const MGMT_LEAVE_REQ: u16 = 0x0034;
/// Mgmt_Permit_Joining_req: open or close the network for joining.
pub const MGMT_PERMIT_JOINING_REQ: u16 = 0x0036;
/// Mgmt_NWK_Update_req: channel change, energy scan or network manager update.
pub const MGMT_NWK_UPDATE_REQ: u16 = 0x0038;
/// Mgmt_NWK_Enhanced_Update_req: Mgmt_NWK_Update_req with channel pages.
pub const MGMT_NWK_ENHANCED_UPDATE_REQ: u16 = 0x0039;
/// Mgmt_NWK_IEEE_Joining_List_req: read a device's IEEE joining list.
pub const MGMT_NWK_IEEE_JOINING_LIST_REQ: u16 = 0x003a;
/// Mgmt_NWK_Beacon_Survey_req (R23).
pub const MGMT_NWK_BEACON_SURVEY_REQ: u16 = 0x003c;
// R23 security clusters (Dynamic Link Key / TLV era).
/// Security_Start_Key_Negotiation_req (R23 Dynamic Link Key negotiation).
pub const SECURITY_START_KEY_NEGOTIATION_REQ: u16 = 0x0040;
/// Security_Retrieve_Authentication_Token_req (R23).
pub const SECURITY_RETRIEVE_AUTHENTICATION_TOKEN_REQ: u16 = 0x0041;
/// Security_Get_Authentication_Level_req (R23).
pub const SECURITY_GET_AUTHENTICATION_LEVEL_REQ: u16 = 0x0042;
/// Security_Set_Configuration_req (R23).
pub const SECURITY_SET_CONFIGURATION_REQ: u16 = 0x0043;
/// Security_Get_Configuration_req (R23).
pub const SECURITY_GET_CONFIGURATION_REQ: u16 = 0x0044;
/// Security_Start_Key_Update_req (R23).
pub const SECURITY_START_KEY_UPDATE_REQ: u16 = 0x0045;
/// Security_Decommission_req (R23).
pub const SECURITY_DECOMMISSION_REQ: u16 = 0x0046;
/// Security_Challenge_req (R23): frame counter synchronisation challenge.
pub const SECURITY_CHALLENGE_REQ: u16 = 0x0047;

/// Request clusters with their request and response names (response = request | 0x8000).
const NAMES: &[(u16, &str, &str)] = &[
    (NWK_ADDR_REQ, "NWK_addr_req", "NWK_addr_rsp"),
    (IEEE_ADDR_REQ, "IEEE_addr_req", "IEEE_addr_rsp"),
    (NODE_DESC_REQ, "Node_Desc_req", "Node_Desc_rsp"),
    (POWER_DESC_REQ, "Power_Desc_req", "Power_Desc_rsp"),
    (SIMPLE_DESC_REQ, "Simple_Desc_req", "Simple_Desc_rsp"),
    (ACTIVE_EP_REQ, "Active_EP_req", "Active_EP_rsp"),
    (MATCH_DESC_REQ, "Match_Desc_req", "Match_Desc_rsp"),
    (PARENT_ANNCE, "Parent_annce", "Parent_annce_rsp"),
    (END_DEVICE_BIND_REQ, "End_Device_Bind_req", "End_Device_Bind_rsp"),
    (BIND_REQ, "Bind_req", "Bind_rsp"),
    (UNBIND_REQ, "Unbind_req", "Unbind_rsp"),
    (MGMT_NWK_DISC_REQ, "Mgmt_NWK_Disc_req", "Mgmt_NWK_Disc_rsp"),
    (MGMT_LQI_REQ, "Mgmt_Lqi_req", "Mgmt_Lqi_rsp"),
    (MGMT_RTG_REQ, "Mgmt_Rtg_req", "Mgmt_Rtg_rsp"),
    (MGMT_BIND_REQ, "Mgmt_Bind_req", "Mgmt_Bind_rsp"),
    (MGMT_LEAVE_REQ, "Mgmt_Leave_req", "Mgmt_Leave_rsp"),
    (MGMT_PERMIT_JOINING_REQ, "Mgmt_Permit_Joining_req", "Mgmt_Permit_Joining_rsp"),
    (MGMT_NWK_UPDATE_REQ, "Mgmt_NWK_Update_req", "Mgmt_NWK_Update_notify"),
    (
        MGMT_NWK_ENHANCED_UPDATE_REQ,
        "Mgmt_NWK_Enhanced_Update_req",
        "Mgmt_NWK_Enhanced_Update_notify",
    ),
    (
        MGMT_NWK_IEEE_JOINING_LIST_REQ,
        "Mgmt_NWK_IEEE_Joining_List_req",
        "Mgmt_NWK_IEEE_Joining_List_rsp",
    ),
    (MGMT_NWK_BEACON_SURVEY_REQ, "Mgmt_NWK_Beacon_Survey_req", "Mgmt_NWK_Beacon_Survey_rsp"),
    (
        SECURITY_START_KEY_NEGOTIATION_REQ,
        "Security_Start_Key_Negotiation_req",
        "Security_Start_Key_Negotiation_rsp",
    ),
    (
        SECURITY_RETRIEVE_AUTHENTICATION_TOKEN_REQ,
        "Security_Retrieve_Authentication_Token_req",
        "Security_Retrieve_Authentication_Token_rsp",
    ),
    (
        SECURITY_GET_AUTHENTICATION_LEVEL_REQ,
        "Security_Get_Authentication_Level_req",
        "Security_Get_Authentication_Level_rsp",
    ),
    (
        SECURITY_SET_CONFIGURATION_REQ,
        "Security_Set_Configuration_req",
        "Security_Set_Configuration_rsp",
    ),
    (
        SECURITY_GET_CONFIGURATION_REQ,
        "Security_Get_Configuration_req",
        "Security_Get_Configuration_rsp",
    ),
    (
        SECURITY_START_KEY_UPDATE_REQ,
        "Security_Start_Key_Update_req",
        "Security_Start_Key_Update_rsp",
    ),
    (SECURITY_DECOMMISSION_REQ, "Security_Decommission_req", "Security_Decommission_rsp"),
    (SECURITY_CHALLENGE_REQ, "Security_Challenge_req", "Security_Challenge_rsp"),
];

/// Spec-style name of a ZDO cluster (`None` for ids this table does not know).
pub fn cluster_name(cluster: u16) -> Option<&'static str> {
    if cluster == DEVICE_ANNCE {
        // An announcement: there is no Device_annce response.
        return Some("Device_annce");
    }
    let is_rsp = cluster & RESPONSE_BIT != 0;
    let req = cluster & !RESPONSE_BIT;
    NAMES.iter().find(|(id, _, _)| *id == req).map(|(_, q, r)| if is_rsp { *r } else { *q })
}

/// Device_annce (cluster 0x0013): `TSN | NWK addr(2) | IEEE(8) | capability(1)`. Broadcast by a
/// device after every join and rejoin; the TC uses it to bind the short address to the IEEE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeviceAnnce {
    /// ZDO transaction sequence number.
    pub seq: u8,
    /// NWKAddr: the device's short address.
    pub nwk_addr: ShortAddr,
    /// IEEEAddr: the device's IEEE address.
    pub ieee: ExtAddr,
    /// Capability information of the device.
    pub capability: CapabilityInfo,
}

impl DeviceAnnce {
    /// Length of the payload on air, TSN included.
    pub const LEN: usize = 12;

    /// Parses the APS payload; trailing bytes are [`Error::Malformed`].
    pub fn parse(buf: &[u8]) -> Result<DeviceAnnce> {
        const WHAT: &str = "ZDO Device_annce";
        let mut r = Reader::new(buf);
        let d = DeviceAnnce {
            seq: r.u8(WHAT)?,
            nwk_addr: ShortAddr(r.u16(WHAT)?),
            ieee: r.ext_addr(WHAT)?,
            capability: CapabilityInfo(r.u8(WHAT)?),
        };
        no_trailing(&r, WHAT)?;
        Ok(d)
    }
    /// Always [`DeviceAnnce::LEN`].
    pub fn buffer_len(&self) -> usize {
        Self::LEN
    }
    /// Appends the APS payload (TSN first).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.seq);
        out.extend_from_slice(&self.nwk_addr.0.to_le_bytes());
        out.extend_from_slice(&self.ieee.to_le_bytes());
        out.push(self.capability.0);
    }
}

/// Mgmt_Permit_Joining_req (cluster 0x0036): `TSN | duration(s) | TC significance`.
/// Duration 0 closes the network, 0xff opens it indefinitely (forbidden in Zigbee 3.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PermitJoiningReq {
    /// ZDO transaction sequence number.
    pub seq: u8,
    /// PermitDuration in seconds: 0 closes, 0xff opens indefinitely.
    pub duration: u8,
    /// Deprecated (must be 1 in older specs); kept raw.
    pub tc_significance: u8,
}

impl PermitJoiningReq {
    /// Length of the payload on air, TSN included.
    pub const LEN: usize = 3;

    /// Parses the APS payload; trailing bytes are [`Error::Malformed`].
    pub fn parse(buf: &[u8]) -> Result<PermitJoiningReq> {
        const WHAT: &str = "ZDO Mgmt_Permit_Joining_req";
        let mut r = Reader::new(buf);
        let p = PermitJoiningReq {
            seq: r.u8(WHAT)?,
            duration: r.u8(WHAT)?,
            tc_significance: r.u8(WHAT)?,
        };
        no_trailing(&r, WHAT)?;
        Ok(p)
    }
    /// Always [`PermitJoiningReq::LEN`].
    pub fn buffer_len(&self) -> usize {
        Self::LEN
    }
    /// Appends the APS payload (TSN first).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.seq, self.duration, self.tc_significance]);
    }
}

/// Mgmt_Leave_req (cluster 0x0034): `TSN | IEEE(8) | flags(1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MgmtLeaveReq {
    /// ZDO transaction sequence number.
    pub seq: u8,
    /// The device that should leave (all-zero = the receiver itself).
    pub ieee: ExtAddr,
    /// Raw flags: bit 6 remove children, bit 7 rejoin; other bits reserved.
    pub flags: u8,
}

impl MgmtLeaveReq {
    /// Length of the payload on air, TSN included.
    pub const LEN: usize = 10;
    /// Remove Children flag (bit 6).
    pub const FLAG_REMOVE_CHILDREN: u8 = 0x40;
    /// Rejoin flag (bit 7): the device is to rejoin after leaving.
    pub const FLAG_REJOIN: u8 = 0x80;

    /// Whether the Remove Children flag is set.
    pub fn remove_children(&self) -> bool {
        self.flags & Self::FLAG_REMOVE_CHILDREN != 0
    }
    /// Whether the Rejoin flag is set.
    pub fn rejoin(&self) -> bool {
        self.flags & Self::FLAG_REJOIN != 0
    }
    /// Parses the APS payload; trailing bytes are [`Error::Malformed`].
    pub fn parse(buf: &[u8]) -> Result<MgmtLeaveReq> {
        const WHAT: &str = "ZDO Mgmt_Leave_req";
        let mut r = Reader::new(buf);
        let m = MgmtLeaveReq { seq: r.u8(WHAT)?, ieee: r.ext_addr(WHAT)?, flags: r.u8(WHAT)? };
        no_trailing(&r, WHAT)?;
        Ok(m)
    }
    /// Always [`MgmtLeaveReq::LEN`].
    pub fn buffer_len(&self) -> usize {
        Self::LEN
    }
    /// Appends the APS payload (TSN first).
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.seq);
        out.extend_from_slice(&self.ieee.to_le_bytes());
        out.push(self.flags);
    }
}

/// Fixed-size ZDO messages must fill the APS payload exactly, so emit(parse(x)) == x.
fn no_trailing(r: &Reader<'_>, what: &'static str) -> Result<()> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(Error::Malformed { what })
    }
}

/// A ZDO message, dispatched on the APS cluster id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ZdoMessage {
    /// Device_annce (cluster 0x0013).
    DeviceAnnce(DeviceAnnce),
    /// Mgmt_Permit_Joining_req (cluster 0x0036).
    PermitJoiningReq(PermitJoiningReq),
    /// Mgmt_Leave_req (cluster 0x0034).
    MgmtLeaveReq(MgmtLeaveReq),
    /// Any other cluster: TSN and the rest of the payload, unparsed.
    Other {
        /// APS cluster id.
        cluster: u16,
        /// ZDO transaction sequence number.
        seq: u8,
        /// The payload after the TSN.
        payload: Vec<u8>,
    },
}

impl ZdoMessage {
    /// Parses the APS payload of a ZDO frame with APS cluster id `cluster`.
    pub fn parse(cluster: u16, payload: &[u8]) -> Result<ZdoMessage> {
        Ok(match cluster {
            DEVICE_ANNCE => ZdoMessage::DeviceAnnce(DeviceAnnce::parse(payload)?),
            MGMT_PERMIT_JOINING_REQ => {
                ZdoMessage::PermitJoiningReq(PermitJoiningReq::parse(payload)?)
            }
            MGMT_LEAVE_REQ => ZdoMessage::MgmtLeaveReq(MgmtLeaveReq::parse(payload)?),
            _ => {
                let (&seq, rest) = payload
                    .split_first()
                    .ok_or(Error::Truncated { what: "ZDO sequence number" })?;
                ZdoMessage::Other { cluster, seq, payload: rest.to_vec() }
            }
        })
    }

    /// The APS cluster id this message travels on.
    pub fn cluster(&self) -> u16 {
        match self {
            ZdoMessage::DeviceAnnce(_) => DEVICE_ANNCE,
            ZdoMessage::PermitJoiningReq(_) => MGMT_PERMIT_JOINING_REQ,
            ZdoMessage::MgmtLeaveReq(_) => MGMT_LEAVE_REQ,
            ZdoMessage::Other { cluster, .. } => *cluster,
        }
    }

    /// The transaction sequence number.
    pub fn seq(&self) -> u8 {
        match self {
            ZdoMessage::DeviceAnnce(d) => d.seq,
            ZdoMessage::PermitJoiningReq(p) => p.seq,
            ZdoMessage::MgmtLeaveReq(m) => m.seq,
            ZdoMessage::Other { seq, .. } => *seq,
        }
    }

    /// Spec-style name, or "Unknown ZDO cluster".
    pub fn name(&self) -> &'static str {
        cluster_name(self.cluster()).unwrap_or("Unknown ZDO cluster")
    }

    /// Bytes [`ZdoMessage::emit`] appends, TSN included.
    pub fn buffer_len(&self) -> usize {
        match self {
            ZdoMessage::DeviceAnnce(d) => d.buffer_len(),
            ZdoMessage::PermitJoiningReq(p) => p.buffer_len(),
            ZdoMessage::MgmtLeaveReq(m) => m.buffer_len(),
            ZdoMessage::Other { payload, .. } => 1 + payload.len(),
        }
    }

    /// Appends the APS payload (TSN first); the cluster id goes in the APS header.
    pub fn emit(&self, out: &mut Vec<u8>) {
        match self {
            ZdoMessage::DeviceAnnce(d) => d.emit(out),
            ZdoMessage::PermitJoiningReq(p) => p.emit(out),
            ZdoMessage::MgmtLeaveReq(m) => m.emit(out),
            ZdoMessage::Other { seq, payload, .. } => {
                out.push(*seq);
                out.extend_from_slice(payload);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zigtrust_crypto::decode_hex_loose;

    /// Round-trips `bytes`; truncations shorter than `min` must fail.
    fn roundtrip_min(cluster: u16, bytes: &[u8], min: usize) -> ZdoMessage {
        let m = ZdoMessage::parse(cluster, bytes).unwrap();
        assert_eq!(m.cluster(), cluster);
        assert_eq!(m.buffer_len(), bytes.len());
        let mut out = Vec::new();
        m.emit(&mut out);
        assert_eq!(out, bytes);
        for cut in 0..min {
            assert!(ZdoMessage::parse(cluster, &bytes[..cut]).is_err(), "cut {cut}");
        }
        m
    }

    fn roundtrip(cluster: u16, bytes: &[u8]) -> ZdoMessage {
        roundtrip_min(cluster, bytes, bytes.len())
    }

    #[test]
    fn device_annce_from_capture_c() {
        let bytes = decode_hex_loose("00 8fa1 df0f289b6d38c1a4 8e").unwrap();
        let m = roundtrip(DEVICE_ANNCE, &bytes);
        assert_eq!(m.name(), "Device_annce");
        let ZdoMessage::DeviceAnnce(d) = m else { panic!("{m:?}") };
        assert_eq!(d.seq, 0);
        assert_eq!(d.nwk_addr, ShortAddr(0xa18f));
        assert_eq!(d.ieee, ExtAddr(0xa4c1_386d_9b28_0fdf));
        assert_eq!(d.capability, CapabilityInfo::ROUTER);
        assert!(d.capability.is_router());
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(DeviceAnnce::parse(&long), Err(Error::Malformed { .. })));
    }

    #[test]
    fn permit_joining_and_leave() {
        let m = roundtrip(MGMT_PERMIT_JOINING_REQ, &[0x05, 0xfe, 0x01]);
        assert_eq!(m.name(), "Mgmt_Permit_Joining_req");
        assert_eq!(
            m,
            ZdoMessage::PermitJoiningReq(PermitJoiningReq {
                seq: 5,
                duration: 254,
                tc_significance: 1
            })
        );
        let l = roundtrip(MGMT_LEAVE_REQ, &decode_hex_loose("07 df0f289b6d38c1a4 40").unwrap());
        let ZdoMessage::MgmtLeaveReq(l) = l else { panic!() };
        assert_eq!(l.ieee, ExtAddr(0xa4c1_386d_9b28_0fdf));
        assert!(l.remove_children() && !l.rejoin());
    }

    #[test]
    fn other_and_names() {
        let m = roundtrip_min(0x8005, &[0x09, 0x00, 0x8f, 0xa1, 0x01, 0x01], 1);
        assert_eq!(m.seq(), 9);
        assert_eq!(m.name(), "Active_EP_rsp");
        assert!(ZdoMessage::parse(0x0005, &[]).is_err());
        assert_eq!(cluster_name(NWK_ADDR_REQ), Some("NWK_addr_req"));
        assert_eq!(cluster_name(0x8001), Some("IEEE_addr_rsp"));
        assert_eq!(cluster_name(BIND_REQ), Some("Bind_req"));
        assert_eq!(cluster_name(0x8031), Some("Mgmt_Lqi_rsp"));
        assert_eq!(cluster_name(0x8036), Some("Mgmt_Permit_Joining_rsp"));
        assert_eq!(cluster_name(0x0040), Some("Security_Start_Key_Negotiation_req"));
        assert_eq!(cluster_name(0x8013), None);
        assert_eq!(cluster_name(0x7777), None);
        assert_eq!(
            ZdoMessage::Other { cluster: 0x7777, seq: 0, payload: vec![] }.name(),
            "Unknown ZDO cluster"
        );
    }
}
