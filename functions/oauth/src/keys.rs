//! A provider's signing keys (its JWKS), with ID-token signatures checked by aws-lc.
//!
//! openidconnect's own key type checks signatures with the pure-Rust `rsa`, `p256`, `p384` and
//! `ed25519-dalek` crates: an RS256 ID token took 0.8 ms of CPU, most of a sign-in's own work.
//! aws-lc, already in every function for our own tokens and for TLS, checks it in tens of
//! microseconds. [`ProviderKey`] keeps openidconnect's parsing, key selection (by `kid`, `use`,
//! `kty` and `alg`) and claim checks, and replaces only the signature check. Like the crate's,
//! it refuses a key whose type, curve or `alg` does not fit the token's algorithm; unlike it, it
//! also refuses RSA keys shorter than 2048 bits.

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreJsonWebKey, CoreJsonWebKeyType, CoreJsonWebKeyUse, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyId, JsonWebKeyUse, SignatureVerificationError,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A key of a provider's key set.
#[derive(Clone, Debug)]
pub struct ProviderKey {
    jwk: CoreJsonWebKey,
    public: PublicKey,
}

/// The key in the form aws-lc takes, read once when the key set is fetched.
#[derive(Clone, Debug)]
enum PublicKey {
    /// Big-endian modulus and exponent, without leading zeros.
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed points (`04 || x || y`).
    P256(Vec<u8>),
    P384(Vec<u8>),
    Ed25519(Vec<u8>),
    /// Nothing we check signatures with: a symmetric key, another curve, missing parameters.
    Unusable,
}

impl PublicKey {
    fn of(jwk: &CoreJsonWebKey) -> Self {
        // openidconnect keeps the parameters to itself; its serialised form has them, base64url.
        let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(jwk) else {
            return Self::Unusable;
        };
        let text = |name: &str| fields.get(name).and_then(serde_json::Value::as_str);
        let bytes = |name: &str| {
            text(name).and_then(|value| URL_SAFE_NO_PAD.decode(value.trim_end_matches('=')).ok())
        };
        let point = |x: Vec<u8>, y: Vec<u8>, len: usize| {
            (x.len() == len && y.len() == len).then(|| [&[0x04][..], &x, &y].concat())
        };
        let key = match (text("kty"), text("crv")) {
            (Some("RSA"), _) => bytes("n").zip(bytes("e")).map(|(n, e)| Self::Rsa {
                n: without_leading_zeros(n),
                e: without_leading_zeros(e),
            }),
            (Some("EC"), Some("P-256")) => bytes("x")
                .zip(bytes("y"))
                .and_then(|(x, y)| point(x, y, 32))
                .map(Self::P256),
            (Some("EC"), Some("P-384")) => bytes("x")
                .zip(bytes("y"))
                .and_then(|(x, y)| point(x, y, 48))
                .map(Self::P384),
            (Some("OKP"), Some("Ed25519")) => bytes("x").map(Self::Ed25519),
            _ => None,
        };
        key.unwrap_or(Self::Unusable)
    }
}

/// Some encoders prefix a zero octet to the modulus (RFC 7518 says they must not); aws-lc
/// takes the number without it.
fn without_leading_zeros(mut number: Vec<u8>) -> Vec<u8> {
    let zeros = number.iter().take_while(|b| **b == 0).count();
    number.drain(..zeros);
    number
}

impl<'de> Deserialize<'de> for ProviderKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let jwk = CoreJsonWebKey::deserialize(deserializer)?;
        let public = PublicKey::of(&jwk);
        Ok(Self { jwk, public })
    }
}

impl Serialize for ProviderKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.jwk.serialize(serializer)
    }
}

impl JsonWebKey for ProviderKey {
    type KeyUse = CoreJsonWebKeyUse;
    type SigningAlgorithm = CoreJwsSigningAlgorithm;

    fn key_id(&self) -> Option<&JsonWebKeyId> {
        self.jwk.key_id()
    }

    fn key_type(&self) -> &CoreJsonWebKeyType {
        self.jwk.key_type()
    }

    fn key_use(&self) -> Option<&CoreJsonWebKeyUse> {
        self.jwk.key_use()
    }

    fn signing_alg(&self) -> JsonWebKeyAlgorithm<&CoreJwsSigningAlgorithm> {
        self.jwk.signing_alg()
    }

    fn new_symmetric(key: Vec<u8>) -> Self {
        Self {
            jwk: CoreJsonWebKey::new_symmetric(key),
            public: PublicKey::Unusable,
        }
    }

    fn verify_signature(
        &self,
        algorithm: &CoreJwsSigningAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureVerificationError> {
        let refuse = |why: &str| Err(SignatureVerificationError::InvalidKey(why.to_owned()));
        if self
            .key_use()
            .is_some_and(|key_use| !key_use.allows_signature())
        {
            return refuse("key usage not permitted for digital signatures");
        }
        match self.signing_alg() {
            JsonWebKeyAlgorithm::Algorithm(alg) if alg != algorithm => {
                return refuse("incompatible key algorithm");
            }
            JsonWebKeyAlgorithm::Unsupported => {
                return refuse("key algorithm is not a signing algorithm");
            }
            _ => {}
        }
        use CoreJwsSigningAlgorithm as Alg;
        let checked = match (&self.public, algorithm) {
            (PublicKey::Rsa { n, e }, rsa) => {
                let params = match rsa {
                    Alg::RsaSsaPkcs1V15Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Alg::RsaSsaPkcs1V15Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Alg::RsaSsaPkcs1V15Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Alg::RsaSsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Alg::RsaSsaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Alg::RsaSsaPssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return refuse("key type does not match signature algorithm"),
                };
                RsaPublicKeyComponents { n, e }.verify(params, message, signature)
            }
            (PublicKey::P256(point), Alg::EcdsaP256Sha256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
            }
            (PublicKey::P384(point), Alg::EcdsaP384Sha384) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, signature)
            }
            (PublicKey::Ed25519(x), Alg::EdDsa) => {
                UnparsedPublicKey::new(&signature::ED25519, x).verify(message, signature)
            }
            _ => return refuse("key type does not match signature algorithm"),
        };
        checked.map_err(|_| SignatureVerificationError::CryptoError("bad signature".to_owned()))
    }

    fn hash_bytes(&self, bytes: &[u8], alg: &CoreJwsSigningAlgorithm) -> Result<Vec<u8>, String> {
        self.jwk.hash_bytes(bytes, alg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaEncoding, RsaKeyPair};
    use serde_json::json;

    const MESSAGE: &[u8] = b"header.payload";

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn key(jwk: serde_json::Value) -> ProviderKey {
        serde_json::from_value(jwk).unwrap()
    }

    /// An RSA key as a provider publishes it, and a signature of [`MESSAGE`] with `encoding`.
    fn rsa(size: KeySize, encoding: &'static dyn RsaEncoding) -> (serde_json::Value, Vec<u8>) {
        let pair = RsaKeyPair::generate(size).unwrap();
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(encoding, &SystemRandom::new(), MESSAGE, &mut signature)
            .unwrap();
        let public = pair.public_key();
        let components: RsaPublicKeyComponents<Vec<u8>> = public.into();
        let jwk = json!({"kty": "RSA", "use": "sig", "kid": "r", "n": b64(&components.n), "e": b64(&components.e)});
        (jwk, signature)
    }

    #[test]
    fn rsa_signatures_of_every_allowed_algorithm_verify() {
        let cases: [(&'static dyn RsaEncoding, CoreJwsSigningAlgorithm); 4] = [
            (
                &signature::RSA_PKCS1_SHA256,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            ),
            (
                &signature::RSA_PKCS1_SHA512,
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
            ),
            (
                &signature::RSA_PSS_SHA256,
                CoreJwsSigningAlgorithm::RsaSsaPssSha256,
            ),
            (
                &signature::RSA_PSS_SHA384,
                CoreJwsSigningAlgorithm::RsaSsaPssSha384,
            ),
        ];
        for (encoding, alg) in cases {
            let (jwk, signature) = rsa(KeySize::Rsa2048, encoding);
            let key = key(jwk);
            assert_eq!(
                key.verify_signature(&alg, MESSAGE, &signature),
                Ok(()),
                "{alg:?}"
            );
            let mut forged = signature.clone();
            forged[10] ^= 1;
            assert!(matches!(
                key.verify_signature(&alg, MESSAGE, &forged),
                Err(SignatureVerificationError::CryptoError(_))
            ));
            assert!(matches!(
                key.verify_signature(&alg, b"header.other", &signature),
                Err(SignatureVerificationError::CryptoError(_))
            ));
        }
    }

    #[test]
    fn a_modulus_with_a_leading_zero_octet_is_read_as_the_same_number() {
        let (mut jwk, signature) = rsa(KeySize::Rsa2048, &signature::RSA_PKCS1_SHA256);
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        jwk["n"] = json!(b64(&[&[0u8][..], &n].concat()));
        let alg = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        assert_eq!(key(jwk).verify_signature(&alg, MESSAGE, &signature), Ok(()));
    }

    #[test]
    fn ec_and_ed25519_signatures_verify_on_their_own_curve_only() {
        let rng = SystemRandom::new();
        let p256 = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = p256.public_key().as_ref().to_vec();
        let p256_jwk = key(
            json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])}),
        );
        let p256_signature = p256.sign(&rng, MESSAGE).unwrap();
        let es256 = CoreJwsSigningAlgorithm::EcdsaP256Sha256;
        assert_eq!(
            p256_jwk.verify_signature(&es256, MESSAGE, p256_signature.as_ref()),
            Ok(())
        );
        let es384 = CoreJwsSigningAlgorithm::EcdsaP384Sha384;
        assert!(matches!(
            p256_jwk.verify_signature(&es384, MESSAGE, p256_signature.as_ref()),
            Err(SignatureVerificationError::InvalidKey(_))
        ));

        let p384 = EcdsaKeyPair::generate(&signature::ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
        let point = p384.public_key().as_ref().to_vec();
        let p384_jwk = key(
            json!({"kty": "EC", "crv": "P-384", "x": b64(&point[1..49]), "y": b64(&point[49..])}),
        );
        let p384_signature = p384.sign(&rng, MESSAGE).unwrap();
        assert_eq!(
            p384_jwk.verify_signature(&es384, MESSAGE, p384_signature.as_ref()),
            Ok(())
        );

        let ed = Ed25519KeyPair::generate().unwrap();
        let ed_jwk =
            key(json!({"kty": "OKP", "crv": "Ed25519", "x": b64(ed.public_key().as_ref())}));
        let ed_signature = ed.sign(MESSAGE);
        let eddsa = CoreJwsSigningAlgorithm::EdDsa;
        assert_eq!(
            ed_jwk.verify_signature(&eddsa, MESSAGE, ed_signature.as_ref()),
            Ok(())
        );
        assert!(matches!(
            ed_jwk.verify_signature(&eddsa, b"header.other", ed_signature.as_ref()),
            Err(SignatureVerificationError::CryptoError(_))
        ));
    }

    #[test]
    fn a_key_never_checks_another_type_or_algorithm_than_its_own() {
        let (mut jwk, signature) = rsa(KeySize::Rsa2048, &signature::RSA_PKCS1_SHA256);
        let rs256 = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        // An RSA key is not an EC key, whatever the signature.
        let es256 = CoreJwsSigningAlgorithm::EcdsaP256Sha256;
        assert!(matches!(
            key(jwk.clone()).verify_signature(&es256, MESSAGE, &signature),
            Err(SignatureVerificationError::InvalidKey(_))
        ));
        // A key pinned to PS256 does not check RS256, nor does an encryption key.
        jwk["alg"] = json!("PS256");
        assert!(matches!(
            key(jwk.clone()).verify_signature(&rs256, MESSAGE, &signature),
            Err(SignatureVerificationError::InvalidKey(_))
        ));
        jwk["alg"] = json!("RS256");
        assert_eq!(
            key(jwk.clone()).verify_signature(&rs256, MESSAGE, &signature),
            Ok(())
        );
        jwk["use"] = json!("enc");
        assert!(matches!(
            key(jwk).verify_signature(&rs256, MESSAGE, &signature),
            Err(SignatureVerificationError::InvalidKey(_))
        ));
        // A symmetric key (an HMAC "signature" with the client secret) checks nothing.
        let secret = ProviderKey::new_symmetric(b"client secret".to_vec());
        let hs256 = CoreJwsSigningAlgorithm::HmacSha256;
        assert!(
            secret
                .verify_signature(&hs256, MESSAGE, &signature)
                .is_err()
        );
    }

    #[test]
    fn rsa_keys_under_2048_bits_are_refused() {
        // A 1024-bit key (made with `openssl genrsa 1024` for this test) and its valid RS256
        // signature of MESSAGE: openidconnect's own check accepts it, ours does not.
        let jwk = json!({
            "kty": "RSA",
            "e": "AQAB",
            "n": "r68hfy5MRQ-e-enUV4vLBGp9BaLU6qKV4pfnIyrFyNufZw2eaPRVY-UeeCx0_WKMOGNDG4VHl8Zpp5YsztBX6t8NioTaDpadJZYLK_wo68wVPprADMCdniMlReo3U6gTk1jDMGUcfzWX0oGMpqEqzrZhFtctAybL8KAb9wud78M",
        });
        let signature = URL_SAFE_NO_PAD
            .decode("rYXcWffJK7adpR2o6qpWe7bqOa8f9hv9wlAMH1oGxET1B9o1NuQKUG8zo2rVuyPOYucHhDJZq-IQRAL3HPg264f0W_6D3DLP35QO0s5SOVjnOm_P0m4MCE2F7g7SnBH7RejQuqRrrz6Jpx7_LEWIh9Krkr4ApzS8dwhnGnP2P_M")
            .unwrap();
        let alg = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
        let theirs: CoreJsonWebKey = serde_json::from_value(jwk.clone()).unwrap();
        assert_eq!(theirs.verify_signature(&alg, MESSAGE, &signature), Ok(()));
        assert!(matches!(
            key(jwk).verify_signature(&alg, MESSAGE, &signature),
            Err(SignatureVerificationError::CryptoError(_))
        ));
    }

    #[test]
    fn the_key_set_serialises_as_the_provider_published_it() {
        let (jwk, _) = rsa(KeySize::Rsa2048, &signature::RSA_PKCS1_SHA256);
        assert_eq!(serde_json::to_value(key(jwk.clone())).unwrap(), jwk);
    }
}
