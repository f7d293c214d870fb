//! The hub application's one duty toward devices: acknowledge their reports. A device that asks
//! for an APS ack on a report to the coordinator retries, and eventually looks for a new
//! parent, when none comes.

use zigtrust_crypto::CcmStar;
use zigtrust_tc::TrustCenter;
use zigtrust_wire::aps::{ApsFrameType, ApsHeader};
use zigtrust_wire::mac::{MacBody, MacFrame};
use zigtrust_wire::nwk::{NwkFrameType, NwkHeader};
use zigtrust_wire::security::{open, AuxHeader, ZIGBEE_PRO_LEVEL};
use zigtrust_wire::{ExtAddr, ShortAddr};

/// For a data frame to the coordinator under the active network key that asks for an APS ack:
/// the sender and the ack to send. Frames under other keys are the core's business (rescues,
/// replays) and get no application ack.
pub(crate) fn report_ack(tc: &TrustCenter, psdu: &[u8]) -> Option<(ExtAddr, Vec<u8>)> {
    let mac = MacFrame::parse(psdu).ok()?;
    let MacBody::Data(nwk) = mac.body else { return None };
    let (nh, hl) = NwkHeader::parse(nwk).ok()?;
    if !nh.security || nh.dst != ShortAddr::COORDINATOR || nh.frame_type != NwkFrameType::Data {
        return None;
    }
    let (aux, _) = AuxHeader::parse(&nwk[hl..]).ok()?;
    if aux.key_seq != Some(tc.active_key_seq()) {
        return None;
    }
    let key = &tc.network_key(tc.active_key_seq())?.key;
    let o = open(&CcmStar::new(key), ZIGBEE_PRO_LEVEL, nwk, hl, None).ok()?;
    let (ah, _) = ApsHeader::parse(&o.plaintext).ok()?;
    if ah.frame_type != ApsFrameType::Data || !ah.ack_request {
        return None;
    }
    let mut ack = Vec::new();
    ApsHeader::ack_for(&ah).emit(&mut ack);
    Some((nh.src_ieee?, ack))
}
