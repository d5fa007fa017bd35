//! TOTP (RFC 6238) with totp-rs: new secrets, their `otpauth://` URI and QR code, and checking a
//! code (±1 time step) to the step it matched. Secrets are stored as the earlier Python backends
//! stored them (pyotp's base32 text, encrypted with the Fernet key `MFA_ENCRYPTION_KEY`), so a
//! secret either side wrote works on both.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice};
use totp_rs::{Algorithm, Builder, Secret, Totp};
use zeroize::Zeroizing;

use super::MfaError;
use crate::secrets::Secrets;

/// 160 bits, the length RFC 4226 recommends.
const SECRET_BYTES: usize = 20;

/// Codes one step either side of now are accepted (clock skew between phone and server).
const SKEW_STEPS: u16 = 1;

/// The shape of a TOTP: how many digits, how many seconds a step lasts. Stored with the secret so
/// a later change of `MFA_TOTP_*` does not break authenticators already set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub digits: u32,
    pub period: u32,
}

/// A fresh random secret.
pub fn new_secret() -> SecretSlice<u8> {
    let mut bytes = vec![0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    SecretSlice::from(bytes)
}

fn builder(shape: Shape, secret: &SecretSlice<u8>) -> Result<Builder, MfaError> {
    // Settings allow 6–8 digits and a period of 15–120 s; stored shapes are checked again here,
    // since totp-rs panics on 10 digits or more and divides by the period.
    let digits = u8::try_from(shape.digits)
        .ok()
        .filter(|d| (6..=8).contains(d))
        .ok_or_else(|| MfaError::Totp(format!("unsupported digits {}", shape.digits)))?;
    if shape.period == 0 {
        return Err(MfaError::Totp("period 0".to_owned()));
    }
    Ok(Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(digits)
        .with_skew(SKEW_STEPS)
        .with_step_duration(u64::from(shape.period))
        .with_secret(secret.expose_secret().to_vec()))
}

/// For checking and generating codes: also accepts the 80-bit secrets older pyotp versions
/// made, which totp-rs's RFC check (128 bits at least) would refuse.
fn checker(shape: Shape, secret: &SecretSlice<u8>) -> Result<Totp, MfaError> {
    Ok(builder(shape, secret)?.build_noncompliant())
}

/// The base32 secret (for manual entry) and the `otpauth://totp/…` URI (for the QR code).
pub fn provisioning(
    shape: Shape,
    secret: &SecretSlice<u8>,
    issuer: &str,
    account: &str,
) -> Result<(String, String), MfaError> {
    let totp = builder(shape, secret)?
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .map_err(|err| MfaError::Totp(err.to_string()))?;
    let uri = totp
        .to_url()
        .map_err(|err| MfaError::Totp(err.to_string()))?;
    // Authenticators default to 30 s; say the period whatever it is, so none has to guess.
    let uri = if uri.contains("period=") {
        uri
    } else {
        format!("{uri}&period={}", shape.period)
    };
    Ok((totp.secret().to_base32(), uri))
}

/// `uri` as a QR code: an SVG image, base64, in a `data:` URI an `<img>` can show.
pub fn qr_code_data_uri(uri: &str) -> Result<String, MfaError> {
    let code = fast_qr::QRBuilder::new(uri)
        .ecl(fast_qr::ECL::M)
        .build()
        .map_err(|err| MfaError::Totp(err.to_string()))?;
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        STANDARD.encode(qr_svg(&code))
    ))
}

/// Modules of light border around the code, as the QR standard asks.
const QUIET_ZONE: usize = 4;
/// The image is at least this many pixels wide, in whole pixels per module.
const QR_MIN_PIXELS: usize = 240;

/// The code as an SVG image: one path, a rectangle per run of dark modules in a row (a
/// few KiB, where a square per module would be three times that).
fn qr_svg(code: &fast_qr::QRCode) -> String {
    let size = code.size;
    let side = size + 2 * QUIET_ZONE;
    let pixels = side * QR_MIN_PIXELS.div_ceil(side);
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{pixels}" height="{pixels}" viewBox="0 0 {side} {side}" shape-rendering="crispEdges"><rect width="{side}" height="{side}" fill="#fff"/><path fill="#000" d=""##
    );
    // About four bytes per module; one allocation instead of a doubling every few rows.
    svg.reserve(4 * size * size);
    // The path is hundreds of numbers: itoa writes them at a third of `write!`'s cost.
    let mut digits = itoa::Buffer::new();
    for (y, row) in code.data[..size * size].chunks_exact(size).enumerate() {
        let mut x = 0;
        while x < size {
            let run = row[x..].iter().take_while(|m| m.value()).count();
            if run > 0 {
                // `M{left} {top}h{run}v1h-{run}z`
                svg.push('M');
                svg.push_str(digits.format(x + QUIET_ZONE));
                svg.push(' ');
                svg.push_str(digits.format(y + QUIET_ZONE));
                svg.push('h');
                svg.push_str(digits.format(run));
                svg.push_str("v1h-");
                svg.push_str(digits.format(run));
                svg.push('z');
                x += run;
            } else {
                x += 1;
            }
        }
    }
    svg.push_str(r#""/></svg>"#);
    svg
}

/// The time step `code` matches at `now` (epoch seconds), allowing one step of skew.
pub fn matching_step(
    shape: Shape,
    secret: &SecretSlice<u8>,
    code: &str,
    now: i64,
) -> Result<Option<i64>, MfaError> {
    let code = code.trim();
    if code.len() != shape.digits as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = checker(shape, secret)?;
    let now = u64::try_from(now).unwrap_or(0);
    Ok(totp
        .check(code, now)
        .and_then(|step| i64::try_from(step).ok()))
}

/// The code for `now`: what an authenticator app shows (tests, and the demo's instructions).
pub fn code_at(shape: Shape, secret: &SecretSlice<u8>, now: i64) -> Result<String, MfaError> {
    let totp = checker(shape, secret)?;
    Ok(totp.generate(u64::try_from(now).unwrap_or(0)).to_string())
}

fn cipher(secrets: &Secrets) -> Result<fernet::Fernet, MfaError> {
    let key = secrets
        .mfa_encryption_key()
        .ok_or(MfaError::NotConfigured)?;
    fernet::Fernet::new(key.expose_secret()).ok_or(MfaError::NotConfigured)
}

/// The secret encrypted for storage: a Fernet token of its base32 text.
pub fn encrypt(secrets: &Secrets, secret: &SecretSlice<u8>) -> Result<String, MfaError> {
    let base32 = Zeroizing::new(Secret::from(secret.expose_secret().to_vec()).to_base32());
    Ok(cipher(secrets)?.encrypt(base32.as_bytes()))
}

/// A stored secret, decrypted.
pub fn decrypt(secrets: &Secrets, stored: &str) -> Result<SecretSlice<u8>, MfaError> {
    let text = Zeroizing::new(
        cipher(secrets)?
            .decrypt(stored)
            .map_err(|_| MfaError::Undecryptable)?,
    );
    let text = std::str::from_utf8(&text).map_err(|_| MfaError::Undecryptable)?;
    // pyotp writes upper case without padding; accept any case and padding.
    let normalized = Zeroizing::new(text.trim().trim_end_matches('=').to_ascii_uppercase());
    Secret::try_from_base32(normalized.as_str())
        .map(|secret| SecretSlice::from(secret.as_ref().to_vec()))
        .map_err(|_| MfaError::Undecryptable)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: Shape = Shape {
        digits: 6,
        period: 30,
    };

    #[test]
    fn rfc_6238_test_vectors() {
        // RFC 6238 appendix B, SHA-1, with its 20-byte ASCII secret and 8 digits.
        let secret = SecretSlice::from(b"12345678901234567890".to_vec());
        let shape = Shape {
            digits: 8,
            period: 30,
        };
        for (time, expected) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
        ] {
            assert_eq!(code_at(shape, &secret, time).unwrap(), expected);
        }
    }

    #[test]
    fn codes_match_their_step_with_one_step_of_skew() {
        let secret = new_secret();
        let now = 1_800_000_000;
        let step = now / 30;
        let code = code_at(SHAPE, &secret, now).unwrap();
        assert_eq!(
            matching_step(SHAPE, &secret, &code, now).unwrap(),
            Some(step)
        );
        assert_eq!(
            matching_step(SHAPE, &secret, &code, now + 30).unwrap(),
            Some(step)
        );
        assert_eq!(
            matching_step(SHAPE, &secret, &code, now - 30).unwrap(),
            Some(step)
        );
        assert_eq!(
            matching_step(SHAPE, &secret, &code, now + 60).unwrap(),
            None
        );
        for bad in ["", "12345", "1234567", "abcdef", "12 456"] {
            assert_eq!(matching_step(SHAPE, &secret, bad, now).unwrap(), None);
        }
    }

    #[test]
    fn the_uri_names_issuer_account_digits_and_period() {
        let secret = new_secret();
        let shape = Shape {
            digits: 8,
            period: 60,
        };
        let (base32, uri) = provisioning(shape, &secret, "Exam Prep", "ada@example.com").unwrap();
        assert!(uri.starts_with("otpauth://totp/Exam%20Prep:ada%40example.com?"));
        assert!(uri.contains(&format!("secret={base32}")));
        assert!(uri.contains("issuer=Exam%20Prep"));
        assert!(uri.contains("digits=8"));
        assert!(uri.contains("period=60"));
        let qr = qr_code_data_uri(&uri).unwrap();
        let svg = STANDARD
            .decode(qr.trim_start_matches("data:image/svg+xml;base64,"))
            .unwrap();
        assert!(String::from_utf8(svg).unwrap().contains("<svg"));
    }

    #[test]
    fn secrets_round_trip_through_fernet_and_need_the_key() {
        let secrets = Secrets::generate();
        let secret = new_secret();
        let stored = encrypt(&secrets, &secret).unwrap();
        // A Fernet token (version byte 0x80), which does not contain the secret.
        assert!(stored.starts_with("gAAAAA"));
        let base32 = Secret::from(secret.expose_secret().to_vec()).to_base32();
        assert!(!stored.contains(&base32));
        // Inside: the base32 text, as pyotp keeps it.
        let key = secrets
            .mfa_encryption_key()
            .unwrap()
            .expose_secret()
            .to_owned();
        let inside = fernet::Fernet::new(&key).unwrap().decrypt(&stored).unwrap();
        assert_eq!(inside, base32.as_bytes());
        assert_eq!(
            decrypt(&secrets, &stored).unwrap().expose_secret(),
            secret.expose_secret()
        );
        assert!(matches!(
            decrypt(&Secrets::generate(), &stored),
            Err(MfaError::Undecryptable)
        ));
    }

    #[test]
    fn secrets_written_by_the_python_backends_work() {
        // Written by Python: `Fernet(key).encrypt_at_time(secret.encode(), 1700000000)` with
        // cryptography 50.0.2, and the code pyotp 2.12.0 gives for that secret at 1700000000.
        let key = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
        let stored = "gAAAAABlU_EAEstTILsHqCwBvT5PvqlIpWNKnS37RLjN4wsPVQMnXh_mqo7OmV4oNdAdd4LBOzLHbQXQ3WXdanUP75GoJlmomXMq0s666glx28JhiYg78kRTuKvrng-mhDp1k6H5s9G6";
        let secrets = Secrets::generate().with_mfa_encryption_key_for_tests(key);
        let secret = decrypt(&secrets, stored).unwrap();
        assert_eq!(code_at(SHAPE, &secret, 1_700_000_000).unwrap(), "406058");
        assert_eq!(
            matching_step(SHAPE, &secret, "406058", 1_700_000_000).unwrap(),
            Some(1_700_000_000 / 30)
        );
        // Older pyotp versions made 16-character (80-bit) secrets, and any case decodes.
        let cipher = fernet::Fernet::new(key).unwrap();
        for base32 in ["JBSWY3DPEHPK3PXP", "jbswy3dpehpk3pxp"] {
            let secret = decrypt(&secrets, &cipher.encrypt(base32.as_bytes())).unwrap();
            let code = code_at(SHAPE, &secret, 1_800_000_000).unwrap();
            assert_eq!(
                matching_step(SHAPE, &secret, &code, 1_800_000_000).unwrap(),
                Some(60_000_000)
            );
        }
        assert!(matches!(
            decrypt(&secrets, &cipher.encrypt(b"not base32!")),
            Err(MfaError::Undecryptable)
        ));
    }

    #[test]
    fn tokens_from_pythons_cryptography_package_decrypt() {
        // The Fernet spec's own test vector (github.com/fernet/spec, generate.json), the format
        // `cryptography.fernet.Fernet` writes.
        let key = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
        let token = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";
        let cipher = fernet::Fernet::new(key).unwrap();
        assert_eq!(cipher.decrypt(token).unwrap(), b"hello");
    }
}
