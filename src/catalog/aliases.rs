//! Model aliases: the names AWS gives one model in different places, as reviewed data.
//!
//! AWS publishes no mapping between a Bedrock model id (`anthropic.claude-sonnet-4-6`),
//! its Price List names (`model`/`titanModel` such as `Nova Lite`, the Marketplace
//! `servicename` such as `Claude Sonnet 4.6 (Amazon Bedrock Edition)`) and its CUR
//! usage-type slug (`Claude4.6Sonnet`). `aliases.csv` (embedded; extend it with
//! `--aliases FILE`) holds them, one row per name: `alias,kind,model_id,source`. Kind
//! `id` is another spelling of a Bedrock model id (a dated or undated form), resolved
//! exactly: nothing here is fuzzy.

use std::collections::HashMap;

/// The embedded alias data (`src/catalog/aliases.csv`).
pub const EMBEDDED_CSV: &str = include_str!("aliases.csv");
pub const EMBEDDED_NAME: &str = "embedded:aliases.csv";

/// Where a name comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Another spelling of a Bedrock model id.
    Id,
    /// A Price List `model` or `titanModel` attribute (also CUR's `product['model']`).
    PriceList,
    /// A Marketplace offer's `servicename` (also CUR's `product['product_name']`).
    ServiceName,
    /// The model slug of a CUR usage type (`USE1-<slug>-input-tokens`).
    Cur,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        match s {
            "id" => Some(Kind::Id),
            "pricelist" => Some(Kind::PriceList),
            "servicename" => Some(Kind::ServiceName),
            "cur" => Some(Kind::Cur),
            _ => None,
        }
    }
}

/// Names → Bedrock model ids.
#[derive(Clone, Debug, Default)]
pub struct Aliases {
    names: HashMap<(Kind, String), String>,
}

impl Aliases {
    /// Every alias, sorted, as one text: equal texts resolve names alike.
    pub fn digest(&self) -> String {
        let sorted: std::collections::BTreeMap<_, _> = self.names.iter().collect();
        format!("{sorted:?}")
    }

    pub fn embedded() -> Result<Aliases, Vec<String>> {
        Aliases::parse(EMBEDDED_NAME, EMBEDDED_CSV)
    }

    /// The embedded aliases, then those of `path` (which win where both name one alias).
    pub fn with_file(path: Option<&std::path::Path>) -> Result<Aliases, Vec<String>> {
        let mut aliases = Aliases::embedded()?;
        if let Some(path) = path {
            let text = std::fs::read_to_string(path)
                .map_err(|e| vec![format!("{}: cannot read aliases: {e}", path.display())])?;
            let extra = Aliases::parse(&path.display().to_string(), &text)?;
            aliases.names.extend(extra.names);
        }
        Ok(aliases)
    }

    /// `alias,kind,model_id,source` rows; every problem as `name:line: ...`. An alias
    /// of one kind may name one model only.
    pub fn parse(name: &str, text: &str) -> Result<Aliases, Vec<String>> {
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let header: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(|c| c.trim().to_string()).collect(),
            Err(e) => return Err(vec![format!("{name}:1: unreadable header: {e}")]),
        };
        if header != ["alias", "kind", "model_id", "source"] {
            return Err(vec![format!(
                "{name}:1: the header must be alias,kind,model_id,source (found: {})",
                crate::error::clip(&header.join(","))
            )]);
        }
        let mut names = HashMap::new();
        let mut problems = Vec::new();
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("{name}: {e}"));
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line());
            let field = |i: usize| record.get(i).unwrap_or("").trim();
            let (alias, model) = (field(0), field(2));
            let Some(kind) = Kind::parse(field(1)) else {
                let kind = crate::error::clip(field(1));
                problems.push(format!(
                    "{name}:{line}: unknown kind \"{kind}\" (expected id, pricelist, servicename or cur)"
                ));
                continue;
            };
            if alias.is_empty() || model.is_empty() {
                problems.push(format!(
                    "{name}:{line}: alias and model_id must not be empty"
                ));
                continue;
            }
            let key = (kind, alias.to_string());
            match names.get(&key) {
                Some(other) if other != model => problems.push(format!(
                    "{name}:{line}: \"{alias}\" already names {other}, not {model}"
                )),
                _ => {
                    names.insert(key, model.to_string());
                }
            }
        }
        match problems.is_empty() {
            true => Ok(Aliases { names }),
            false => Err(problems),
        }
    }

    /// The model a name of this kind stands for.
    pub fn model(&self, kind: Kind, name: &str) -> Option<&str> {
        self.names
            .get(&(kind, name.trim().to_string()))
            .map(String::as_str)
    }

    /// A Bedrock model id in the spelling the catalog uses: an `id` alias's target, or
    /// the id itself.
    pub fn canonical<'a>(&'a self, id: &'a str) -> &'a str {
        self.model(Kind::Id, id).unwrap_or(id)
    }

    /// Every model id some alias names.
    pub fn models(&self) -> std::collections::BTreeSet<&str> {
        self.names.values().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_aliases_load() {
        let a = Aliases::embedded().unwrap();
        assert_eq!(
            a.model(Kind::PriceList, "Nova Lite"),
            Some("amazon.nova-lite-v1:0")
        );
        assert_eq!(
            a.model(
                Kind::ServiceName,
                "Claude Sonnet 4.6 (Amazon Bedrock Edition)"
            ),
            Some("anthropic.claude-sonnet-4-6")
        );
        assert_eq!(
            a.model(Kind::Cur, "Claude4.6Sonnet"),
            Some("anthropic.claude-sonnet-4-6")
        );
        assert_eq!(
            a.canonical("amazon.nova-lite-v1:0"),
            "amazon.nova-lite-v1:0"
        );
    }

    #[test]
    fn an_alias_names_one_model_and_kinds_are_known() {
        let text = "alias,kind,model_id,source\nX,pricelist,a,s\nX,pricelist,b,s\nY,colour,a,s\n";
        let p = Aliases::parse("t.csv", text).unwrap_err();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("t.csv:3: \"X\" already names a, not b"),
            "{p:?}"
        );
        assert!(p[1].contains("unknown kind \"colour\""), "{p:?}");
        // The same alias of another kind is another name.
        let ok = "alias,kind,model_id,source\nX,pricelist,a,s\nX,cur,b,s\n";
        assert!(Aliases::parse("t.csv", ok).is_ok());
    }
}
