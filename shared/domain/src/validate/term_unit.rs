//! Which kinds of unit suit which term: a coarse version of SAPI's `term_unit_pairs`.
//!
//! The table is deliberately lenient (a mismatch is only a warning): it catches the mistakes
//! that distort trade statistics, such as live animals in kilograms or timber counted in
//! pieces, without second-guessing the many terms that are traded both by number and by mass.
//! A quantity without a unit is a number of specimens and counts as [`UnitKind::Count`].

use crate::codes::{Term, UnitKind};

use UnitKind::{Area, Count, Length, Mass, Skin, Volume};

/// Counted specimens only.
const COUNTED: &[UnitKind] = &[Count];
/// Whole skins: counted, or by skin type (back, belly, hornback skins, sides).
const SKINS: &[UnitKind] = &[Count, Skin];
/// Skin pieces and leather: counted, by skin type, by area or by mass.
const LEATHER: &[UnitKind] = &[Count, Skin, Area, Mass];
/// Products and parts traded by number or by weight.
const COUNT_OR_MASS: &[UnitKind] = &[Count, Mass];
/// Bulk goods: by mass or by volume.
const BULK: &[UnitKind] = &[Mass, Volume];
/// Bulk goods sometimes packed in counted containers (bottles, boxes).
const PACKED_BULK: &[UnitKind] = &[Mass, Volume, Count];
/// Timber: by volume (CUM), mass, or area for veneer and plywood.
const TIMBER: &[UnitKind] = &[Volume, Mass, Area];
/// Scientific specimens: anything but a length or an area.
const SPECIMENS: &[UnitKind] = &[Count, Mass, Volume];
/// Cloth and fibres: by length, area or mass.
const TEXTILE: &[UnitKind] = &[Length, Area, Mass, Count];

/// The kinds of unit that suit a term; `None` for terms that take any unit (other,
/// unspecified).
pub(super) fn suitable_units(term: Term) -> Option<&'static [UnitKind]> {
    use Term::*;
    let kinds = match term {
        LIV | BOD | SKU | TRO | HEA | EGL | SKE | GEN | FIG => COUNTED,
        SKI | SKD | SID => SKINS,
        SKP | SKS | LEA => LEATHER,
        SKO | LPL | LPS | BEL | HAN | SHO | WAL | WAT | GAR => COUNTED,
        CAV | MEA | EXT | POW | OIL | DER | GAL | MUS | VNM | WAX | CAL | COS | CHP => BULK,
        MED | SOU => PACKED_BULK,
        TIM | SAW | LOG | VEN | PLY | TIP => TIMBER,
        SPE => SPECIMENS,
        CLO | FIB => TEXTILE,
        EGG | BAL | CAP | SHE | SCA | SWI | GAB | LEG | FIN | EAR | FOO | TAI | TEE | TUS | HOR
        | BON | CLA | FEA | HAI | QUI | CAR | BOC | BOP | BPR | HOC | HOP | HOS | HPR | IVC
        | IVP | IVS | TIC | HAP | PKY | CST | BAR | WOO | FRN | FPT | FRA | DPL | FLO | FRU
        | LVS | ROO | SEE | STE | GRS | CUL | TIS | COR | PEA | PLA | PIE | SCR => COUNT_OR_MASS,
        OTH | UNS => return None,
    };
    Some(kinds)
}

/// The kinds in words, for messages: "a number of specimens or a mass".
pub(super) fn describe(kinds: &[UnitKind]) -> String {
    let words: Vec<&str> = kinds
        .iter()
        .map(|kind| match kind {
            Count => "a number (no unit, or PCS, PAI, SET, ...)",
            Skin => "a skin unit (SKI, BAK, BSK, HRN, SID)",
            Mass => "a mass (KIL, GRM, TON, ...)",
            Volume => "a volume (CUM, LTR, MLT, ...)",
            Area => "an area (SQM, ...)",
            Length => "a length (MTR, ...)",
        })
        .collect();
    match words.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((only, _)) => (*only).to_owned(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::CodeList;

    #[test]
    fn every_term_but_other_and_unspecified_has_suitable_units() {
        for term in Term::ALL {
            let open = matches!(term, Term::OTH | Term::UNS);
            assert_eq!(suitable_units(*term).is_none(), open, "{term}");
        }
    }

    #[test]
    fn kinds_read_as_a_list_of_alternatives() {
        assert_eq!(
            describe(&[Mass, Volume]),
            "a mass (KIL, GRM, TON, ...) or a volume (CUM, LTR, MLT, ...)"
        );
    }
}
