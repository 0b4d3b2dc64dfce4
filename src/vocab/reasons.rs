//! Reject reason codes: stable strings written in `rejects.*` and the manifest.

macro_rules! reasons {
    ($($variant:ident => $text:literal),+ $(,)?) => {
        /// Why a usage row was not priced.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Reason { $($variant),+ }

        impl Reason {
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $(Reason::$variant => $text),+ }
            }

            /// The reason a code names (`code`'s inverse).
            pub fn from_code(code: &str) -> Option<Reason> {
                Reason::ALL.iter().copied().find(|r| r.code() == code)
            }
        }
    };
}

reasons! {
    BadRow => "bad_row",
    BadValue => "bad_value",
    BadJson => "bad_json",
    BadRecord => "bad_record",
    UnsupportedSchema => "unsupported_schema",
    MissingBody => "missing_body",
    CorruptFile => "corrupt_file",
    MissingValue => "missing_value",
    BadTimestamp => "bad_timestamp",
    BadQuantity => "bad_quantity",
    BadMode => "bad_mode",
    BadServiceTier => "bad_service_tier",
    BadImage => "bad_image",
    BadTags => "bad_tags",
    UnknownModel => "unknown_model",
    NoPrice => "no_price",
    BadInterval => "bad_interval",
    BadCommitment => "bad_commitment",
    Overlap => "overlap",
    Overflow => "overflow",
    DuplicateConflict => "duplicate_conflict",
}
