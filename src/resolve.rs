//! Model-id resolution: inference-profile prefixes and ARNs → base model + scope.

use std::fmt;

/// Where a request was served from, for pricing: a catalog dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    InRegion,
    Geo,
    Global,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::InRegion => "in_region",
            Scope::Geo => "geo",
            Scope::Global => "global",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "in_region" => Some(Scope::InRegion),
            "geo" => Some(Scope::Geo),
            "global" => Some(Scope::Global),
            _ => None,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Geography prefixes of cross-region (geo) inference profiles.
const GEO_PREFIXES: [&str; 6] = ["us-gov.", "us.", "eu.", "apac.", "jp.", "au."];

/// A model id as the catalog knows it, with the scope the request used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedModel {
    pub model_id: String,
    pub scope: Scope,
}

/// Why a model id cannot be resolved to a base model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unresolved {
    /// An application-inference-profile ARN says nothing about its model.
    ApplicationProfile,
    /// An ARN of a kind billrun does not price per token (custom, provisioned...).
    UnsupportedArn,
    Empty,
}

/// Resolves a raw model id, inference-profile id or Bedrock ARN.
pub fn resolve_model_id(raw: &str) -> Result<ResolvedModel, Unresolved> {
    let raw = raw.trim();
    let id = match raw.strip_prefix("arn:") {
        Some(_) => arn_resource(raw)?,
        None => raw,
    };
    if id.is_empty() {
        return Err(Unresolved::Empty);
    }
    if let Some(base) = id.strip_prefix("global.") {
        return Ok(resolved(base, Scope::Global));
    }
    for prefix in GEO_PREFIXES {
        if let Some(base) = id.strip_prefix(prefix) {
            return Ok(resolved(base, Scope::Geo));
        }
    }
    Ok(resolved(id, Scope::InRegion))
}

fn resolved(model_id: &str, scope: Scope) -> ResolvedModel {
    ResolvedModel {
        model_id: model_id.to_string(),
        scope,
    }
}

/// `arn:<partition>:bedrock:<region>:<account>:<type>/<id>` → the id, for the
/// resource types that name a model (foundation model, system inference profile).
fn arn_resource(arn: &str) -> Result<&str, Unresolved> {
    let resource = arn
        .splitn(6, ':')
        .nth(5)
        .ok_or(Unresolved::UnsupportedArn)?;
    let (kind, id) = resource.split_once('/').ok_or(Unresolved::UnsupportedArn)?;
    match kind {
        "foundation-model" | "inference-profile" => Ok(id),
        "application-inference-profile" => Err(Unresolved::ApplicationProfile),
        _ => Err(Unresolved::UnsupportedArn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> (String, Scope) {
        let r = resolve_model_id(raw).unwrap();
        (r.model_id, r.scope)
    }

    #[test]
    fn prefixes_give_scope() {
        let m = "anthropic.claude-3-5-sonnet-20241022-v2:0";
        assert_eq!(ok(m), (m.to_string(), Scope::InRegion));
        assert_eq!(ok(&format!("us.{m}")), (m.to_string(), Scope::Geo));
        assert_eq!(ok(&format!("us-gov.{m}")), (m.to_string(), Scope::Geo));
        assert_eq!(ok(&format!("apac.{m}")), (m.to_string(), Scope::Geo));
        assert_eq!(ok(&format!("global.{m}")), (m.to_string(), Scope::Global));
    }

    #[test]
    fn arns_resolve_like_ids() {
        let fm = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0";
        assert_eq!(
            ok(fm),
            ("amazon.nova-pro-v1:0".to_string(), Scope::InRegion)
        );
        let ip = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.amazon.nova-pro-v1:0";
        assert_eq!(ok(ip), ("amazon.nova-pro-v1:0".to_string(), Scope::Geo));
    }

    #[test]
    fn application_profiles_and_other_arns_are_unresolved() {
        let app = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123";
        assert_eq!(resolve_model_id(app), Err(Unresolved::ApplicationProfile));
        let custom = "arn:aws:bedrock:us-east-1:123456789012:custom-model/x/y";
        assert_eq!(resolve_model_id(custom), Err(Unresolved::UnsupportedArn));
        assert_eq!(resolve_model_id("  "), Err(Unresolved::Empty));
    }
}
