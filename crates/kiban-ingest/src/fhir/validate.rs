//! Profile and terminology checks on FHIR resources, as a table of rules: each names the profile it applies
//! to, the element it checks (a FHIR path), what it requires, and whether a violation is a warning (the
//! resource is still mapped) or quarantines the resource (mapping it would store a wrong code).
//!
//! The rules are the ones the JP clinical-core `*ErrorExample*` files illustrate:
//! - `ecs-medication-standard-code`: a JP eCS MedicationRequest needs a YJ code, a general-name code
//!   (一般名処方コード) or the NOCODED marker in `medicationCodeableConcept.coding` (a HOT code alone is not
//!   enough). `MedicationRequest-ErrorExample-JP-MedReq-ExtEye-Total1.json` has only HOT and a local code.
//! - `ecs-lab-local-code`: a JP eCS lab result Observation needs the hospital's local code in
//!   `code.coding` beside JLAC10. `Observation-ErrorExample-ObsLabo-eGFR.json` has only JLAC10.
//! - `general-name-code-master`: a general-name code must be the one the MHLW general-name master
//!   (一般名処方マスタ) gives for its display name. `MedicationRequest-ErrorExample-JP-MedReq-PO-SID-28days.json`
//!   codes 【般】クアゼパム錠２０ｍｇ with a code whose therapeutic class (薬効分類) is wrong.
//!
//! Problems name the resource type and the element path, never a value (no code, no name).

use serde_json::Value;

use super::{codings, has_profile};

/// What a violation does to the resource.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Severity {
    /// Reported; the resource is still mapped (its data is usable as it stands).
    Warning,
    /// The resource is set aside with the reason: mapping it would store a code we know to be wrong.
    Quarantine,
}

/// One broken rule, ready to be reported.
pub(super) struct Problem {
    pub(super) severity: Severity,
    rule: &'static Rule,
}

impl Problem {
    /// `MedicationRequest.medicationCodeableConcept.coding: … (rule ecs-medication-standard-code)`.
    pub(super) fn describe(&self) -> String {
        format!("{}: {} (rule {})", self.rule.element, self.rule.requirement, self.rule.id)
    }
}

/// One check. `satisfied` reads the whole resource and says whether the rule holds.
struct Rule {
    id: &'static str,
    resource_type: &'static str,
    /// A fragment of the `meta.profile` URL that makes the rule apply; empty: every resource of the type.
    profile: &'static str,
    /// The element checked, as a FHIR path from the resource type.
    element: &'static str,
    requirement: &'static str,
    severity: Severity,
    satisfied: fn(&Value) -> bool,
}

const RULES: &[Rule] = &[
    Rule {
        id: "ecs-medication-standard-code",
        resource_type: "MedicationRequest",
        profile: "JP_MedicationRequest_eCS",
        element: "MedicationRequest.medicationCodeableConcept.coding",
        requirement: "the JP eCS profile needs a YJ, general-name (一般処方名) or NOCODED medication code, found none",
        severity: Severity::Warning,
        satisfied: has_standard_medication_code,
    },
    Rule {
        id: "ecs-lab-local-code",
        resource_type: "Observation",
        profile: "JP_Observation_LabResult_eCS",
        element: "Observation.code.coding",
        requirement: "the JP eCS lab result profile needs a local code (LocalCode system), found none",
        severity: Severity::Warning,
        satisfied: has_local_lab_code,
    },
    Rule {
        id: "general-name-code-master",
        resource_type: "MedicationRequest",
        profile: "",
        element: "MedicationRequest.medicationCodeableConcept.coding",
        requirement: "a general-name code (一般名処方コード) disagrees with its display name in the general-name master (一般名処方マスタ)",
        severity: Severity::Quarantine,
        satisfied: general_name_codes_agree,
    },
];

/// The code system of general-name codes (一般名処方マスタ) in JP Core.
const GENERAL_NAME_SYSTEM: &str = "MedicationGeneralOrderCode";

/// An excerpt of the MHLW general-name master (一般名処方マスタ): `(general-name code, name)`.
///
/// Only the names the JP clinical-core examples prescribe by general name are here: we do not ship the
/// master. With this excerpt the rule can check a coding only when its code or its display is listed; any
/// other general-name code passes unchecked. Loading the full master (published by MHLW, updated with each
/// drug-price revision) would also flag codes that do not exist at all and names coded with another
/// ingredient's code; the rule's shape stays the same, only this table grows.
const GENERAL_NAME_MASTER_EXCERPT: &[(&str, &str)] = &[("1124030F2ZZZ", "【般】クアゼパム錠２０ｍｇ")];

/// Checks every rule that applies to the resource, in table order.
pub(super) fn check(resource_type: &str, resource: &Value) -> Vec<Problem> {
    RULES
        .iter()
        .filter(|rule| rule.resource_type == resource_type)
        .filter(|rule| rule.profile.is_empty() || has_profile(resource, rule.profile))
        .filter(|rule| !(rule.satisfied)(resource))
        .map(|rule| Problem { severity: rule.severity, rule })
        .collect()
}

fn medication_concept(resource: &Value) -> &Value {
    resource.get("medicationCodeableConcept").unwrap_or(&Value::Null)
}

fn has_standard_medication_code(resource: &Value) -> bool {
    codings(medication_concept(resource)).any(|(system, _, _)| {
        ["YJ-code", GENERAL_NAME_SYSTEM, "MedicationCodeNocoded"].iter().any(|name| system.contains(name))
    })
}

fn has_local_lab_code(resource: &Value) -> bool {
    let concept = resource.get("code").unwrap_or(&Value::Null);
    codings(concept).any(|(system, _, _)| system.contains("LocalCode"))
}

/// Every general-name coding whose code or display the master excerpt lists has the pair the master gives.
fn general_name_codes_agree(resource: &Value) -> bool {
    codings(medication_concept(resource)).filter(|(system, _, _)| system.contains(GENERAL_NAME_SYSTEM)).all(
        |(_, code, display)| {
            GENERAL_NAME_MASTER_EXCERPT.iter().all(|&(master_code, master_name)| {
                let code_listed = code == master_code;
                let name_listed = display == Some(master_name);
                // Either both match this master row or neither does; a display-less coding is checked
                // by its code only.
                match display {
                    Some(_) => code_listed == name_listed,
                    None => true,
                }
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule ids a MedicationRequest with these `(system, code, display)` codings breaks.
    fn check_medication(profile: &str, coding: &[(&str, &str, &str)]) -> Vec<&'static str> {
        let coding: Vec<Value> = coding
            .iter()
            .map(|(system, code, display)| {
                serde_json::json!({"system": system, "code": code, "display": display})
            })
            .collect();
        let resource = serde_json::json!({
            "resourceType": "MedicationRequest",
            "meta": {"profile": [profile]},
            "medicationCodeableConcept": {"coding": coding},
        });
        check("MedicationRequest", &resource).iter().map(|problem| problem.rule.id).collect()
    }

    const ECS: &str = "http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_MedicationRequest_eCS|1";
    const GENERAL: &str = "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationGeneralOrderCode";
    const HOT: &str = "http://medis.or.jp/CodeSystem/master-HOT9";
    const YJ: &str = "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code";

    #[test]
    fn ecs_medication_needs_a_standard_code() {
        assert_eq!(check_medication(ECS, &[(HOT, "118185202", "点眼液")]), ["ecs-medication-standard-code"]);
        assert!(check_medication(ECS, &[(HOT, "118185202", "x"), (YJ, "1319760Q1037", "x")]).is_empty());
        assert!(check_medication("JP_MedicationRequest", &[(HOT, "118185202", "x")]).is_empty(), "not eCS");
    }

    #[test]
    fn general_name_codes_are_checked_against_the_master_excerpt() {
        let name = "【般】クアゼパム錠２０ｍｇ";
        assert!(check_medication(ECS, &[(GENERAL, "1124030F2ZZZ", name)]).is_empty());
        assert_eq!(check_medication(ECS, &[(GENERAL, "2124030F2ZZZ", name)]), ["general-name-code-master"]);
        assert_eq!(
            check_medication(ECS, &[(GENERAL, "1124030F2ZZZ", "【般】別の薬")]),
            ["general-name-code-master"],
            "a listed code with another name"
        );
        // Outside the excerpt nothing can be said, so nothing is flagged.
        assert!(check_medication(ECS, &[(GENERAL, "9999999F9ZZZ", "【般】未収載")]).is_empty());
        // The code system matters: a YJ code with the same characters is not a general-name code.
        assert!(check_medication(ECS, &[(YJ, "2124030F2ZZZ", name)]).is_empty());
    }

    #[test]
    fn problems_name_the_element_and_rule_but_no_value() {
        let resource = serde_json::json!({
            "resourceType": "Observation",
            "meta": {"profile": ["http://jpfhir.jp/fhir/eCS/StructureDefinition/JP_Observation_LabResult_eCS"]},
            "code": {"coding": [{"system": "http://medis.or.jp/CodeSystem/master-JLAC10-17digits", "code": "8A065000002391901"}]},
        });
        let problems = check("Observation", &resource);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].severity, Severity::Warning);
        let text = problems[0].describe();
        assert!(text.starts_with("Observation.code.coding: "), "{text}");
        assert!(text.ends_with("(rule ecs-lab-local-code)"), "{text}");
        assert!(!text.contains("8A065"), "{text}");
    }
}
