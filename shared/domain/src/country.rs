//! ISO 3166-1 alpha-2 country codes.
//!
//! Management Authorities are identified by their country, so the country code is part of every
//! permit's identity. The table holds the officially assigned codes and the user-assigned ranges
//! (AA, QM-QZ, XA-XZ, ZZ), which test and pilot deployments use (the EPIX test suite uses XA, XB,
//! XC); validation reports a user-assigned code as information, not as an error.

use crate::codes::CodeList;
use std::fmt;

/// An ISO 3166-1 alpha-2 code, officially assigned or from a user-assigned range.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode(u16);

const TABLE: &[(&str, &str, bool)] = &[
    ("AA", "user-assigned code AA", true),
    ("AD", "Andorra", false),
    ("AE", "United Arab Emirates", false),
    ("AF", "Afghanistan", false),
    ("AG", "Antigua and Barbuda", false),
    ("AI", "Anguilla", false),
    ("AL", "Albania", false),
    ("AM", "Armenia", false),
    ("AO", "Angola", false),
    ("AQ", "Antarctica", false),
    ("AR", "Argentina", false),
    ("AS", "American Samoa", false),
    ("AT", "Austria", false),
    ("AU", "Australia", false),
    ("AW", "Aruba", false),
    ("AX", "Åland Islands", false),
    ("AZ", "Azerbaijan", false),
    ("BA", "Bosnia and Herzegovina", false),
    ("BB", "Barbados", false),
    ("BD", "Bangladesh", false),
    ("BE", "Belgium", false),
    ("BF", "Burkina Faso", false),
    ("BG", "Bulgaria", false),
    ("BH", "Bahrain", false),
    ("BI", "Burundi", false),
    ("BJ", "Benin", false),
    ("BL", "Saint Barthélemy", false),
    ("BM", "Bermuda", false),
    ("BN", "Brunei Darussalam", false),
    ("BO", "Bolivia", false),
    ("BQ", "Bonaire, Sint Eustatius and Saba", false),
    ("BR", "Brazil", false),
    ("BS", "Bahamas", false),
    ("BT", "Bhutan", false),
    ("BV", "Bouvet Island", false),
    ("BW", "Botswana", false),
    ("BY", "Belarus", false),
    ("BZ", "Belize", false),
    ("CA", "Canada", false),
    ("CC", "Cocos (Keeling) Islands", false),
    ("CD", "Congo, The Democratic Republic of the", false),
    ("CF", "Central African Republic", false),
    ("CG", "Congo", false),
    ("CH", "Switzerland", false),
    ("CI", "Côte d'Ivoire", false),
    ("CK", "Cook Islands", false),
    ("CL", "Chile", false),
    ("CM", "Cameroon", false),
    ("CN", "China", false),
    ("CO", "Colombia", false),
    ("CR", "Costa Rica", false),
    ("CU", "Cuba", false),
    ("CV", "Cabo Verde", false),
    ("CW", "Curaçao", false),
    ("CX", "Christmas Island", false),
    ("CY", "Cyprus", false),
    ("CZ", "Czechia", false),
    ("DE", "Germany", false),
    ("DJ", "Djibouti", false),
    ("DK", "Denmark", false),
    ("DM", "Dominica", false),
    ("DO", "Dominican Republic", false),
    ("DZ", "Algeria", false),
    ("EC", "Ecuador", false),
    ("EE", "Estonia", false),
    ("EG", "Egypt", false),
    ("EH", "Western Sahara", false),
    ("ER", "Eritrea", false),
    ("ES", "Spain", false),
    ("ET", "Ethiopia", false),
    ("FI", "Finland", false),
    ("FJ", "Fiji", false),
    ("FK", "Falkland Islands (Malvinas)", false),
    ("FM", "Micronesia, Federated States of", false),
    ("FO", "Faroe Islands", false),
    ("FR", "France", false),
    ("GA", "Gabon", false),
    ("GB", "United Kingdom", false),
    ("GD", "Grenada", false),
    ("GE", "Georgia", false),
    ("GF", "French Guiana", false),
    ("GG", "Guernsey", false),
    ("GH", "Ghana", false),
    ("GI", "Gibraltar", false),
    ("GL", "Greenland", false),
    ("GM", "Gambia", false),
    ("GN", "Guinea", false),
    ("GP", "Guadeloupe", false),
    ("GQ", "Equatorial Guinea", false),
    ("GR", "Greece", false),
    ("GS", "South Georgia and the South Sandwich Islands", false),
    ("GT", "Guatemala", false),
    ("GU", "Guam", false),
    ("GW", "Guinea-Bissau", false),
    ("GY", "Guyana", false),
    ("HK", "Hong Kong", false),
    ("HM", "Heard Island and McDonald Islands", false),
    ("HN", "Honduras", false),
    ("HR", "Croatia", false),
    ("HT", "Haiti", false),
    ("HU", "Hungary", false),
    ("ID", "Indonesia", false),
    ("IE", "Ireland", false),
    ("IL", "Israel", false),
    ("IM", "Isle of Man", false),
    ("IN", "India", false),
    ("IO", "British Indian Ocean Territory", false),
    ("IQ", "Iraq", false),
    ("IR", "Iran", false),
    ("IS", "Iceland", false),
    ("IT", "Italy", false),
    ("JE", "Jersey", false),
    ("JM", "Jamaica", false),
    ("JO", "Jordan", false),
    ("JP", "Japan", false),
    ("KE", "Kenya", false),
    ("KG", "Kyrgyzstan", false),
    ("KH", "Cambodia", false),
    ("KI", "Kiribati", false),
    ("KM", "Comoros", false),
    ("KN", "Saint Kitts and Nevis", false),
    ("KP", "North Korea", false),
    ("KR", "South Korea", false),
    ("KW", "Kuwait", false),
    ("KY", "Cayman Islands", false),
    ("KZ", "Kazakhstan", false),
    ("LA", "Laos", false),
    ("LB", "Lebanon", false),
    ("LC", "Saint Lucia", false),
    ("LI", "Liechtenstein", false),
    ("LK", "Sri Lanka", false),
    ("LR", "Liberia", false),
    ("LS", "Lesotho", false),
    ("LT", "Lithuania", false),
    ("LU", "Luxembourg", false),
    ("LV", "Latvia", false),
    ("LY", "Libya", false),
    ("MA", "Morocco", false),
    ("MC", "Monaco", false),
    ("MD", "Moldova", false),
    ("ME", "Montenegro", false),
    ("MF", "Saint Martin (French part)", false),
    ("MG", "Madagascar", false),
    ("MH", "Marshall Islands", false),
    ("MK", "North Macedonia", false),
    ("ML", "Mali", false),
    ("MM", "Myanmar", false),
    ("MN", "Mongolia", false),
    ("MO", "Macao", false),
    ("MP", "Northern Mariana Islands", false),
    ("MQ", "Martinique", false),
    ("MR", "Mauritania", false),
    ("MS", "Montserrat", false),
    ("MT", "Malta", false),
    ("MU", "Mauritius", false),
    ("MV", "Maldives", false),
    ("MW", "Malawi", false),
    ("MX", "Mexico", false),
    ("MY", "Malaysia", false),
    ("MZ", "Mozambique", false),
    ("NA", "Namibia", false),
    ("NC", "New Caledonia", false),
    ("NE", "Niger", false),
    ("NF", "Norfolk Island", false),
    ("NG", "Nigeria", false),
    ("NI", "Nicaragua", false),
    ("NL", "Netherlands", false),
    ("NO", "Norway", false),
    ("NP", "Nepal", false),
    ("NR", "Nauru", false),
    ("NU", "Niue", false),
    ("NZ", "New Zealand", false),
    ("OM", "Oman", false),
    ("PA", "Panama", false),
    ("PE", "Peru", false),
    ("PF", "French Polynesia", false),
    ("PG", "Papua New Guinea", false),
    ("PH", "Philippines", false),
    ("PK", "Pakistan", false),
    ("PL", "Poland", false),
    ("PM", "Saint Pierre and Miquelon", false),
    ("PN", "Pitcairn", false),
    ("PR", "Puerto Rico", false),
    ("PS", "Palestine, State of", false),
    ("PT", "Portugal", false),
    ("PW", "Palau", false),
    ("PY", "Paraguay", false),
    ("QA", "Qatar", false),
    ("QM", "user-assigned code QM", true),
    ("QN", "user-assigned code QN", true),
    ("QO", "user-assigned code QO", true),
    ("QP", "user-assigned code QP", true),
    ("QQ", "user-assigned code QQ", true),
    ("QR", "user-assigned code QR", true),
    ("QS", "user-assigned code QS", true),
    ("QT", "user-assigned code QT", true),
    ("QU", "user-assigned code QU", true),
    ("QV", "user-assigned code QV", true),
    ("QW", "user-assigned code QW", true),
    ("QX", "user-assigned code QX", true),
    ("QY", "user-assigned code QY", true),
    ("QZ", "user-assigned code QZ", true),
    ("RE", "Réunion", false),
    ("RO", "Romania", false),
    ("RS", "Serbia", false),
    ("RU", "Russian Federation", false),
    ("RW", "Rwanda", false),
    ("SA", "Saudi Arabia", false),
    ("SB", "Solomon Islands", false),
    ("SC", "Seychelles", false),
    ("SD", "Sudan", false),
    ("SE", "Sweden", false),
    ("SG", "Singapore", false),
    ("SH", "Saint Helena, Ascension and Tristan da Cunha", false),
    ("SI", "Slovenia", false),
    ("SJ", "Svalbard and Jan Mayen", false),
    ("SK", "Slovakia", false),
    ("SL", "Sierra Leone", false),
    ("SM", "San Marino", false),
    ("SN", "Senegal", false),
    ("SO", "Somalia", false),
    ("SR", "Suriname", false),
    ("SS", "South Sudan", false),
    ("ST", "Sao Tome and Principe", false),
    ("SV", "El Salvador", false),
    ("SX", "Sint Maarten (Dutch part)", false),
    ("SY", "Syria", false),
    ("SZ", "Eswatini", false),
    ("TC", "Turks and Caicos Islands", false),
    ("TD", "Chad", false),
    ("TF", "French Southern Territories", false),
    ("TG", "Togo", false),
    ("TH", "Thailand", false),
    ("TJ", "Tajikistan", false),
    ("TK", "Tokelau", false),
    ("TL", "Timor-Leste", false),
    ("TM", "Turkmenistan", false),
    ("TN", "Tunisia", false),
    ("TO", "Tonga", false),
    ("TR", "Türkiye", false),
    ("TT", "Trinidad and Tobago", false),
    ("TV", "Tuvalu", false),
    ("TW", "Taiwan", false),
    ("TZ", "Tanzania", false),
    ("UA", "Ukraine", false),
    ("UG", "Uganda", false),
    ("UM", "United States Minor Outlying Islands", false),
    ("US", "United States", false),
    ("UY", "Uruguay", false),
    ("UZ", "Uzbekistan", false),
    ("VA", "Holy See (Vatican City State)", false),
    ("VC", "Saint Vincent and the Grenadines", false),
    ("VE", "Venezuela", false),
    ("VG", "Virgin Islands, British", false),
    ("VI", "Virgin Islands, U.S.", false),
    ("VN", "Vietnam", false),
    ("VU", "Vanuatu", false),
    ("WF", "Wallis and Futuna", false),
    ("WS", "Samoa", false),
    ("XA", "user-assigned code XA", true),
    ("XB", "user-assigned code XB", true),
    ("XC", "user-assigned code XC", true),
    ("XD", "user-assigned code XD", true),
    ("XE", "user-assigned code XE", true),
    ("XF", "user-assigned code XF", true),
    ("XG", "user-assigned code XG", true),
    ("XH", "user-assigned code XH", true),
    ("XI", "user-assigned code XI", true),
    ("XJ", "user-assigned code XJ", true),
    ("XK", "user-assigned code XK", true),
    ("XL", "user-assigned code XL", true),
    ("XM", "user-assigned code XM", true),
    ("XN", "user-assigned code XN", true),
    ("XO", "user-assigned code XO", true),
    ("XP", "user-assigned code XP", true),
    ("XQ", "user-assigned code XQ", true),
    ("XR", "user-assigned code XR", true),
    ("XS", "user-assigned code XS", true),
    ("XT", "user-assigned code XT", true),
    ("XU", "user-assigned code XU", true),
    ("XV", "user-assigned code XV", true),
    ("XW", "user-assigned code XW", true),
    ("XX", "user-assigned code XX", true),
    ("XY", "user-assigned code XY", true),
    ("XZ", "user-assigned code XZ", true),
    ("YE", "Yemen", false),
    ("YT", "Mayotte", false),
    ("ZA", "South Africa", false),
    ("ZM", "Zambia", false),
    ("ZW", "Zimbabwe", false),
    ("ZZ", "user-assigned code ZZ", true),
];

const COUNT: usize = TABLE.len();

const fn every_country() -> [CountryCode; COUNT] {
    let mut all = [CountryCode(0); COUNT];
    let mut index = 0;
    while index < COUNT {
        all[index] = CountryCode(index as u16);
        index += 1;
    }
    all
}

const ALL_COUNTRIES: [CountryCode; COUNT] = every_country();

impl CountryCode {
    /// True for codes from the user-assigned ranges (AA, QM-QZ, XA-XZ, ZZ), which name no
    /// real country: fine for tests and pilots, suspicious in production traffic.
    pub fn is_user_assigned(self) -> bool {
        TABLE[self.0 as usize].2
    }

    /// The country's short English name (or "user-assigned code XX").
    pub fn name(self) -> &'static str {
        TABLE[self.0 as usize].1
    }
}

impl CodeList for CountryCode {
    const LIST_NAME: &'static str = "ISO 3166-1 alpha-2 country code";
    const ALL: &'static [Self] = &ALL_COUNTRIES;

    fn code(self) -> &'static str {
        TABLE[self.0 as usize].0
    }

    fn meaning(self) -> &'static str {
        self.name()
    }

    fn from_code(code: &str) -> Option<Self> {
        TABLE
            .binary_search_by(|(entry, _, _)| entry.cmp(&code))
            .ok()
            .map(|index| CountryCode(index as u16))
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for CountryCode {
    type Err = crate::codes::UnknownCode;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Self::from_code(code).ok_or_else(|| crate::codes::UnknownCode {
            list: Self::LIST_NAME,
            code: code.to_owned(),
        })
    }
}

impl serde::Serialize for CountryCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for CountryCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_so_lookups_find_every_code() {
        assert!(TABLE.windows(2).all(|pair| pair[0].0 < pair[1].0));
        for country in CountryCode::ALL {
            assert_eq!(CountryCode::from_code(country.code()), Some(*country));
        }
    }

    #[test]
    fn official_and_user_assigned_codes_are_told_apart() {
        let france: CountryCode = "FR".parse().unwrap();
        assert_eq!(france.name(), "France");
        assert!(!france.is_user_assigned());
        let test_country: CountryCode = "XA".parse().unwrap();
        assert!(test_country.is_user_assigned());
        assert!("FRA".parse::<CountryCode>().is_err());
        assert!("fr".parse::<CountryCode>().is_err());
    }
}
