//! Parsing an AdmissionReview without `metadata.managedFields`: no check reads them, and they
//! are often the largest part of an object the API server sends.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

#[derive(Clone, Copy)]
enum At {
    Root,
    Request,
    Object,
    Metadata,
}

struct MapSeed(At);

impl<'de> Visitor<'de> for MapSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let v = match (self.0, k.as_str()) {
                (At::Root, "request") => map.next_value_seed(OptSeed(At::Request))?,
                (At::Request, "object" | "oldObject") => {
                    map.next_value_seed(OptSeed(At::Object))?
                }
                (At::Object, "metadata") => map.next_value_seed(OptSeed(At::Metadata))?,
                (At::Metadata, "managedFields") => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                _ => map.next_value::<Value>()?,
            };
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// `null` or an object at a known position.
struct OptSeed(At);

impl<'de> DeserializeSeed<'de> for OptSeed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for OptSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_map(MapSeed(self.0))
    }
}

/// Parses an AdmissionReview body into JSON, skipping the objects' `metadata.managedFields`.
pub(crate) fn parse_review_json(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = de::Deserializer::deserialize_map(&mut de, MapSeed(At::Root))?;
    de.end()?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn drops_only_managed_fields_of_the_objects() {
        let body = json!({"kind": "AdmissionReview", "metadata": {"managedFields": [1]}, "request": {
            "uid": "u", "object": {"metadata": {"name": "a", "managedFields": [{"manager": "kubectl"}]}, "spec": {"managedFields": 1}},
            "oldObject": null}});
        let v = parse_review_json(&serde_json::to_vec(&body).unwrap()).unwrap();
        let mut want = body.clone();
        want["request"]["object"]["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        assert_eq!(v, want);
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        assert!(parse_review_json(b"{not json").is_err());
        assert!(parse_review_json(b"{} trailing").is_err());
        assert!(parse_review_json(b"[1]").is_err());
        assert!(parse_review_json(br#"{"request": {"object": [1, 2]}}"#).is_err());
    }
}
