//! The Ed25519 key that signs audit-log checkpoints.
//!
//! The signing key is derived from the operator's master key (purpose `kiban/audit-checkpoint`), so it is
//! never stored: whoever can sign a checkpoint holds the master key. The public half is safe to print and
//! to give to auditors, who verify checkpoints without any secret.

use std::fmt;

use ed25519_dalek::{Signer as _, SigningKey};

use crate::SecretKey;

/// Signs audit checkpoints. `Debug` prints only the public key.
pub struct CheckpointSigner(SigningKey);

impl CheckpointSigner {
    const PURPOSE: &'static str = "kiban/audit-checkpoint";

    /// The checkpoint signer of the deployment whose master key is `master`.
    pub fn derive_from(master: &SecretKey) -> CheckpointSigner {
        let seed = master.derive(Self::PURPOSE, b"");
        CheckpointSigner(SigningKey::from_bytes(&seed.bytes))
    }

    /// The Ed25519 public key (32 bytes) that verifies this signer's checkpoints.
    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The Ed25519 signature (64 bytes) of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CheckpointSigner(public {}, ***)", hex::encode(self.public_key()))
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};

    use super::*;
    use crate::KEY_LEN;

    #[test]
    fn signatures_verify_under_the_derived_public_key_only() {
        let signer = CheckpointSigner::derive_from(&SecretKey::from_bytes([1; KEY_LEN]));
        let other = CheckpointSigner::derive_from(&SecretKey::from_bytes([2; KEY_LEN]));
        let signature = Signature::from_bytes(&signer.sign(b"head"));
        let public = VerifyingKey::from_bytes(&signer.public_key()).expect("valid point");
        assert!(public.verify(b"head", &signature).is_ok());
        assert!(public.verify(b"head2", &signature).is_err());
        let other_public = VerifyingKey::from_bytes(&other.public_key()).expect("valid point");
        assert!(other_public.verify(b"head", &signature).is_err());
        assert!(format!("{signer:?}").ends_with("***)"));
    }
}
