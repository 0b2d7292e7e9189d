use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

#[derive(Default)]
struct Attributes {
    headers: HashMap<&'static str, &'static str>,
    query: HashMap<&'static str, &'static str>,
    claims: HashMap<&'static str, &'static str>,
}

impl RequestAttributes for Attributes {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).copied()
    }
    fn query_param(&self, name: &str) -> Option<&str> {
        self.query.get(name).copied()
    }
    fn claim(&self, uri: &str) -> Option<&str> {
        self.claims.get(uri).copied()
    }
}

fn ip(text: &str) -> Option<IpAddr> {
    Some(text.parse().unwrap())
}

fn compile(condition: ThrottleCondition) -> CompiledCondition {
    CompiledCondition::compile(&condition).unwrap()
}

fn inverted(condition: &ThrottleCondition) -> ThrottleCondition {
    let mut flipped = condition.clone();
    match &mut flipped {
        ThrottleCondition::IpSpecific { invert, .. }
        | ThrottleCondition::IpRange { invert, .. }
        | ThrottleCondition::Header { invert, .. }
        | ThrottleCondition::QueryParameter { invert, .. }
        | ThrottleCondition::JwtClaim { invert, .. } => *invert = !*invert,
    }
    flipped
}

/// Asserts `condition` matches exactly the `yes` cases, and its inversion exactly the others.
fn check(
    condition: ThrottleCondition,
    yes: &[(Option<IpAddr>, &Attributes)],
    no: &[(Option<IpAddr>, &Attributes)],
) {
    let plain = compile(condition.clone());
    let flipped = compile(inverted(&condition));
    for (client, attributes) in yes {
        assert!(
            plain.matches(*client, *attributes),
            "{condition:?} {client:?}"
        );
        assert!(
            !flipped.matches(*client, *attributes),
            "inverted {condition:?}"
        );
    }
    for (client, attributes) in no {
        assert!(
            !plain.matches(*client, *attributes),
            "{condition:?} {client:?}"
        );
        assert!(
            flipped.matches(*client, *attributes),
            "inverted {condition:?}"
        );
    }
}

#[test]
fn ip_specific_matches_one_address_in_any_spelling() {
    let none = Attributes::default();
    check(
        ThrottleCondition::IpSpecific {
            ip: "10.0.0.7".into(),
            invert: false,
        },
        &[(ip("10.0.0.7"), &none), (ip("::ffff:10.0.0.7"), &none)],
        &[(ip("10.0.0.8"), &none), (None, &none), (ip("::1"), &none)],
    );
    check(
        ThrottleCondition::IpSpecific {
            ip: "2001:db8::1".into(),
            invert: false,
        },
        &[(ip("2001:0db8:0:0:0:0:0:1"), &none)],
        &[(ip("2001:db8::2"), &none), (ip("10.0.0.1"), &none)],
    );
}

#[test]
fn ip_specific_accepts_cidr_blocks() {
    let none = Attributes::default();
    check(
        ThrottleCondition::IpSpecific {
            ip: "192.168.4.0/22".into(),
            invert: false,
        },
        &[(ip("192.168.4.0"), &none), (ip("192.168.7.255"), &none)],
        &[(ip("192.168.8.0"), &none), (ip("192.168.3.255"), &none)],
    );
    check(
        ThrottleCondition::IpSpecific {
            ip: "2001:db8:abcd::/48".into(),
            invert: false,
        },
        &[(ip("2001:db8:abcd:ffff::1"), &none)],
        &[(ip("2001:db8:abce::1"), &none), (ip("10.0.0.1"), &none)],
    );
}

#[test]
fn ip_ranges_include_both_ends() {
    let none = Attributes::default();
    check(
        ThrottleCondition::IpRange {
            start_ip: "10.0.0.10".into(),
            end_ip: "10.0.1.5".into(),
            invert: false,
        },
        &[
            (ip("10.0.0.10"), &none),
            (ip("10.0.0.255"), &none),
            (ip("10.0.1.5"), &none),
        ],
        &[
            (ip("10.0.0.9"), &none),
            (ip("10.0.1.6"), &none),
            (None, &none),
        ],
    );
    check(
        ThrottleCondition::IpRange {
            start_ip: "fe80::1".into(),
            end_ip: "fe80::ff".into(),
            invert: false,
        },
        &[
            (ip("fe80::1"), &none),
            (ip("fe80::80"), &none),
            (ip("fe80::ff"), &none),
        ],
        &[(ip("fe80::100"), &none), (ip("10.0.0.1"), &none)],
    );
}

#[test]
fn bad_addresses_ranges_and_blocks_are_refused() {
    assert!(matches!(
        IpMatch::parse("10.0.0"),
        Err(ThrottleError::InvalidIp(_))
    ));
    assert!(matches!(
        IpMatch::parse("10.0.0.0/33"),
        Err(ThrottleError::InvalidCidr(_))
    ));
    assert!(IpMatch::parse("::/129").is_err());
    assert!(IpMatch::parse("10.0.0.0/x").is_err());
    let reversed = IpMatch::parse_range("10.0.0.9", "10.0.0.1").unwrap_err();
    assert!(
        reversed.to_string().contains("start is after end"),
        "{reversed}"
    );
    let mixed = IpMatch::parse_range("10.0.0.1", "::1").unwrap_err();
    assert!(mixed.to_string().contains("families"), "{mixed}");
    assert!(IpMatch::parse_range("a", "10.0.0.1").is_err());
}

#[test]
fn cidr_clears_host_bits_and_zero_prefix_covers_a_family() {
    assert_eq!(
        IpMatch::parse("10.1.2.3/8").unwrap(),
        IpMatch::Cidr {
            network: "10.0.0.0".parse().unwrap(),
            prefix: 8
        }
    );
    let all_v4 = IpMatch::parse("0.0.0.0/0").unwrap();
    assert!(all_v4.contains("255.1.2.3".parse().unwrap()));
    assert!(!all_v4.contains("::2".parse().unwrap()));
    let all_v6 = IpMatch::parse("::/0").unwrap();
    assert!(all_v6.contains("2001:db8::1".parse().unwrap()));
    let host = IpMatch::parse("10.0.0.1/32").unwrap();
    assert!(host.contains("10.0.0.1".parse().unwrap()));
    assert!(!host.contains("10.0.0.2".parse().unwrap()));
}

#[test]
fn header_patterns_match_anywhere_in_the_value() {
    let mozilla = Attributes {
        headers: HashMap::from([("user-agent", "Mozilla/5.0 (X11)")]),
        ..Default::default()
    };
    let curl = Attributes {
        headers: HashMap::from([("user-agent", "curl/8.5")]),
        ..Default::default()
    };
    let none = Attributes::default();
    check(
        ThrottleCondition::Header {
            name: "User-Agent".into(),
            value: "Mozilla".into(),
            invert: false,
        },
        &[(None, &mozilla)],
        &[(None, &curl), (None, &none)],
    );
}

#[test]
fn query_parameters_must_match_whole() {
    let gold = Attributes {
        query: HashMap::from([("plan", "gold")]),
        ..Default::default()
    };
    let golden = Attributes {
        query: HashMap::from([("plan", "golden")]),
        ..Default::default()
    };
    check(
        ThrottleCondition::QueryParameter {
            name: "plan".into(),
            value: "gold|silver".into(),
            invert: false,
        },
        &[(None, &gold)],
        &[(None, &golden), (None, &Attributes::default())],
    );
}

#[test]
fn jwt_claims_match_exactly_or_by_pattern() {
    const ENDUSER: &str = "http://wso2.org/claims/enduser";
    let admin = Attributes {
        claims: HashMap::from([(ENDUSER, "admin@carbon.super")]),
        ..Default::default()
    };
    let bob = Attributes {
        claims: HashMap::from([(ENDUSER, "bob@carbon.super")]),
        ..Default::default()
    };
    check(
        ThrottleCondition::JwtClaim {
            claim_uri: ENDUSER.into(),
            value: "admin@carbon.super".into(),
            invert: false,
        },
        &[(None, &admin)],
        &[(None, &bob), (None, &Attributes::default())],
    );
    check(
        ThrottleCondition::JwtClaim {
            claim_uri: ENDUSER.into(),
            value: ".*@carbon\\.super".into(),
            invert: false,
        },
        &[(None, &admin), (None, &bob)],
        &[(None, &Attributes::default())],
    );
}

#[test]
fn bad_patterns_are_refused_with_their_subject() {
    let err = CompiledCondition::compile(&ThrottleCondition::Header {
        name: "X-Plan".into(),
        value: "(unclosed".into(),
        invert: false,
    })
    .unwrap_err();
    assert!(
        matches!(&err, ThrottleError::InvalidPattern { subject, pattern, .. } if subject == "X-Plan" && pattern == "(unclosed")
    );
}

fn group(conditions: Vec<ThrottleCondition>, max: u64) -> (Vec<CompiledCondition>, Limit) {
    (
        conditions.into_iter().map(compile).collect(),
        Limit::requests(max, 60_000),
    )
}

#[test]
fn the_first_group_whose_conditions_all_match_applies() {
    let internal = ThrottleCondition::IpRange {
        start_ip: "10.0.0.0".into(),
        end_ip: "10.255.255.255".into(),
        invert: false,
    };
    let mobile = ThrottleCondition::Header {
        name: "x-client".into(),
        value: "^mobile$".into(),
        invert: false,
    };
    let matcher = ConditionGroupMatcher::new(
        vec![
            group(vec![], 1),
            group(vec![internal.clone(), mobile.clone()], 2),
            group(vec![internal], 3),
            group(vec![mobile], 4),
        ],
        Limit::requests(100, 60_000),
    );
    assert_eq!(matcher.len(), 4);
    let mobile_attrs = Attributes {
        headers: HashMap::from([("x-client", "mobile")]),
        ..Default::default()
    };
    let none = Attributes::default();
    let pick = |client, attrs: &Attributes| {
        let (id, limit) = matcher.select(client, attrs);
        (id, limit.max)
    };
    assert_eq!(
        pick(ip("10.1.1.1"), &mobile_attrs),
        (ConditionGroupId::Numbered(2), 2)
    );
    assert_eq!(
        pick(ip("10.1.1.1"), &none),
        (ConditionGroupId::Numbered(3), 3)
    );
    assert_eq!(
        pick(ip("192.168.1.1"), &mobile_attrs),
        (ConditionGroupId::Numbered(4), 4)
    );
    assert_eq!(
        pick(ip("192.168.1.1"), &none),
        (ConditionGroupId::Default, 100)
    );
    assert_eq!(pick(None, &none), (ConditionGroupId::Default, 100));
    let empty = ConditionGroupMatcher::new(vec![], Limit::requests(7, 1_000));
    assert!(empty.is_empty());
    assert_eq!(
        empty.select(None, &NoAttributes).0,
        ConditionGroupId::Default
    );
}

proptest! {
    #[test]
    fn ip_parsing_never_panics(start in "\\PC{0,45}", end in "\\PC{0,45}") {
        let _ = IpMatch::parse(&start);
        let _ = IpMatch::parse_cidr(&end);
        let _ = IpMatch::parse_range(&start, &end);
    }

    #[test]
    fn ipv4_ranges_contain_exactly_what_lies_between(a: u32, b: u32, probe: u32) {
        let (low, high) = (a.min(b), a.max(b));
        let text = |n: u32| std::net::Ipv4Addr::from(n).to_string();
        let range = IpMatch::parse_range(&text(low), &text(high)).unwrap();
        prop_assert_eq!(
            range.contains(IpAddr::from(std::net::Ipv4Addr::from(probe))),
            low <= probe && probe <= high
        );
    }

    #[test]
    fn ipv6_cidr_contains_exactly_its_prefix(network: u128, prefix in 0u8..=128, probe: u128) {
        // IPv4-mapped addresses are IPv4 addresses, outside every IPv6 block.
        let mapped = |n: u128| std::net::Ipv6Addr::from(n).to_ipv4_mapped().is_some();
        prop_assume!(!mapped(network) && !mapped(probe));
        let text = format!("{}/{prefix}", std::net::Ipv6Addr::from(network));
        let block = IpMatch::parse(&text).unwrap();
        let shift = 128 - u32::from(prefix);
        let same = network.checked_shr(shift).unwrap_or(0) == probe.checked_shr(shift).unwrap_or(0);
        let probe_ip = IpAddr::from(std::net::Ipv6Addr::from(probe));
        prop_assert_eq!(block.contains(probe_ip), same);
    }
}
