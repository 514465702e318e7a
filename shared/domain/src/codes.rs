//! CITES code lists as types.
//!
//! Every coded field of a permit is a [`Coded<T>`]: either a code we know ([`Coded::Known`]) or
//! the raw text a partner sent ([`Coded::Unknown`]). Reading never fails on an unknown code, so a
//! permit with one wrong code still reaches validation, which reports it as a finding naming the
//! field and the permit box, instead of the whole message being lost to a parse error.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A code list: a closed set of codes with their official meaning.
pub trait CodeList: Copy + Eq + fmt::Debug + 'static {
    /// The list's name as used in findings ("purpose code", "term code").
    const LIST_NAME: &'static str;
    /// Every member, in the order of the official list.
    const ALL: &'static [Self];
    /// The code as it appears on the wire.
    fn code(self) -> &'static str;
    /// What the code means, for people.
    fn meaning(self) -> &'static str;
    /// Looks a wire code up; exact match, codes are upper case on the wire.
    fn from_code(code: &str) -> Option<Self>;
}

/// A value from a code list, or the unknown text that was found in its place.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Coded<T: CodeList> {
    /// A code of the list.
    Known(T),
    /// Text that is not a code of the list; kept verbatim so it can be reported and round-tripped.
    Unknown(String),
}

impl<T: CodeList> Coded<T> {
    /// Parses a wire code, keeping unknown text instead of failing.
    ///
    /// Surrounding white space is ignored, because real systems pad codes.
    pub fn parse(text: &str) -> Self {
        let trimmed = text.trim();
        match T::from_code(trimmed) {
            Some(known) => Coded::Known(known),
            None => Coded::Unknown(trimmed.to_owned()),
        }
    }

    /// The wire form: the code, or the unknown text as received.
    pub fn as_str(&self) -> &str {
        match self {
            Coded::Known(known) => known.code(),
            Coded::Unknown(text) => text,
        }
    }

    /// The known code, if it is one.
    pub fn known(&self) -> Option<T> {
        match self {
            Coded::Known(known) => Some(*known),
            Coded::Unknown(_) => None,
        }
    }

    /// True when this is the given known code.
    pub fn is(&self, code: T) -> bool {
        self.known() == Some(code)
    }
}

impl<T: CodeList> From<T> for Coded<T> {
    fn from(value: T) -> Self {
        Coded::Known(value)
    }
}

impl<T: CodeList> fmt::Display for Coded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<T: CodeList> Serialize for Coded<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de, T: CodeList> Deserialize<'de> for Coded<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(Coded::parse(&text))
    }
}

impl<T: CodeList> schemars::JsonSchema for Coded<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        // One definition per list, named after it ("purpose code" -> "PurposeCode").
        T::LIST_NAME
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(|word| {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect::<String>()
            .into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let codes: Vec<&str> = T::ALL.iter().map(|member| member.code()).collect();
        let meanings: Vec<String> = T::ALL
            .iter()
            .map(|member| format!("{}: {}", member.code(), member.meaning()))
            .collect();
        schemars::json_schema!({
            "type": "string",
            "description": format!("A {}. {}", T::LIST_NAME, meanings.join("; ")),
            "enum": codes,
        })
    }
}

/// Defines a code list enum whose variants are the wire codes themselves.
macro_rules! code_list {
    (
        $(#[$meta:meta])*
        $name:ident, $list_name:literal {
            $( $variant:ident = $code:literal : $meaning:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(clippy::upper_case_acronyms)]
        pub enum $name {
            $( #[doc = $meaning] $variant ),+
        }

        impl CodeList for $name {
            const LIST_NAME: &'static str = $list_name;
            const ALL: &'static [Self] = &[$($name::$variant),+];

            fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            fn meaning(self) -> &'static str {
                match self { $($name::$variant => $meaning),+ }
            }

            fn from_code(code: &str) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        impl FromStr for $name {
            type Err = UnknownCode;
            fn from_str(code: &str) -> Result<Self, UnknownCode> {
                <$name as CodeList>::from_code(code).ok_or_else(|| UnknownCode {
                    list: $list_name,
                    code: code.to_owned(),
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

/// A code that is not a member of the list it was looked up in.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code:?} is not a {list}")]
pub struct UnknownCode {
    /// The list's name.
    pub list: &'static str,
    /// The text that was looked up.
    pub code: String,
}

code_list! {
    /// Box 1: the kind of document. Other CITES documents (introduction from the sea,
    /// pre-Convention, musical-instrument certificates, ...) travel as `O` with a sub-type.
    DocumentType, "document type" {
        E = "E": "export permit",
        R = "R": "re-export certificate",
        I = "I": "import permit",
        O = "O": "other certificate (see the sub-type)",
    }
}

code_list! {
    /// Box 5a: the purpose of the transaction (Res. Conf. 12.3).
    Purpose, "purpose code" {
        B = "B": "breeding in captivity or artificial propagation",
        E = "E": "educational",
        G = "G": "botanical garden",
        H = "H": "hunting trophy",
        L = "L": "law enforcement / judicial / forensic",
        M = "M": "medical (including biomedical research)",
        N = "N": "reintroduction or introduction into the wild",
        P = "P": "personal",
        Q = "Q": "circus or travelling exhibition",
        S = "S": "scientific",
        T = "T": "commercial",
        Z = "Z": "zoo",
    }
}

code_list! {
    /// Box 10: the source of the specimens.
    Source, "source code" {
        W = "W": "taken from the wild",
        R = "R": "ranched",
        D = "D": "Appendix-I animals bred in captivity or plants artificially propagated for commercial purposes",
        A = "A": "artificially propagated plants",
        C = "C": "animals bred in captivity",
        F = "F": "animals born in captivity (F1 or subsequent generations)",
        U = "U": "source unknown",
        I = "I": "confiscated or seized specimens",
        O = "O": "pre-Convention specimens",
        X = "X": "taken in the marine environment not under the jurisdiction of any State",
        Y = "Y": "assisted production (plants)",
    }
}

code_list! {
    /// Box 10: the CITES Appendix the species is listed in. `N` (not listed) is used by the
    /// Trade Database and accepted for completeness.
    Appendix, "appendix" {
        I = "I": "Appendix I",
        II = "II": "Appendix II",
        III = "III": "Appendix III",
        N = "N": "not CITES-listed",
    }
}

code_list! {
    /// The regional Annex of the species beside its CITES Appendix: the EU Wildlife Trade
    /// Regulations (Council Regulation (EC) No 338/97, Annexes A to D; box 12 of the EU form) and
    /// the GB regime that retained them. Not part of the CITES form, so it has no CITES box.
    RegionalAnnex, "EU/GB Annex" {
        A = "A": "Annex A",
        B = "B": "Annex B",
        C = "C": "Annex C",
        D = "D": "Annex D",
    }
}

code_list! {
    /// Box 9: the CITES term (description) codes of the Guidelines for annual reports.
    Term, "term code" {
        LIV = "LIV": "live", BOD = "BOD": "bodies", SKE = "SKE": "skeletons", SKU = "SKU": "skulls",
        HEA = "HEA": "heads", TRO = "TRO": "trophies", SPE = "SPE": "specimens (scientific)",
        EGG = "EGG": "eggs", EGL = "EGL": "eggs (live)", GEN = "GEN": "genitalia", BAL = "BAL": "baleen",
        CAP = "CAP": "carapaces", CAL = "CAL": "calipee", SHE = "SHE": "shells", SCA = "SCA": "scales",
        SWI = "SWI": "swim bladders", GAB = "GAB": "gall bladders", GAL = "GAL": "gall",
        MUS = "MUS": "musk", VNM = "VNM": "venom", CAV = "CAV": "caviar", MEA = "MEA": "meat",
        LEG = "LEG": "frog legs", FIN = "FIN": "fins", FIG = "FIG": "fingerlings", EAR = "EAR": "ears",
        FOO = "FOO": "feet", TAI = "TAI": "tails", TEE = "TEE": "teeth", TUS = "TUS": "tusks",
        HOR = "HOR": "horns", BON = "BON": "bones", CLA = "CLA": "claws", FEA = "FEA": "feathers",
        HAI = "HAI": "hair", QUI = "QUI": "quills",
        SKI = "SKI": "skins", SKP = "SKP": "skin pieces", SKS = "SKS": "skin scraps", SKD = "SKD": "skin sides",
        SID = "SID": "sides", SKO = "SKO": "skin or leather items", LEA = "LEA": "leather",
        LPL = "LPL": "leather products (large)", LPS = "LPS": "leather products (small)",
        BEL = "BEL": "belts", HAN = "HAN": "handbags", SHO = "SHO": "shoes", WAL = "WAL": "wallets",
        WAT = "WAT": "watchstraps", GAR = "GAR": "garments", CLO = "CLO": "cloth",
        CAR = "CAR": "carvings", BOC = "BOC": "bone carvings", BOP = "BOP": "bone pieces",
        BPR = "BPR": "bone products", HOC = "HOC": "horn carvings", HOP = "HOP": "horn pieces",
        HOS = "HOS": "horn scraps", HPR = "HPR": "horn products", IVC = "IVC": "ivory carvings",
        IVP = "IVP": "ivory pieces", IVS = "IVS": "ivory scraps", TIC = "TIC": "timber carvings",
        HAP = "HAP": "hair products", PKY = "PKY": "piano keys", CST = "CST": "chess sets",
        BAR = "BAR": "bark", LOG = "LOG": "logs", SAW = "SAW": "sawn wood", TIM = "TIM": "timber",
        TIP = "TIP": "timber pieces", VEN = "VEN": "veneer", PLY = "PLY": "plywood",
        WOO = "WOO": "wood products", FRN = "FRN": "furniture", FPT = "FPT": "flower pots",
        FRA = "FRA": "spectacle frames", CHP = "CHP": "timber chips", DPL = "DPL": "dried plants",
        FLO = "FLO": "flowers", FRU = "FRU": "fruit", LVS = "LVS": "leaves", ROO = "ROO": "roots",
        SEE = "SEE": "seeds", STE = "STE": "stems", GRS = "GRS": "graft rootstocks",
        CUL = "CUL": "cultures of artificially propagated plants", TIS = "TIS": "tissue cultures",
        COR = "COR": "coral (raw)", COS = "COS": "coral sand", PEA = "PEA": "pearls",
        PLA = "PLA": "plates", DER = "DER": "derivatives", EXT = "EXT": "extract", OIL = "OIL": "oil",
        POW = "POW": "powder", MED = "MED": "medicine", SOU = "SOU": "soup", WAX = "WAX": "wax",
        PIE = "PIE": "pieces", SCR = "SCR": "scraps", FIB = "FIB": "fibres", OTH = "OTH": "other",
        UNS = "UNS": "unspecified",
    }
}

code_list! {
    /// Box 11: CITES unit codes (Trade Database / annual-report units; not UN/ECE Rec 20).
    /// A quantity without a unit is a number of specimens.
    Unit, "unit code" {
        KIL = "KIL": "kilograms", GRM = "GRM": "grams", MGM = "MGM": "milligrams",
        MYG = "MYG": "micrograms", TON = "TON": "metric tonnes", PND = "PND": "pounds",
        OUN = "OUN": "ounces", LTR = "LTR": "litres", MLT = "MLT": "millilitres",
        CUM = "CUM": "cubic metres", CCM = "CCM": "cubic centimetres", CUF = "CUF": "cubic feet",
        SQM = "SQM": "square metres", SQD = "SQD": "square decimetres",
        SQC = "SQC": "square centimetres", SQF = "SQF": "square feet", MTR = "MTR": "metres",
        CTM = "CTM": "centimetres", FEE = "FEE": "feet", INC = "INC": "inches",
        PCS = "PCS": "pieces", PAI = "PAI": "pairs", SET = "SET": "sets", ITE = "ITE": "items",
        SHP = "SHP": "shipments", BOX = "BOX": "boxes", BAG = "BAG": "bags", BOT = "BOT": "bottles",
        CAN = "CAN": "cans", CAS = "CAS": "cases", CRT = "CRT": "cartons", FLA = "FLA": "flasks",
        SKI = "SKI": "skins", BAK = "BAK": "back skins", BSK = "BSK": "belly skins",
        HRN = "HRN": "hornback skins", SID = "SID": "sides",
    }
}

impl Unit {
    /// The kind of measure, used to check term/unit pairs.
    pub fn kind(self) -> UnitKind {
        use Unit::*;
        match self {
            KIL | GRM | MGM | MYG | TON | PND | OUN => UnitKind::Mass,
            LTR | MLT | CUM | CCM | CUF => UnitKind::Volume,
            SQM | SQD | SQC | SQF => UnitKind::Area,
            MTR | CTM | FEE | INC => UnitKind::Length,
            PCS | PAI | SET | ITE | SHP | BOX | BAG | BOT | CAN | CAS | CRT | FLA => {
                UnitKind::Count
            }
            SKI | BAK | BSK | HRN | SID => UnitKind::Skin,
        }
    }
}

/// What a unit measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitKind {
    /// Kilograms, grams, ...
    Mass,
    /// Litres, cubic metres, ...
    Volume,
    /// Square metres, ...
    Area,
    /// Metres, feet, ...
    Length,
    /// Pieces, pairs, boxes, ... (and, by convention, no unit at all)
    Count,
    /// Whole skins and skin types.
    Skin,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes_are_unique<T: CodeList>() {
        let mut seen = std::collections::HashSet::new();
        for member in T::ALL {
            assert!(
                seen.insert(member.code()),
                "{} listed twice in {}",
                member.code(),
                T::LIST_NAME
            );
            assert_eq!(T::from_code(member.code()), Some(*member));
            assert!(!member.meaning().is_empty());
        }
    }

    #[test]
    fn every_code_list_round_trips_each_member_through_its_wire_code() {
        codes_are_unique::<DocumentType>();
        codes_are_unique::<Purpose>();
        codes_are_unique::<Source>();
        codes_are_unique::<Appendix>();
        codes_are_unique::<Term>();
        codes_are_unique::<Unit>();
    }

    #[test]
    fn source_list_includes_marine_and_assisted_production_codes() {
        assert_eq!(Coded::<Source>::parse("X"), Coded::Known(Source::X));
        assert_eq!(Coded::<Source>::parse(" Y "), Coded::Known(Source::Y));
    }

    #[test]
    fn unknown_codes_are_kept_verbatim_not_rejected() {
        let parsed = Coded::<Purpose>::parse("Q9");
        assert_eq!(parsed, Coded::Unknown("Q9".into()));
        assert_eq!(parsed.as_str(), "Q9");
        assert_eq!("Q9".parse::<Purpose>().unwrap_err().list, "purpose code");
    }

    #[test]
    fn coded_values_serialize_as_their_wire_code() {
        let json = serde_json::to_string(&Coded::Known(Term::WAT)).unwrap();
        assert_eq!(json, "\"WAT\"");
        let back: Coded<Term> = serde_json::from_str("\"ZZZ\"").unwrap();
        assert_eq!(back, Coded::Unknown("ZZZ".into()));
    }
}
