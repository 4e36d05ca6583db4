//! Salesforce's restricted picklists on User: TimeZoneSidKey, LocaleSidKey, LanguageLocaleKey and EmailEncodingKey.
//! Salesforce refuses any other value with INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST, and does so only after a row's
//! Connect side may already be written; the offline check catches what can be known without the org.
//!
//! Where the documented list is whole (time zones, email encodings, the fully supported and end-user languages) a
//! value must be on it. Where it is not (the many platform-only languages, locales that vary by release) a value
//! must have the shape of Salesforce's codes, and the org has the last word. Nothing here refuses a value that an
//! org could offer.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Salesforce's time zone codes: IANA names and GMT (Salesforce Help, "Supported Time Zones"; an org's User
/// describe lists the TimeZoneSidKey picklist as names like "Pacific/Kiritimati" and "GMT"). The file says how it
/// was generated.
const TIME_ZONES: &str = include_str!("../../data/salesforce_time_zones.txt");

/// EmailEncodingKey's values, as an org's User describe lists them (Force.com JPA codegen of User,
/// EmailEncodingKeyEnum): UTF-8 through GB2312. Big5-HKSCS and x-SJIS_0213 are offered by current orgs' Setup
/// ("Traditional Chinese Hong Kong", "Japanese (Shift_JIS_2004)"); they are kept so that the check never refuses a
/// value an org offers.
pub const EMAIL_ENCODINGS: &[&str] = &[
    "UTF-8",
    "ISO-8859-1",
    "Shift_JIS",
    "ISO-2022-JP",
    "EUC-JP",
    "ks_c_5601-1987",
    "Big5",
    "GB2312",
    "Big5-HKSCS",
    "x-SJIS_0213",
];

/// The fully supported languages, then the end-user languages (Metadata API Developer Guide, "Translations",
/// Language). Platform-only languages are many more; they pass on their shape.
pub const DOCUMENTED_LANGUAGES: &[&str] = &[
    "zh_CN", "zh_TW", "da", "nl_NL", "en_US", "fi", "fr", "de", "it", "ja", "ko", "no", "pt_BR", "ru", "es", "es_MX",
    "sv", "th", // fully supported
    "ar", "bg", "hr", "cs", "en_GB", "el", "iw", "hu", "in", "pl", "pt_PT", "ro", "sk", "sl", "tr", "uk",
    "vi", // end-user
];

/// Locales that every org offers (Salesforce Help, "Supported Locales"): used only to suggest the right spelling.
const COMMON_LOCALES: &[&str] = &[
    "en_US", "en_GB", "en_CA", "en_AU", "en_IN", "en_IE", "en_NZ", "en_SG", "en_ZA", "fr_FR", "fr_CA", "fr_BE",
    "fr_CH", "de_DE", "de_AT", "de_CH", "es_ES", "es_MX", "it_IT", "ja_JP", "ko_KR", "nl_NL", "pt_BR", "pt_PT",
    "zh_CN", "zh_TW", "sv_SE", "da_DK", "fi_FI", "no_NO", "ru_RU", "pl_PL",
];

/// Which of the four picklists a value is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picklist {
    TimeZone,
    Locale,
    Language,
    EmailEncoding,
}

impl Picklist {
    /// The User field, as Salesforce names it.
    pub fn field(self) -> &'static str {
        match self {
            Picklist::TimeZone => "TimeZoneSidKey",
            Picklist::Locale => "LocaleSidKey",
            Picklist::Language => "LanguageLocaleKey",
            Picklist::EmailEncoding => "EmailEncodingKey",
        }
    }

    /// Whether Salesforce could take `value`; if not, a sentence that says why and, where one is near, what was
    /// meant. The value itself is never quoted: the caller decides how much of a cell a message may show.
    pub fn check(self, value: &str) -> Result<(), String> {
        let known = match self {
            Picklist::TimeZone => time_zones().contains(value),
            Picklist::EmailEncoding => EMAIL_ENCODINGS.contains(&value),
            Picklist::Language => DOCUMENTED_LANGUAGES.contains(&value) || language_shaped(value),
            Picklist::Locale => locale_shaped(value),
        };
        if known {
            return Ok(());
        }
        let hint = match self.nearest(value) {
            Some(meant) => format!("; did you mean {meant}?"),
            None => String::new(),
        };
        let expected = match self {
            Picklist::TimeZone => "an IANA time zone name such as America/New_York, or GMT",
            Picklist::Locale => "a locale code such as en_US or fr_CA",
            Picklist::Language => "a language code such as en_US, de or pt_BR",
            Picklist::EmailEncoding => {
                "one of UTF-8, ISO-8859-1, Shift_JIS, ISO-2022-JP, EUC-JP, ks_c_5601-1987, Big5, GB2312, Big5-HKSCS, x-SJIS_0213"
            }
        };
        Err(format!("not a value of Salesforce's {} picklist: give {expected}{hint}", self.field()))
    }

    /// The listed value that `value` spells differently: another case, or `-` for `_` ("en-us" for en_US).
    fn nearest(self, value: &str) -> Option<&'static str> {
        let wanted = value.replace('-', "_");
        let same = |candidate: &&'static str| {
            candidate.eq_ignore_ascii_case(value) || candidate.replace('-', "_").eq_ignore_ascii_case(&wanted)
        };
        let listed: Box<dyn Iterator<Item = &&'static str>> = match self {
            Picklist::TimeZone => Box::new(time_zones().iter()),
            Picklist::EmailEncoding => Box::new(EMAIL_ENCODINGS.iter()),
            Picklist::Language => Box::new(DOCUMENTED_LANGUAGES.iter()),
            Picklist::Locale => Box::new(COMMON_LOCALES.iter()),
        };
        listed.copied().find(|candidate| same(candidate))
    }
}

fn time_zones() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| TIME_ZONES.lines().filter(|line| !line.is_empty() && !line.starts_with('#')).collect())
}

/// A language code: a lower-case ISO 639 code, optionally `_` and an upper-case country (`ar_DZ`, `sh_ME`).
fn language_shaped(value: &str) -> bool {
    let mut parts = value.split('_');
    let language = parts.next().unwrap_or_default();
    let country = parts.next();
    parts.next().is_none() && iso_language(language) && country.is_none_or(iso_country)
}

/// A locale code: a language, optionally a country, optionally one variant (`zh_CN_PINYIN`, `ja_JP_JP`).
fn locale_shaped(value: &str) -> bool {
    let mut parts = value.split('_');
    let language = parts.next().unwrap_or_default();
    let country = parts.next();
    let variant = parts.next();
    parts.next().is_none()
        && iso_language(language)
        && country.is_none_or(iso_country)
        && variant.is_none_or(|v| (2..=8).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn iso_language(text: &str) -> bool {
    (2..=3).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_lowercase())
}

fn iso_country(text: &str) -> bool {
    text.len() == 2 && text.bytes().all(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_zones_are_iana_names_and_gmt() {
        for zone in ["America/Los_Angeles", "Europe/Paris", "Asia/Kolkata", "Asia/Calcutta", "GMT", "Pacific/Chatham"] {
            assert_eq!(Picklist::TimeZone.check(zone), Ok(()), "{zone}");
        }
        for zone in ["PST", "EST", "UTC+1", "America/NewYork", "US/Pacific", "Etc/GMT+5", ""] {
            assert!(Picklist::TimeZone.check(zone).is_err(), "{zone}");
        }
        let message = Picklist::TimeZone.check("america/los_angeles").unwrap_err();
        assert!(message.contains("did you mean America/Los_Angeles?"), "{message}");
        assert!(message.contains("TimeZoneSidKey"), "{message}");
    }

    #[test]
    fn the_time_zone_file_holds_only_names() {
        assert!(time_zones().len() > 400, "{}", time_zones().len());
        assert!(time_zones().iter().all(|zone| *zone == "GMT" || zone.contains('/')));
    }

    #[test]
    fn email_encodings_are_the_listed_ones_only() {
        for encoding in EMAIL_ENCODINGS {
            assert_eq!(Picklist::EmailEncoding.check(encoding), Ok(()));
        }
        assert!(Picklist::EmailEncoding.check("UTF8").is_err());
        let message = Picklist::EmailEncoding.check("utf-8").unwrap_err();
        assert!(message.ends_with("did you mean UTF-8?"), "{message}");
    }

    #[test]
    fn languages_are_documented_or_shaped_like_a_salesforce_code() {
        for language in ["en_US", "de", "pt_BR", "iw", "eu", "ar_DZ"] {
            assert_eq!(Picklist::Language.check(language), Ok(()), "{language}");
        }
        for language in ["English", "EN_US", "en_us", "en-US", "e", "en_USA", "en_US_x"] {
            assert!(Picklist::Language.check(language).is_err(), "{language}");
        }
        assert!(Picklist::Language.check("en-US").unwrap_err().ends_with("did you mean en_US?"));
    }

    #[test]
    fn locales_are_shaped_like_a_salesforce_code() {
        for locale in ["en_US", "fr_CA", "zh_CN_PINYIN", "ja_JP_JP", "sq", "haw_US"] {
            assert_eq!(Picklist::Locale.check(locale), Ok(()), "{locale}");
        }
        for locale in ["en-US", "English (United States)", "EN_US", "en_us", "en_US_", "en_US_a_b"] {
            assert!(Picklist::Locale.check(locale).is_err(), "{locale}");
        }
        assert!(Picklist::Locale.check("en-gb").unwrap_err().ends_with("did you mean en_GB?"));
    }
}
