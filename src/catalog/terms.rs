//! The catalog's vocabulary: usage types, modes, service tiers, image qualities.

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }

            /// The accepted spellings, for error messages.
            pub fn expected() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// A billable meter. New meters (capacity, customization) are new variants.
    UsageType {
        InputTokens => "input_tokens",
        OutputTokens => "output_tokens",
        CacheReadTokens => "cache_read_tokens",
        CacheWriteTokens => "cache_write_tokens",
        Images => "images",
        MuHours => "mu_hours",
        CmuMinutes => "cmu_minutes",
        CmuStorageMonths => "cmu_storage_months",
        TrainingTokens => "training_tokens",
        TrainingImages => "training_images",
        ModelStorageMonths => "model_storage_months",
    }
}

vocabulary! {
    /// How a request was submitted.
    Mode {
        OnDemand => "on_demand",
        Batch => "batch",
        Provisioned => "provisioned",
        Imported => "imported",
        Customization => "customization",
    }
}

vocabulary! {
    /// Provisioned Throughput commitment term.
    Commitment { NoCommitment => "none", OneMonth => "1-month", SixMonth => "6-month" }
}

impl UsageType {
    /// The per-request meters of a usage row, in `rows::METER_COLUMNS` order.
    pub const METERS: [UsageType; 5] = [
        UsageType::InputTokens,
        UsageType::OutputTokens,
        UsageType::CacheReadTokens,
        UsageType::CacheWriteTokens,
        UsageType::Images,
    ];

    /// The mode a capacity meter is billed under; `None` for per-request meters.
    pub fn capacity_mode(self) -> Option<Mode> {
        match self {
            UsageType::MuHours => Some(Mode::Provisioned),
            UsageType::CmuMinutes | UsageType::CmuStorageMonths => Some(Mode::Imported),
            UsageType::TrainingTokens
            | UsageType::TrainingImages
            | UsageType::ModelStorageMonths => Some(Mode::Customization),
            _ => None,
        }
    }
}

vocabulary! {
    /// Bedrock service tier (latency-optimized inference is priced like a tier).
    Tier {
        Standard => "standard",
        Priority => "priority",
        Flex => "flex",
        LatencyOptimized => "latency_optimized",
        Reserved => "reserved",
    }
}

vocabulary! {
    /// Image generation quality.
    ImageQuality { Standard => "standard", Premium => "premium" }
}

impl Tier {
    /// Usage and catalog spelling: empty and Bedrock's `default` mean standard.
    pub fn parse_or_standard(s: &str) -> Option<Tier> {
        match s {
            "" | "default" => Some(Tier::Standard),
            other => Tier::parse(other),
        }
    }
}

impl Mode {
    /// Usage spelling: empty means on-demand.
    pub fn parse_or_on_demand(s: &str) -> Option<Mode> {
        if s.is_empty() {
            Some(Mode::OnDemand)
        } else {
            Mode::parse(s)
        }
    }
}

/// A Custom Model Import CMU version as compared: `v1.0`, `V1.0` and `1.0` are one
/// version (AWS writes both).
pub fn cmu_version(text: &str) -> &str {
    let text = text.trim();
    text.strip_prefix(['v', 'V']).unwrap_or(text)
}
