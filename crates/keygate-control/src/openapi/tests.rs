use super::*;
use std::collections::BTreeSet;

fn refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                out.insert(target.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves_and_every_schema_is_used() {
    let doc = document();
    let mut found = BTreeSet::new();
    refs(&doc, &mut found);
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let responses = doc["components"]["responses"].as_object().unwrap();
    for target in &found {
        if let Some(name) = target.strip_prefix("#/components/responses/") {
            assert!(responses.contains_key(name), "{target} does not resolve");
            continue;
        }
        let name = target.strip_prefix("#/components/schemas/").unwrap();
        assert!(schemas.contains_key(name), "{target} does not resolve");
    }
    for name in schemas.keys() {
        assert!(
            found.contains(&format!("#/components/schemas/{name}")),
            "{name} is never used"
        );
    }
}

#[test]
fn operations_are_unique_and_name_seeded_scopes() {
    let doc = document();
    let scopes =
        doc["components"]["securitySchemes"]["OAuth2"]["flows"]["clientCredentials"]["scopes"]
            .as_object()
            .unwrap()
            .clone();
    let mut ids = BTreeSet::new();
    let mut pairs = BTreeSet::new();
    for o in OPERATIONS {
        assert!(
            pairs.insert((o.method, o.path)),
            "{} {} twice",
            o.method,
            o.path
        );
        let object = &doc["paths"][o.path][o.method];
        let id = object["operationId"].as_str().unwrap().to_owned();
        assert!(ids.insert(id.clone()), "{id} twice");
        if let Some(permission) = o.permission {
            assert!(
                scopes.contains_key(permission.scope()),
                "{}",
                permission.scope()
            );
            assert_eq!(object["security"][0]["OAuth2"][0], permission.scope());
        }
        let path_params = object["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "path")
            .count();
        assert_eq!(path_params, o.path.matches('{').count(), "{}", o.path);
    }
    assert_eq!(
        doc["paths"]["/api/am/admin/v1/throttling/blacklist/{conditionId}"]["patch"]["requestBody"]
            ["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/BlockConditionStatus"
    );
}
