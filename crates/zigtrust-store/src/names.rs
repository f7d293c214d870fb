//! Stable text names of the model's enums, shared by the SQLite columns and the backup's
//! `internal.zigtrust` section. Changing a name is a schema change.

use zigtrust_tc::model::{
    CounterKind, InsecureRejoinPolicy, JoinMethod, LegacyJoinPolicy, RemovalRotation, Severity,
    SpoofResponse,
};

macro_rules! names {
    ($ty:ty, $to:ident, $from:ident, { $($v:path => $s:literal),+ $(,)? }) => {
        pub(crate) fn $to(v: $ty) -> &'static str {
            match v { $($v => $s),+ }
        }
        pub(crate) fn $from(s: &str) -> Option<$ty> {
            match s { $($s => Some($v),)+ _ => None }
        }
    };
}

names!(JoinMethod, join_method_name, parse_join_method, {
    JoinMethod::WellKnownKey => "well-known-key",
    JoinMethod::InstallCode => "install-code",
    JoinMethod::Restored => "restored",
});

names!(LegacyJoinPolicy, legacy_join_name, parse_legacy_join, {
    LegacyJoinPolicy::InstallCodeRequired => "install-code-required",
    LegacyJoinPolicy::AllowedWhilePermitJoin => "allowed-while-permit-join",
});

names!(InsecureRejoinPolicy, insecure_rejoin_name, parse_insecure_rejoin, {
    InsecureRejoinPolicy::AllowLeakingKey => "allow",
    InsecureRejoinPolicy::Deny => "deny",
    InsecureRejoinPolicy::Adaptive => "adaptive",
});

names!(SpoofResponse, spoof_response_name, parse_spoof_response, {
    SpoofResponse::Deny => "deny",
    SpoofResponse::Ignore => "ignore",
});

names!(CounterKind, counter_kind_name, parse_counter_kind, {
    CounterKind::Nwk => "nwk",
    CounterKind::Aps => "aps",
    CounterKind::NwkRetired => "nwk-retired",
});

names!(Severity, severity_name, parse_severity, {
    Severity::Info => "info",
    Severity::Warning => "warning",
    Severity::Alert => "alert",
});

names!(RemovalRotation, removal_rotation_name, parse_removal_rotation, {
    RemovalRotation::Never => "never",
    RemovalRotation::Routers => "routers",
    RemovalRotation::Always => "always",
});

/// Older keys' incoming NWK counters as `seq:counter` pairs, comma-separated.
pub(crate) fn stale_counters_text(v: &[(u8, u32)]) -> String {
    v.iter().map(|(s, c)| format!("{s}:{c}")).collect::<Vec<_>>().join(",")
}

pub(crate) fn parse_stale_counters(s: &str) -> Option<Vec<(u8, u32)>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split(',')
        .map(|p| {
            let (a, b) = p.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect()
}
