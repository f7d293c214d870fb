//! Populations (`ha12=N,z30=N,z30-wk=N`) and the `z30-wk` device class, the attacker-from
//! override, and the exposure accounting (`exposed_keys`, `silent_leaks`) with an attacker
//! listening from power-on. Invariants only: the Trust Center's rules decide the exact numbers.

use zigtrust_sim::device::Class;
use zigtrust_sim::*;

fn mixed() -> Population {
    Population::parse("ha12=2,z30=2,z30-wk=2").unwrap()
}

#[test]
fn population_strings() {
    let p = Population::parse("ha12=3,z30-wk=1").unwrap();
    assert_eq!((p.ha12, p.z30, p.z30_wk), (3, 0, 1));
    assert_eq!(p.to_string(), "ha12=3,z30=0,z30-wk=1");
    assert_eq!(Population::parse(&mixed().to_string()).unwrap(), mixed());
    for bad in [
        "",
        "ha12",
        "ha12=",
        "ha12=x",
        "ha12=-1",
        "zll=2",
        "ha12=1,ha12=2",
        "ha12=0,z30=0",
        "ha12=1;z30=1",
        "ha12=99999",
    ] {
        let e = Population::parse(bad).unwrap_err();
        assert!(e.contains("bad population"), "{bad:?}: {e}");
    }
    let mut c = Config::new("join-z30", "adaptive", 1);
    c.population = Some(mixed());
    c.devices = Some(4);
    assert!(run(&c).is_err());
}

/// A population replaces the scenario's devices, class by class, routers included; the
/// scenario still decides the events (here: the spoof victims hold the well-known key).
#[test]
fn population_decides_the_devices() {
    let mut c = Config::new("spoofed-rejoin", "adaptive", 21);
    c.population = Some(Population::parse("ha12=2,z30=3,z30-wk=6").unwrap());
    c.keep_capture = false;
    let o = run(&c).unwrap();
    let r = &o.report;
    assert_eq!(r.devices, 11, "{r:?}");
    assert_eq!(r.population, "ha12=2,z30=3,z30-wk=6");
    let mut routers = std::collections::BTreeMap::new();
    for n in 1..o.world.nodes.len() {
        if let Some(d) = o.world.dev(n) {
            let e = routers.entry(d.class()).or_insert((0, 0));
            if d.role == device::Role::Router {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
            assert_eq!(d.install_key.is_some(), d.class() == Class::Z30);
        }
    }
    assert_eq!(routers[&Class::Ha12], (1, 1));
    assert_eq!(routers[&Class::Z30], (1, 2));
    assert_eq!(routers[&Class::Z30Wk], (1, 5));
    assert_eq!(r.spoofs_sent, 2, "{r:?}");
    // Without a population the scenario's own devices: unchanged.
    let r = run(&Config::new("spoofed-rejoin", "adaptive", 21)).unwrap().report;
    assert_eq!((r.devices, r.population.as_str()), (8, "ha12=4,z30=4,z30-wk=0"));
}

/// `z30-wk` devices join under the well-known key and ask for a TC link key once. Whether or
/// not the Trust Center answers (it refuses when the new key would be readable), they end up
/// joined, talking on the active key, and either with a verified new link key or none.
#[test]
fn z30_wk_devices_join_and_keep_working() {
    for s in ["join-z30", "hub-reboot", "key-rotation"] {
        let mut c = Config::new(s, "adaptive", 23);
        c.population = Some(Population::parse("z30-wk=3").unwrap());
        c.attacker_from_s = Some(0);
        c.keep_capture = false;
        let o = run(&c).unwrap();
        let r = &o.report;
        assert_eq!((r.joined, r.stranded), (3, 0), "{s}: {r:?}");
        for n in 1..=3 {
            let d = o.world.dev(n).unwrap();
            assert_eq!(d.class(), Class::Z30Wk);
            assert!(d.tclk.is_none() || d.tclk_verified, "{s}: {}", d.ieee);
        }
        // Joined under the well-known key inside the window: that key is public, and the
        // Trust Center says so.
        assert!(r.network_key_leaked && r.exposed_keys.contains(&0), "{s}: {r:?}");
        assert!(r.silent_leaks.is_empty(), "{s}: {r:?}");
    }
}

/// The attacker-from override: listening from power-on it sees the legacy joins of the
/// pairing window, which the scenario's own attacker (arriving after pairing) misses.
#[test]
fn attacker_from_power_on_sees_the_pairing() {
    let mut c = Config::new("replay", "adaptive", 25);
    c.population = Some(Population::parse("ha12=1,z30=1").unwrap());
    c.keep_capture = false;
    let late = run(&c).unwrap().report;
    assert!(late.attacker_from_s > 255.0 && !late.network_key_leaked, "{late:?}");
    c.attacker_from_s = Some(0);
    let early = run(&c).unwrap().report;
    assert_eq!(early.attacker_from_s, 0.0);
    assert!(early.network_key_leaked && early.leaks[0].time_s < 255.0, "{early:?}");
}

/// The Trust Center's view covers the attacker's ground truth: every network key the attacker
/// read is marked exposed (`silent_leaks` empty), for every scenario under `adaptive`, with the
/// attacker listening from power-on and a mixed population.
#[test]
fn no_silent_leaks_attacker_from_power_on() {
    for seed in [41, 42] {
        for s in SCENARIOS {
            let mut c = Config::new(s, "adaptive", seed);
            c.population = Some(mixed());
            c.attacker_from_s = Some(0);
            c.keep_capture = false;
            let r = run(&c).unwrap().report;
            assert!(r.silent_leaks.is_empty(), "{s} seed {seed}: silent leaks: {r:?}");
            // Not vacuous: the ha12 joins happen in front of the attacker.
            assert!(r.network_key_leaked, "{s} seed {seed}: {r:?}");
            for l in &r.leaks {
                assert!(r.exposed_keys.contains(&l.key_seq), "{s} seed {seed}: {r:?}");
            }
        }
    }
}

/// The same invariant under `allow` and `deny`, and with install codes required.
#[test]
fn no_silent_leaks_other_policies() {
    for s in SCENARIOS {
        for (p, l) in [("allow", LEGACY[0]), ("deny", LEGACY[0]), ("adaptive", LEGACY[1])] {
            let mut c = Config::new(s, p, 44);
            c.legacy_join = l.into();
            c.population = Some(mixed());
            c.attacker_from_s = Some(0);
            c.keep_capture = false;
            let r = run(&c).unwrap().report;
            assert!(r.silent_leaks.is_empty(), "{s}/{p}/{l}: silent leaks: {r:?}");
        }
    }
}
