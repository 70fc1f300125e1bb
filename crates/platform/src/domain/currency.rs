//! ISO 4217 currency codes: [`Currency`], and [`is_code`] for checks on
//! JSON settings.

use crate::error::Error;

/// The active ISO 4217 codes (amendments to 2025: ZWG, XCG and SLE in;
/// HRK, ANG, SLL, ZWL out). Funds and precious-metal codes (XAU, XDR, …)
/// are not currencies a business invoices in and are left out. Sorted, for
/// the binary search.
const CODES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
    "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF",
    "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP",
    "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY",
    "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD",
    "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK",
    "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK",
    "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG",
    "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS",
    "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// Whether `code` is an active ISO 4217 code, in upper case as the
/// standard writes it.
pub fn is_code(code: &str) -> bool {
    CODES.binary_search(&code).is_ok()
}

/// An ISO 4217 currency code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    /// 422 (field `currency`; re-path with [`Error::at`]) for anything but
    /// an active code in upper case.
    pub fn parse(code: &str) -> Result<Self, Error> {
        if is_code(code) {
            Ok(Self(code.to_owned()))
        } else {
            Err(Error::field(
                "currency",
                "must be an ISO 4217 currency code in upper case, such as EUR",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_and_checked() {
        assert!(CODES.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
        for good in ["EUR", "USD", "CHF", "JPY", "XCG", "ZWG"] {
            assert!(is_code(good), "{good}");
        }
        for bad in ["eur", "EURO", "XXX", "HRK", "", "E"] {
            assert!(!is_code(bad), "{bad}");
        }
        assert_eq!(Currency::parse("usd").unwrap_err().status(), 422);
    }
}
