//! Passwords: the [`Password`] newtype, and argon2id hashes stored as PHC
//! strings (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
//!
//! [`hash`] takes its 16-byte salt from the caller: in a component it comes
//! from `getrandom` over WASI, so this module stays pure and unit-tests
//! natively. [`verify`] reads the algorithm and parameters from the stored
//! string, so hashes made with older parameters keep working and report
//! `needs_rehash`. For an unknown account call [`verify_absent`], which does
//! the same work against [`DUMMY_HASH`], so an unknown email and a wrong
//! password take about as long.

use std::fmt;

use argon2::password_hash::{self, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Version};

use crate::error::Error;
use crate::log;

/// Fewest characters in a password (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Most characters in a password: long passphrases fit, megabyte bodies do not.
pub const MAX_PASSWORD_CHARS: usize = 128;

/// Bytes of salt per hash.
pub const SALT_LEN: usize = 16;

/// Bytes of argon2 output per hash.
pub const HASH_LEN: usize = 32;

/// A hash made once with [`Params::CURRENT`] (salt `plinth dummy pw!`; the
/// password is irrelevant and not a secret). [`verify_absent`] verifies
/// against it so a login for an unknown account costs the same as one with a
/// wrong password.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$cGxpbnRoIGR1bW15IHB3IQ$cEEKDbeawjTgQBW5a37cFo3nCAq4BJtfi7S6cIzU/Zc";

/// Stored hashes above these are refused rather than computed, so a corrupt
/// row cannot make one login take minutes or exhaust the instance's memory.
const MAX_M_KIB: u32 = 262_144;
const MAX_T: u32 = 16;
const MAX_P: u32 = 8;

/// A candidate password: 8–128 characters, counted as Unicode scalar values.
///
/// There are no composition rules and nothing is trimmed or truncated: every
/// byte is hashed. Input is not NFC-normalised either, so the same passphrase
/// typed with composed and decomposed accents gives different hashes; we
/// accept that rather than depend on Unicode tables in the guest.
///
/// `Debug` prints `Password(***)`; there is no `Display`, `Serialize` or
/// `PartialEq` (compare hashes, in constant time, via [`verify`]).
pub struct Password(String);

impl Password {
    /// A 400 field error on `password` when too short or too long. The
    /// message never quotes the value.
    pub fn parse(value: String) -> Result<Self, Error> {
        // Stop counting past the limit: the length of a huge body is irrelevant.
        let chars = value.chars().take(MAX_PASSWORD_CHARS + 1).count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(Error::field(
                "password",
                format!("must be at least {MIN_PASSWORD_CHARS} characters"),
            ));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(Error::field(
                "password",
                format!("must be at most {MAX_PASSWORD_CHARS} characters"),
            ));
        }
        Ok(Self(value))
    }

    fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Params {
    /// OWASP's argon2id recommendation (Password Storage Cheat Sheet): 19 MiB, 2 passes, 1 lane.
    pub const CURRENT: Params = Params {
        m_kib: 19_456,
        t: 2,
        p: 1,
    };

    fn argon2(self) -> Result<argon2::Params, argon2::Error> {
        argon2::Params::new(self.m_kib, self.t, self.p, Some(HASH_LEN))
    }
}

/// The outcome of [`verify`].
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The password matches. With `needs_rehash`, the stored hash uses other
    /// parameters or another algorithm: hash again and store the new string.
    Ok { needs_rehash: bool },
    /// Wrong password, or a stored string we cannot use (logged).
    Mismatch,
}

/// The PHC string of `password` with [`Params::CURRENT`]. `salt` must be
/// fresh random bytes.
///
/// With fixed parameters and salt length this cannot fail in practice; an
/// error is internal.
pub fn hash(password: &Password, salt: [u8; SALT_LEN]) -> Result<String, Error> {
    hash_with(password, salt, Params::CURRENT)
        .map_err(|reason| Error::internal(format!("hash password: {reason}")))
}

fn hash_with(password: &Password, salt: [u8; SALT_LEN], params: Params) -> Result<String, String> {
    let params = params.argon2().map_err(|err| err.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|err| err.to_string())?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password.as_bytes(), &salt)
        .map(|phc| phc.to_string())
        .map_err(|err| err.to_string())
}

/// Checks `password` against a stored PHC string, in constant time.
pub fn verify(password: &Password, phc: &str) -> Verified {
    match check(password, phc) {
        Ok(verified) => verified,
        Err(reason) => {
            // The reason names what is wrong, never the string itself.
            log::warn(format_args!("stored password hash is unusable: {reason}"));
            Verified::Mismatch
        }
    }
}

/// For a login whose account does not exist: the work of [`verify`], then
/// always [`Verified::Mismatch`].
pub fn verify_absent(password: &Password) -> Verified {
    let _ = std::hint::black_box(verify(password, DUMMY_HASH));
    Verified::Mismatch
}

fn check(password: &Password, phc: &str) -> Result<Verified, String> {
    let stored = PasswordHash::new(phc).map_err(|err| format!("not a PHC string ({err})"))?;
    let algorithm =
        Algorithm::try_from(stored.algorithm).map_err(|_| "not an argon2 hash".to_owned())?;
    let params =
        argon2::Params::try_from(&stored).map_err(|err| format!("bad parameters ({err})"))?;
    if params.m_cost() > MAX_M_KIB || params.t_cost() > MAX_T || params.p_cost() > MAX_P {
        return Err("parameters above the allowed maximum".to_owned());
    }
    if stored.salt.is_none() || stored.hash.is_none() {
        return Err("no salt or no hash".to_owned());
    }
    // Hashes with the stored algorithm, version and parameters, and compares
    // the outputs in constant time.
    match Argon2::default().verify_password(password.as_bytes(), &stored) {
        Ok(()) => {
            let current = Params::CURRENT
                .argon2()
                .map_err(|err| format!("current parameters ({err})"))?;
            let needs_rehash = algorithm != Algorithm::Argon2id
                || stored.version != Some(Version::V0x13.into())
                || params != current;
            Ok(Verified::Ok { needs_rehash })
        }
        Err(password_hash::Error::Password) => Ok(Verified::Mismatch),
        Err(err) => Err(format!("verification failed ({err})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters, so most tests take microseconds, not tens of milliseconds.
    const FAST: Params = Params {
        m_kib: 64,
        t: 1,
        p: 1,
    };

    fn password(text: &str) -> Password {
        Password::parse(text.to_owned()).unwrap()
    }

    fn fast_hash(text: &str, salt: u8) -> String {
        hash_with(&password(text), [salt; SALT_LEN], FAST).unwrap()
    }

    #[test]
    fn round_trip_with_current_params() {
        let phc = hash(&password("correct horse battery"), [7; SALT_LEN]).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(
            verify(&password("correct horse battery"), &phc),
            Verified::Ok {
                needs_rehash: false
            }
        );
        assert_eq!(
            verify(&password("correct horse batterY"), &phc),
            Verified::Mismatch
        );
    }

    #[test]
    fn dummy_hash_has_current_params() {
        let stored = PasswordHash::new(DUMMY_HASH).unwrap();
        assert_eq!(
            Algorithm::try_from(stored.algorithm),
            Ok(Algorithm::Argon2id)
        );
        assert_eq!(stored.version, Some(Version::V0x13.into()));
        assert_eq!(
            argon2::Params::try_from(&stored).unwrap(),
            Params::CURRENT.argon2().unwrap()
        );
        let mut salt = [0; 64];
        assert_eq!(
            stored.salt.unwrap().decode_b64(&mut salt).unwrap().len(),
            SALT_LEN
        );
        assert_eq!(stored.hash.unwrap().len(), HASH_LEN);
        assert_eq!(
            verify_absent(&password("whatever you type")),
            Verified::Mismatch
        );
    }

    #[test]
    fn wrong_password_is_a_mismatch() {
        let phc = fast_hash("open sesame", 1);
        for (case, attempt) in [
            ("one character changed", "open sesamE"),
            ("one character more", "open sesame!"),
            ("prefix", "open sesam"),
            ("trailing space", "open sesame "),
        ] {
            assert_eq!(
                verify(&password(attempt), &phc),
                Verified::Mismatch,
                "{case}"
            );
        }
        assert!(matches!(
            verify(&password("open sesame"), &phc),
            Verified::Ok { .. }
        ));
    }

    #[test]
    fn other_params_or_algorithm_need_a_rehash() {
        let pw = password("open sesame");
        // Only t differs from the current parameters.
        let t1 = hash_with(
            &pw,
            [2; SALT_LEN],
            Params {
                t: 1,
                ..Params::CURRENT
            },
        )
        .unwrap();
        assert!(t1.starts_with("$argon2id$v=19$m=19456,t=1,p=1$"), "{t1}");

        let salt = SaltString::encode_b64(&[3; SALT_LEN]).unwrap();
        let with = |algorithm, version, output_len| {
            let params = argon2::Params::new(FAST.m_kib, FAST.t, FAST.p, Some(output_len)).unwrap();
            Argon2::new(algorithm, version, params)
                .hash_password(pw.as_bytes(), &salt)
                .unwrap()
                .to_string()
        };
        let cases = [
            ("t=1", t1),
            ("fast params", fast_hash("open sesame", 4)),
            (
                "argon2i",
                with(Algorithm::Argon2i, Version::V0x13, HASH_LEN),
            ),
            (
                "argon2d",
                with(Algorithm::Argon2d, Version::V0x13, HASH_LEN),
            ),
            (
                "version 0x10",
                with(Algorithm::Argon2id, Version::V0x10, HASH_LEN),
            ),
            (
                "64-byte output",
                with(Algorithm::Argon2id, Version::V0x13, 64),
            ),
        ];
        for (case, phc) in cases {
            assert_eq!(
                verify(&pw, &phc),
                Verified::Ok { needs_rehash: true },
                "{case}: {phc}"
            );
            assert_eq!(
                verify(&password("open sesamE"), &phc),
                Verified::Mismatch,
                "{case}"
            );
        }
    }

    #[test]
    fn salt_changes_the_hash() {
        assert_ne!(fast_hash("open sesame", 1), fast_hash("open sesame", 2));
        assert_eq!(fast_hash("open sesame", 1), fast_hash("open sesame", 1));
    }

    #[test]
    fn length_boundaries() {
        let cases = [
            ("a".repeat(7), false, "7 characters"),
            ("a".repeat(8), true, "8 characters"),
            ("a".repeat(128), true, "128 characters"),
            ("a".repeat(129), false, "129 characters"),
            (String::new(), false, "empty"),
            ("é".repeat(7), false, "7 two-byte characters (14 bytes)"),
            ("é".repeat(8), true, "8 two-byte characters"),
            ("😀".repeat(8), true, "8 four-byte characters (32 bytes)"),
            (
                "😀".repeat(128),
                true,
                "128 four-byte characters (512 bytes)",
            ),
            ("😀".repeat(129), false, "129 four-byte characters"),
            (
                "e\u{301}".repeat(4),
                true,
                "4 decomposed accents are 8 scalar values",
            ),
            ("        ".into(), true, "spaces only: no composition rules"),
            ("a".repeat(100_000), false, "far too long"),
        ];
        for (input, ok, case) in cases {
            assert_eq!(Password::parse(input).is_ok(), ok, "{case}");
        }
    }

    #[test]
    fn parse_errors_are_field_errors_that_hide_the_value() {
        for (input, message) in [
            ("hunter2", "must be at least 8 characters"),
            (&*"x".repeat(129), "must be at most 128 characters"),
        ] {
            let err = Password::parse(input.to_owned()).unwrap_err();
            assert_eq!(err, Error::field("password", message));
            assert_eq!(err.status(), 422, "a rule, not a shape: 422");
            assert!(!err.to_string().contains(input));
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let debug = format!("{:?}", password("correct horse battery"));
        assert_eq!(debug, "Password(***)");
    }

    #[test]
    fn malformed_stored_strings_are_a_mismatch() {
        let good = fast_hash("open sesame", 5);
        let (head, output) = good.rsplit_once('$').unwrap();
        let salt = good.split('$').nth(4).unwrap();
        let cases = [
            (String::new(), "empty"),
            ("open sesame".into(), "plain text"),
            ("$argon2id$".into(), "algorithm only"),
            (head.to_owned(), "no hash"),
            (format!("{head}$"), "empty hash"),
            (format!("{head}$!!!!"), "hash not base64"),
            (good[..good.len() - 3].to_owned(), "truncated hash"),
            (good.replacen("$argon2id$", "$scrypt$", 1), "scrypt"),
            (good.replacen("$argon2id$", "$bcrypt$", 1), "bcrypt"),
            (good.replacen("m=64", "m=1", 1), "m below the minimum"),
            (good.replacen("t=1", "t=0", 1), "t=0"),
            (good.replacen("p=1", "p=0", 1), "p=0"),
            (
                good.replacen("m=64", "m=4294967295", 1),
                "m far above the cap",
            ),
            (good.replacen("t=1", "t=100000", 1), "t far above the cap"),
            (good.replacen("p=1", "p=255", 1), "p above the cap"),
            (good.replacen("m=64", "m=abc", 1), "m not a number"),
            (good.replacen("p=1", "p=1,x=2", 1), "unknown parameter"),
            (good.replacen("v=19", "v=99", 1), "unknown version"),
            (good.replacen(salt, "", 1), "empty salt"),
            (good.replacen(salt, "short", 1), "salt too short"),
            (format!("{head}${output}$extra"), "extra field"),
            (
                "$argon2id$v=19$m=19456,t=2,p=1$\u{0}$\u{0}".into(),
                "NUL bytes",
            ),
        ];
        for (phc, case) in cases {
            assert_eq!(
                verify(&password("open sesame"), &phc),
                Verified::Mismatch,
                "{case}: {phc:?}"
            );
        }
    }
}
