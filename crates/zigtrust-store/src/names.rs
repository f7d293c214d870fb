//! Stable text names of the model's enums, shared by the SQLite columns and the backup's
//! `internal.zigtrust` section. Changing a name is a schema change.

use zigtrust_tc::model::{
    CounterKind, InsecureRejoinPolicy, JoinMethod, LegacyJoinPolicy, Severity, SpoofResponse,
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
    InsecureRejoinPolicy::Allow => "allow",
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
});

names!(Severity, severity_name, parse_severity, {
    Severity::Info => "info",
    Severity::Warning => "warning",
    Severity::Alert => "alert",
});
