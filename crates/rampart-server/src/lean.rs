//! Parsing an AdmissionReview without what no check reads: the objects' `metadata.managedFields`
//! (often the largest part of an object the API server sends) and, when no policy sees the raw
//! request, their `status` and the `kubectl apply` annotation (a second copy of the object as
//! an escaped string).

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

/// What `kubectl apply` records on the objects it writes.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// How much of the objects to keep.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keep {
    /// All but `managedFields` (policies see the request as it came).
    ForPolicies,
    /// What the Pod Security Standards and the check catalog read: no `status`, no
    /// last-applied annotation either.
    ForChecks,
}

#[derive(Clone, Copy)]
struct MapSeed(At, Keep);

impl<'de> Visitor<'de> for MapSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        let keep = self.1;
        let checks_only = keep == Keep::ForChecks;
        while let Some(k) = map.next_key::<String>()? {
            let v = match (self.0, k.as_str()) {
                (At::Root, "request") => map.next_value_seed(OptSeed(At::Request, keep))?,
                (At::Request, "object" | "oldObject") => {
                    map.next_value_seed(OptSeed(At::Object, keep))?
                }
                (At::Object, "metadata") => map.next_value_seed(OptSeed(At::Metadata, keep))?,
                (At::Metadata, "annotations") if checks_only => map.next_value_seed(Annotations)?,
                (At::Metadata, "managedFields") => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                (At::Object, "status") if checks_only => {
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

/// An object's annotations without the `kubectl apply` one. Anything that is not a map is kept
/// as it is, as it would be without this skip: the checks read only maps of annotations.
struct Annotations;

impl<'de> DeserializeSeed<'de> for Annotations {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Annotations {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            if k == LAST_APPLIED {
                map.next_value::<IgnoredAny>()?;
            } else {
                out.insert(k, map.next_value()?);
            }
        }
        Ok(Value::Object(out))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

/// `null` or an object at a known position.
struct OptSeed(At, Keep);

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
        d.deserialize_map(MapSeed(self.0, self.1))
    }
}

/// Parses an AdmissionReview body into JSON, skipping what `keep` says no one reads.
///
/// A body that is valid UTF-8 (any real one) is checked once as a whole and then read as text,
/// so the parser does not check each string again. Otherwise the byte parser reads it, which
/// reports where the invalid sequence is.
pub(crate) fn parse_review_json(bytes: &[u8], keep: Keep) -> Result<Value, serde_json::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_with(serde_json::Deserializer::from_str(text), keep),
        Err(_) => parse_with(serde_json::Deserializer::from_slice(bytes), keep),
    }
}

fn parse_with<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    keep: Keep,
) -> Result<Value, serde_json::Error> {
    let v = de::Deserializer::deserialize_map(&mut de, MapSeed(At::Root, keep))?;
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
        let v = parse_review_json(&serde_json::to_vec(&body).unwrap(), Keep::ForPolicies).unwrap();
        let mut want = body.clone();
        want["request"]["object"]["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("managedFields");
        assert_eq!(v, want);
    }

    #[test]
    fn for_checks_also_drops_status_and_the_last_applied_annotation() {
        let body = json!({"kind": "AdmissionReview", "status": 1, "request": {"uid": "u",
            "object": {"metadata": {"name": "a", "annotations": {LAST_APPLIED: "{\"a\":1}", "team": "x"}},
                "spec": {"status": 2}, "status": {"phase": "Running"}},
            "oldObject": {"metadata": {"managedFields": []}, "status": {}}}});
        let bytes = serde_json::to_vec(&body).unwrap();
        let want = json!({"kind": "AdmissionReview", "status": 1, "request": {"uid": "u",
            "object": {"metadata": {"name": "a", "annotations": {"team": "x"}}, "spec": {"status": 2}},
            "oldObject": {"metadata": {}}}});
        assert_eq!(parse_review_json(&bytes, Keep::ForChecks).unwrap(), want);
        // policies see both
        let v = parse_review_json(&bytes, Keep::ForPolicies).unwrap();
        assert_eq!(v["request"]["object"]["status"]["phase"], "Running");
        assert_eq!(
            v["request"]["object"]["metadata"]["annotations"][LAST_APPLIED],
            "{\"a\":1}"
        );
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        for keep in [Keep::ForChecks, Keep::ForPolicies] {
            assert!(parse_review_json(b"{not json", keep).is_err());
            assert!(parse_review_json(b"{} trailing", keep).is_err());
            assert!(parse_review_json(b"[1]", keep).is_err());
            assert!(parse_review_json(br#"{"request": {"object": [1, 2]}}"#, keep).is_err());
            // invalid UTF-8 is an error that says where, from either reader
            let e = parse_review_json(b"{\"kind\": \"a\xffb\"}", keep).unwrap_err();
            assert!(e.to_string().contains("column"), "{e}");
            // annotations that are not a map are kept as they are, whatever is skipped
            for odd in ["3", "\"x\"", "[1, {\"a\": 1.5}]", "null", "true"] {
                let body = format!(
                    r#"{{"request": {{"object": {{"metadata": {{"annotations": {odd}}}}}}}}}"#
                );
                let v = parse_review_json(body.as_bytes(), keep).unwrap();
                assert_eq!(
                    v["request"]["object"]["metadata"]["annotations"],
                    serde_json::from_str::<Value>(odd).unwrap()
                );
            }
        }
    }
}
