//! Record linkage (名寄せ): finds which provider-local patients are one person, before processing.
//!
//! Input is the identified demographics of every provider-local patient
//! ([`kiban_model::IdentifiedPerson`]); output is a [`Linkage`]: a cluster number per input record, a
//! review queue of uncertain pairs, and counts. The crate is pure and deterministic: no I/O, no clock,
//! no randomness, and the result depends only on the records, not on their order.
//!
//! ```
//! use kiban_linkage::{link, LinkageConfig};
//! use kiban_model::{IdentifiedPerson, LocalPatientId, NaiveDate, PersonName, ProviderCode, Sex};
//!
//! let person = |provider: &str, kana: (&str, &str)| {
//!     let mut person = IdentifiedPerson::new(ProviderCode::new(provider).unwrap(), LocalPatientId::new("1").unwrap());
//!     person.name_kana = Some(PersonName::new(kana.0, kana.1));
//!     person.birth_date = NaiveDate::from_ymd_opt(1960, 4, 1);
//!     person.sex = Sex::Female;
//!     person
//! };
//! let a = person("1310000001", ("ヤマダ", "ハナコ"));
//! let b = person("1310000002", ("ﾔﾏﾀﾞ ﾊﾅｺ", ""));
//! let linkage = link(&[&a, &b], &LinkageConfig::default());
//! assert_eq!(linkage.cluster_of, vec![0, 0]);
//! ```
//!
//! Design decisions, with reasons:
//! - Normalization first ([`normalize`]): width, hiragana/katakana, spaces, small kana, long vowels,
//!   variant kanji, insurer-number padding. Most real disagreements are spelling, not identity.
//! - Blocking, never all pairs: candidates share a birth date, a kana or kanji full name, an insurance
//!   key or a phone number, and large blocks are compared within a sliding window only. A pair that
//!   shares none of these is not considered (for example a name typo together with a birth-date typo
//!   and no shared insurance or phone).
//! - Strong keys link outright: (kana full name, birth date, sex), and (insurance key, birth date) unless
//!   the given names disagree (twins share the household insurance key).
//! - Everything else is scored Fellegi–Sunter style with documented m/u values (module `weights` in the
//!   source), value-specific for names, with a guard for household fields that violate independence.
//! - Records of one provider under different IDs are never linked: a provider keeps one ID per person,
//!   and when it does not, merging its IDs is its own decision. Such pairs are queued for review.
//! - Union-find applies links strongest first and keeps at most one ID per provider in a cluster, so a
//!   chain of links cannot pull two patients of one provider together; the refused link is queued.
//! - A complete birth-date disagreement, or a contradicted given name (the pattern of twins), never links
//!   automatically, whatever the other fields say: such pairs go to review.

mod evaluate;
mod link;
pub mod normalize;
mod similarity;
mod weights;

pub use evaluate::{PairwiseQuality, evaluate};
pub use link::{
    Agreement, FieldAgreement, Linkage, LinkageConfig, LinkageStats, ReviewPair, ReviewReason, link,
};
pub use similarity::jaro_winkler;
