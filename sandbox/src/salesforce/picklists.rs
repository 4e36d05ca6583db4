//! User's restricted picklists, as the org enforces them: a value off the list is refused with
//! INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST ("<label>: bad value for restricted picklist field: <value>", REST API
//! Developer Guide, Status Codes and Error Responses). Where the documented list is not whole the sandbox keeps a
//! shorter one than a real org offers: at least as strict as the service.

use std::collections::HashSet;
use std::sync::OnceLock;

// EmailEncodingKey's values, and the fully supported and end-user languages, are the documented lists ccbulk checks
// against (their sources are given there). Real orgs also take the platform-only languages; the sandbox does not, so
// that a value only the org can judge is seen refused.
use ccbulk_shared::validate::picklists::{DOCUMENTED_LANGUAGES as LANGUAGES, EMAIL_ENCODINGS};

use super::org::{Record, SfError};

/// IANA names and GMT (Salesforce Help, "Supported Time Zones"); the file says how it was generated.
const TIME_ZONES: &str = include_str!("../../../shared/data/salesforce_time_zones.txt");

/// An org's User describe, LocaleSidKey (Force.com JPA codegen of User), with hu_HU, pl_PL and tr_TR that later
/// releases added.
const LOCALES: &[&str] = &[
    "sq", "sq_AL", "ar", "ar_BH", "ar_EG", "ar_JO", "ar_KW", "ar_LB", "ar_QA", "ar_SA", "ar_AE", "hy_AM", "az_AZ",
    "eu", "eu_ES", "be_BY", "bn_BD", "bs", "bs_BA", "bg", "bg_BG", "ca", "ca_ES", "zh", "zh_CN", "zh_HK", "zh_TW",
    "hr", "hr_HR", "cs", "cs_CZ", "da", "da_DK", "nl", "nl_BE", "nl_NL", "nl_SR", "en_AU", "en_BB", "en_BM", "en_CA",
    "en_GH", "en_IN", "en_ID", "en_IE", "en_MY", "en_NZ", "en_NG", "en_PK", "en_PH", "en_SG", "en_ZA", "en_GB",
    "en_US", "et", "et_EE", "fi", "fi_FI", "fr", "fr_BE", "fr_CA", "fr_FR", "fr_LU", "fr_MC", "fr_CH", "ka", "ka_GE",
    "de", "de_AT", "de_DE", "de_LU", "de_CH", "el", "el_GR", "iw", "iw_IL", "hi_IN", "hu", "hu_HU", "is", "is_IS",
    "in", "ga", "ga_IE", "it", "it_IT", "it_CH", "ja", "ja_JP", "kk_KZ", "km_KH", "ky_KG", "ko", "ko_KR", "lv",
    "lv_LV", "lt", "lt_LT", "mk", "mk_MK", "ms_MY", "mt", "mt_MT", "sh_ME", "no", "no_NO", "pl", "pl_PL", "pt",
    "pt_AO", "pt_BR", "pt_PT", "ro", "ro_MD", "ro_RO", "ru", "ru_RU", "sr", "sr_BA", "sh", "sh_BA", "sh_CS", "sr_CS",
    "sk", "sk_SK", "sl", "sl_SI", "es", "es_AR", "es_BO", "es_CL", "es_CO", "es_CR", "es_DO", "es_EC", "es_SV",
    "es_GT", "es_HN", "es_MX", "es_PA", "es_PY", "es_PE", "es_PR", "es_ES", "es_UY", "es_VE", "sv", "sv_SE", "tl",
    "tl_PH", "tg_TJ", "th", "th_TH", "tr", "tr_TR", "uk", "uk_UA", "ur_PK", "vi", "vi_VN", "cy", "cy_GB",
];

/// The User picklists: field, label (as the error message names it) and the values the org takes.
fn picklists() -> [(&'static str, &'static str, &'static HashSet<&'static str>); 4] {
    static SETS: OnceLock<[HashSet<&'static str>; 4]> = OnceLock::new();
    let [zones, locales, languages, encodings] = SETS.get_or_init(|| {
        [
            TIME_ZONES.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect(),
            LOCALES.iter().copied().collect(),
            LANGUAGES.iter().copied().collect(),
            EMAIL_ENCODINGS.iter().copied().collect(),
        ]
    });
    [
        ("TimeZoneSidKey", "Time Zone", zones),
        ("LocaleSidKey", "Locale", locales),
        ("LanguageLocaleKey", "Language", languages),
        ("EmailEncodingKey", "Email Encoding", encodings),
    ]
}

/// Refuses a User write whose picklist fields hold a value off the list, or null where the field is being set.
pub fn check_user(record: &Record) -> Result<(), SfError> {
    for (field, label, values) in picklists() {
        let Some(value) = record.get(field) else { continue };
        let text = value.as_str().unwrap_or_default();
        if !values.contains(text) {
            return Err(SfError::new(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                format!("{label}: bad value for restricted picklist field: {text}"),
                &[field],
            ));
        }
    }
    Ok(())
}
