use super::*;
use proptest::prelude::*;

const CONTEXT: &str = "/pizzashack/1.0.0";
const VERSION: &str = "1.0.0";

fn key(key: ThrottleKey<'_>) -> String {
    let mut out = String::new();
    key.write_to(&mut out);
    assert_eq!(out, key.to_string(), "write_to and Display agree");
    out
}

#[test]
fn application_key_is_app_id_and_authorized_user() {
    let app = ThrottleKey::Application {
        app_id: "5",
        user: "admin@carbon.super",
    };
    assert_eq!(key(app), "5:admin@carbon.super");
}

#[test]
fn subscription_key_is_app_id_context_and_version() {
    let sub = ThrottleKey::Subscription {
        app_id: "5",
        api_context: CONTEXT,
        api_version: VERSION,
    };
    assert_eq!(key(sub), "5:/pizzashack/1.0.0:1.0.0");
}

#[test]
fn api_key_is_context_and_version_with_optional_group() {
    let api = |group| ThrottleKey::Api {
        api_context: CONTEXT,
        api_version: VERSION,
        group,
    };
    assert_eq!(key(api(None)), "/pizzashack/1.0.0:1.0.0");
    assert_eq!(
        key(api(Some(ConditionGroupId::Default))),
        "/pizzashack/1.0.0:1.0.0_default"
    );
    assert_eq!(
        key(api(Some(ConditionGroupId::Numbered(3)))),
        "/pizzashack/1.0.0:1.0.0_condition_3"
    );
}

#[test]
fn resource_key_is_wso2_request_key_with_group() {
    let resource = |resource, group| ThrottleKey::Resource {
        api_context: CONTEXT,
        api_version: VERSION,
        resource,
        verb: "GET",
        group,
    };
    assert_eq!(
        key(resource("/menu", None)),
        "/pizzashack/1.0.0/1.0.0/menu:GET"
    );
    assert_eq!(
        key(resource("/menu", Some(ConditionGroupId::Default))),
        "/pizzashack/1.0.0/1.0.0/menu:GET_default"
    );
    assert_eq!(
        key(resource(
            "/order/{orderId}",
            Some(ConditionGroupId::Numbered(1))
        )),
        "/pizzashack/1.0.0/1.0.0/order/{orderId}:GET_condition_1"
    );
    assert_eq!(
        key(resource("menu", None)),
        "/pizzashack/1.0.0/1.0.0/menu:GET",
        "a template without its leading slash gets one"
    );
    assert_eq!(key(resource("/*", None)), "/pizzashack/1.0.0/1.0.0/*:GET");
}

#[test]
fn condition_group_suffixes() {
    assert_eq!(ConditionGroupId::Default.to_string(), "_default");
    assert_eq!(ConditionGroupId::Numbered(12).to_string(), "_condition_12");
}

#[test]
fn block_keys() {
    let ip = BlockKey::Ip {
        tenant: "carbon.super",
        ip: "127.0.0.1".parse().unwrap(),
    };
    assert_eq!(ip.to_string(), "carbon.super:127.0.0.1");
    let ip6 = BlockKey::Ip {
        tenant: "carbon.super",
        ip: "2001:db8:0:0::1".parse().unwrap(),
    };
    assert_eq!(ip6.to_string(), "carbon.super:2001:db8::1");
    let app = BlockKey::Application {
        subscriber: "admin",
        app_name: "DefaultApplication",
    };
    assert_eq!(app.to_string(), "admin:DefaultApplication");
}

fn values() -> TemplateValues<'static> {
    TemplateValues {
        resource_key: "/pizzashack/1.0.0/1.0.0/menu:GET",
        user_id: "admin@carbon.super",
        api_context: CONTEXT,
        api_version: VERSION,
        app_tenant: "carbon.super",
        api_tenant: "wso2.com",
        app_id: "5",
        client_ip: Some("10.1.2.3".parse().unwrap()),
    }
}

#[test]
fn templates_render_every_variable() {
    let cases = [
        (
            "$userId:$apiContext:$apiVersion",
            "admin@carbon.super:/pizzashack/1.0.0:1.0.0",
        ),
        ("$resourceKey", "/pizzashack/1.0.0/1.0.0/menu:GET"),
        ("$appTenant|$apiTenant", "carbon.super|wso2.com"),
        ("$appId:$clientIp", "5:10.1.2.3"),
        ("$clientIp:$userId", "10.1.2.3:admin@carbon.super"),
        ("fixed", "fixed"),
        ("", ""),
    ];
    for (template, expected) in cases {
        let parsed = KeyTemplate::parse(template).unwrap();
        assert_eq!(parsed.render(&values()), expected, "{template}");
        assert_eq!(parsed.as_str(), template);
    }
}

#[test]
fn template_appends_to_the_buffer_and_reports_variables() {
    let template = KeyTemplate::parse("$appId-$userId").unwrap();
    let mut out = String::from("prefix|");
    template.render_into(&values(), &mut out);
    assert_eq!(out, "prefix|5-admin@carbon.super");
    let vars: Vec<_> = template.variables().collect();
    assert_eq!(vars, [TemplateVar::AppId, TemplateVar::UserId]);
}

#[test]
fn template_dollar_rules() {
    let t = KeyTemplate::parse("$appIdX").unwrap();
    assert_eq!(t.render(&values()), "5X", "longest name, rest is literal");
    let t = KeyTemplate::parse("cost$:$1$").unwrap();
    assert_eq!(t.render(&values()), "cost$:$1$", "a lone $ is literal");
    let missing_ip = TemplateValues {
        client_ip: None,
        ..values()
    };
    assert_eq!(
        KeyTemplate::parse("ip=$clientIp")
            .unwrap()
            .render(&missing_ip),
        "ip="
    );
    let err = KeyTemplate::parse("$userId:$customProperty.x").unwrap_err();
    assert_eq!(
        err,
        ThrottleError::UnknownTemplateVariable {
            template: "$userId:$customProperty.x".into(),
            name: "customProperty".into(),
        }
    );
    assert!(err.to_string().contains("$customProperty"));
}

#[test]
fn template_names_are_wso2_names() {
    let names: Vec<_> = TemplateVar::ALL.iter().map(|v| v.name()).collect();
    assert_eq!(
        names,
        [
            "resourceKey",
            "userId",
            "apiContext",
            "apiVersion",
            "appTenant",
            "apiTenant",
            "appId",
            "clientIp"
        ]
    );
}

proptest! {
    #[test]
    fn template_parsing_and_rendering_never_panic(template in "\\PC{0,40}", user in "\\PC{0,12}") {
        if let Ok(parsed) = KeyTemplate::parse(&template) {
            let values = TemplateValues { user_id: &user, ..values() };
            let rendered = parsed.render(&values);
            // Literal text survives rendering: a template without variables renders as itself.
            if parsed.variables().next().is_none() {
                prop_assert_eq!(rendered, template);
            }
        }
    }

    #[test]
    fn templates_of_known_variables_always_parse(
        pieces in proptest::collection::vec((0usize..8, "[:/|._-]{0,3}"), 0..6)
    ) {
        let mut template = String::new();
        let mut expected = String::new();
        let values = values();
        for (index, sep) in &pieces {
            let var = TemplateVar::ALL[*index];
            template.push('$');
            template.push_str(var.name());
            template.push_str(sep);
            expected.push_str(&KeyTemplate::parse(&format!("${}", var.name())).unwrap().render(&values));
            expected.push_str(sep);
        }
        let parsed = KeyTemplate::parse(&template).unwrap();
        prop_assert_eq!(parsed.render(&values), expected);
    }
}
